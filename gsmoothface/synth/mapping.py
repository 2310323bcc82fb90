"""The speech -> mouth mapping of the synthetic speakers (what A2EP has to learn).

The mouth articulates the phonemes the voice speaks: :func:`gsmoothface.visemes.coarticulate`
turns the timed phones into ``jaw``/``round``/``stretch`` controls (visemes blended by dominance
functions, leading the sound). A speaker's style then scales them, and the delivery of the
utterance modulates the amplitude:

    jaw[t]     = clip(bias + scale * gain[t] * jaw_v[t], 0, 1)
    round[t]   = clip(round_gain * gain[t] * round_v[t], 0, 1)
    stretch[t] = clip(stretch_gain * gain[t] * stretch_v[t], 0, 1)
    gain[t]    = pitch_gain * (1 - loudness_weight + loudness_weight * L[t + lead])

with ``L`` the loudness envelope (RMS in dB below the utterance's loudest frame, mapped from
``[-range_db, 0]`` to ``[0, 1]``) and ``pitch_gain`` growing with the voice's pitch: louder and
higher speech moves the mouth more, but what shape it takes comes from the phonemes alone, so lips
close for p, b and m inside loud words and open for "ah" at any loudness.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from gsmoothface.espeak import Phone
from gsmoothface.visemes import coarticulate

SAMPLE_RATE = 16000  # Hz
FPS = 25  # video frames per second
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640 audio samples per video frame
WINDOW = 1024  # loudness window (64 ms) centred on each frame


@dataclasses.dataclass(frozen=True)
class SpeakingStyle:
    """Per-speaker style of the speech -> mouth mapping (dimensionless, 1 = the model's full shape)."""

    scale: float  # gain of jaw opening
    bias: float  # rest opening (negative: a dead zone for small openings)
    round_gain: float  # lip rounding of a fully rounded viseme
    stretch_gain: float  # lip spreading of a fully spread viseme
    smile: float  # constant smile of this speaker (coefficient units, see expression.py)


def frame_windows(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """Hann-windowed analysis frames centred on each video frame: (T, WINDOW) float64."""
    centres = (np.arange(n_frames) + 0.5) * SAMPLES_PER_FRAME
    starts = np.round(centres - WINDOW / 2).astype(np.int64)
    padded = np.pad(audio.astype(np.float64), (WINDOW, WINDOW))
    index = starts[:, None] + WINDOW + np.arange(WINDOW)[None, :]  # (T, WINDOW)
    return padded[index] * np.hanning(WINDOW)[None, :]


def loudness_envelope(audio: np.ndarray, n_frames: int, range_db: float = 40.0) -> np.ndarray:
    """Loudness per video frame in [0, 1] (1 = the loudest frame): (T,) float64."""
    windows = frame_windows(audio, n_frames)
    rms_db = 10.0 * np.log10(np.mean(windows**2, axis=1) + 1e-12)
    return np.clip(1.0 + (rms_db - rms_db.max()) / range_db, 0.0, 1.0)


def lead_shift(x: np.ndarray, lead: float) -> np.ndarray:
    """``y[t] = x[t + lead]`` by linear interpolation, holding the edge values."""
    t = np.arange(len(x), dtype=np.float64)
    return np.interp(t + lead, t, x)


def mouth_controls(
    phones: list[Phone],
    audio: np.ndarray,
    n_frames: int,
    style: SpeakingStyle,
    pitch_gain: float = 1.0,
    lead: float = 1.0,
    loudness_weight: float = 0.3,
    range_db: float = 40.0,
) -> dict[str, np.ndarray]:
    """Mouth controls of every video frame (the mapping of the module docstring).

    Parameters
    ----------
    phones: the utterance's phones, in seconds of ``audio``.
    audio: (S,) float mono at 16 kHz, S >= T * 640.
    n_frames: T.
    style: the speaker's speaking style.
    pitch_gain: amplitude factor of this utterance's pitch.
    lead: frames the gesture precedes the sound.
    loudness_weight: share of the amplitude that follows the loudness envelope.

    Returns
    -------
    ``jaw``, ``round``, ``stretch`` (T,) float64 in [0, 1], the visemes before style
    (``jaw_viseme`` ...) and the ``loudness`` envelope (T,).
    """
    times = (np.arange(n_frames) + 0.5) / FPS  # frame centres, s
    visemes = coarticulate(phones, times, lead=lead / FPS)
    loudness = loudness_envelope(audio, n_frames, range_db)
    level = np.clip(lead_shift(ndimage.gaussian_filter1d(loudness, 1.0, mode="nearest"), lead), 0.0, 1.0)
    gain = pitch_gain * (1.0 - loudness_weight + loudness_weight * level)
    jaw = np.clip(style.bias + style.scale * gain * visemes["jaw"], 0.0, 1.0)
    rounding = np.clip(style.round_gain * gain * visemes["round"], 0.0, 1.0)
    stretch = np.clip(style.stretch_gain * gain * visemes["stretch"], 0.0, 1.0)
    return {
        "jaw": jaw,
        "round": rounding,
        "stretch": stretch,
        **{f"{k}_viseme": v for k, v in visemes.items()},
        "loudness": loudness,
    }
