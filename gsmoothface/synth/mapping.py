"""The fixed audio -> mouth mapping of the synthetic speakers (what A2EP has to learn).

For video frame t (25 fps, 640 samples per frame at 16 kHz) the audio gives two features:

- loudness ``L[t]``: RMS of a 64 ms Hann window centred on the frame, in dB below the utterance's
  loudest frame, mapped linearly from ``[-range_db, 0]`` to ``[0, 1]``;
- spectral tilt ``Z[t]``: log energy ratio of 2.5-6 kHz to 0.3-1.2 kHz, standardised over the
  utterance's voiced frames (``L > 0.3``): high for /s/, /i/, low for /u/, /o/.

Both are smoothed (Gaussian, ``smooth`` frames) and read ``lead`` frames ahead, because the mouth
moves before the sound it makes (about 80 ms, coarticulation). With a speaker's style
(``scale``, ``bias``, ``round_gain``, ``stretch_gain``):

    jaw[t]     = clip(bias + scale * L[t + lead] ** 0.8, 0, 1)
    round[t]   = round_gain   * L[t + lead] * sigmoid(-1.5 * Z[t + lead])
    stretch[t] = clip(stretch_gain * L[t + lead] * sigmoid(1.5 * Z[t + lead]), 0, 1)

The mapping is deterministic and causal-with-lookahead, nonlinear, and speaker-dependent: a model
must see a short audio context and the speaker identity to predict it, and it cannot copy one
feature to one coefficient. :mod:`gsmoothface.synth.expression` turns these controls into
expression coefficients of the face model.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

SAMPLE_RATE = 16000  # Hz
FPS = 25  # video frames per second
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640 audio samples per video frame
WINDOW = 1024  # analysis window (64 ms) centred on each frame
VOICED = 0.3  # loudness above which a frame counts as voiced (for the tilt statistics)


@dataclasses.dataclass(frozen=True)
class SpeakingStyle:
    """Per-speaker style of the audio -> mouth mapping (dimensionless, 1 = the model's full shape)."""

    scale: float  # gain of jaw opening with loudness
    bias: float  # rest opening (negative: a dead zone for quiet sounds)
    round_gain: float  # lip rounding at full loudness of a dark (low-tilt) sound
    stretch_gain: float  # lip stretching at full loudness of a bright (high-tilt) sound
    smile: float  # constant smile of this speaker (coefficient units, see expression.py)


def frame_windows(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """Hann-windowed analysis frames centred on each video frame.

    Parameters
    ----------
    audio: (S,) float mono at 16 kHz.
    n_frames: number of video frames T.

    Returns
    -------
    (T, WINDOW) float64.
    """
    centres = (np.arange(n_frames) + 0.5) * SAMPLES_PER_FRAME
    starts = np.round(centres - WINDOW / 2).astype(np.int64)
    padded = np.pad(audio.astype(np.float64), (WINDOW, WINDOW))
    index = starts[:, None] + WINDOW + np.arange(WINDOW)[None, :]  # (T, WINDOW)
    return padded[index] * np.hanning(WINDOW)[None, :]


def loudness_envelope(audio: np.ndarray, n_frames: int, range_db: float = 40.0) -> np.ndarray:
    """Loudness per video frame in [0, 1] (1 = the utterance's loudest frame).

    Returns
    -------
    (T,) float64: ``clip(1 + (dB - max dB) / range_db, 0, 1)`` of the windowed RMS.
    """
    windows = frame_windows(audio, n_frames)
    rms_db = 10.0 * np.log10(np.mean(windows**2, axis=1) + 1e-12)
    return np.clip(1.0 + (rms_db - rms_db.max()) / range_db, 0.0, 1.0)


def spectral_tilt(audio: np.ndarray, n_frames: int, loudness: np.ndarray) -> np.ndarray:
    """Standardised log energy ratio of 2.5-6 kHz to 0.3-1.2 kHz per video frame.

    Returns
    -------
    (T,) float64, zero mean and unit variance over voiced frames (``loudness > 0.3``).
    """
    spectrum = np.abs(np.fft.rfft(frame_windows(audio, n_frames), axis=1)) ** 2  # (T, WINDOW/2+1)
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / SAMPLE_RATE)
    high = spectrum[:, (freqs >= 2500) & (freqs < 6000)].sum(axis=1)
    low = spectrum[:, (freqs >= 300) & (freqs < 1200)].sum(axis=1)
    tilt = np.log(high + 1e-10) - np.log(low + 1e-10)
    voiced = loudness > VOICED
    if voiced.sum() < 2:
        return np.zeros(n_frames)
    centre, spread = np.median(tilt[voiced]), tilt[voiced].std() + 1e-6
    return np.clip((tilt - centre) / spread, -4.0, 4.0)


def lead_shift(x: np.ndarray, lead: float) -> np.ndarray:
    """``y[t] = x[t + lead]`` by linear interpolation, holding the edge values."""
    t = np.arange(len(x), dtype=np.float64)
    return np.interp(t + lead, t, x)


def mouth_controls(
    audio: np.ndarray,
    n_frames: int,
    style: SpeakingStyle,
    lead: float = 2.0,
    smooth: float = 1.0,
    range_db: float = 40.0,
) -> dict[str, np.ndarray]:
    """Mouth controls driven by the audio (the mapping of the module docstring).

    Parameters
    ----------
    audio: (S,) float mono at 16 kHz, S >= T * 640.
    n_frames: T.
    style: the speaker's speaking style.
    lead: frames the mouth moves ahead of the sound.
    smooth: Gaussian sigma (frames) applied to the features.

    Returns
    -------
    dict with ``jaw``, ``round``, ``stretch`` (T,) float64 in [0, 1], and the features
    ``loudness`` and ``tilt`` (T,) before smoothing and lead.
    """
    loudness = loudness_envelope(audio, n_frames, range_db)
    tilt = spectral_tilt(audio, n_frames, loudness)
    level = lead_shift(ndimage.gaussian_filter1d(loudness, smooth, mode="nearest"), lead)
    bright = lead_shift(ndimage.gaussian_filter1d(tilt, smooth, mode="nearest"), lead)
    level = np.clip(level, 0.0, 1.0)
    jaw = np.clip(style.bias + style.scale * level**0.8, 0.0, 1.0)
    rounding = np.clip(style.round_gain * level * _sigmoid(-1.5 * bright), 0.0, 1.0)
    stretch = np.clip(style.stretch_gain * level * _sigmoid(1.5 * bright), 0.0, 1.0)
    return {"jaw": jaw, "round": rounding, "stretch": stretch, "loudness": loudness, "tilt": tilt}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
