"""Expression prediction for audio of any length: overlapping windows, cross-faded.

The released demo cuts audio into independent 24 s chunks, so the expression sequence jumps where
chunks meet and the ALiBi mask caps a chunk at 600 frames. Here the frame sequence is covered by
windows of ``predict_window`` frames that overlap by ``predict_overlap`` frames; each window is
decoded autoregressively from the style token, and consecutive windows are blended with linear
cross-fade weights across the overlap. The periodic positional codes make any window length valid
(the recipe's is 600 frames); on the embedded demo, windows of the training length were the most
accurate (held-out clips of each speaker joined: lip vertex error 1.32 mm at 50 frames, 1.38 mm
at 600).
Windows are decoded ``predict_batch`` at a time, so memory does not grow with the audio length.

In a pause of the audio the face holds still: the autoregressive decoder, fed the same silence
frame after frame, still drifts (on held-out synthetic clips its mouth moved 3.1x as much as the
truth's in silence, and most at the start of a window). :func:`hold_pauses` replaces the
prediction inside each pause by the face at rest (the median of the prediction for a window of
digital silence: the same in every pause), faded in and out over ``pause_hold`` frames so the
mouth still closes into the pause and opens out of it as the prediction says.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gsmoothface.a2ep.model import A2EP
from gsmoothface.audio.features import AudioFrontend, hop_and_window, n_feature_frames, to_frame_rate
from gsmoothface.audio.phonetic import audio_pauses, true_runs
from gsmoothface.errors import InputError


def window_starts(n_frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of windows covering ``n_frames``; the last one ends at ``n_frames``."""
    if n_frames <= window:
        return [0]
    hop = window - overlap
    starts = list(range(0, n_frames - window, hop))
    return [*starts, n_frames - window]


def crossfade_weights(length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """(length,) weights rising linearly over ``fade_in`` frames and falling over ``fade_out``."""
    w = np.ones(length, dtype=np.float64)
    if fade_in:
        w[:fade_in] = np.minimum(w[:fade_in], (np.arange(fade_in) + 1) / (fade_in + 1))
    if fade_out:
        w[length - fade_out :] = np.minimum(
            w[length - fade_out :], (fade_out - np.arange(fade_out)) / (fade_out + 1)
        )
    return w


def speaker_code(speakers: list[str], speaker: str | None) -> np.ndarray:
    """(S,) style code: the one-hot of a training speaker, or the mean style for ``None``/``"mean"``.

    The style layer is linear, so the uniform code gives the average of the training speakers'
    styles, which is what an unseen speaker gets.
    """
    if speaker is None or speaker == "mean":
        return np.full(len(speakers), 1.0 / len(speakers), dtype=np.float32)
    if speaker not in speakers:
        raise InputError(
            f"speaker '{speaker}' was not a training speaker; choose one of: {', '.join(speakers)}, mean"
        )
    return np.eye(len(speakers), dtype=np.float32)[speakers.index(speaker)]


@torch.no_grad()
def predict_expressions(
    model: A2EP,
    features: np.ndarray,
    speaker: np.ndarray,
    window: int,
    overlap: int,
    batch: int = 16,
    use_cache: bool = True,
) -> np.ndarray:
    """Predict expressions for a whole sequence of audio features at the video frame rate.

    Parameters
    ----------
    model: a trained A2EP (switched to eval mode here).
    features: (T, C) audio features already at the video frame rate.
    speaker: (S,) style code (see :func:`speaker_code`).
    window, overlap: window length and cross-faded overlap, frames (``overlap < window``).
    batch: windows decoded together.
    use_cache: key/value-cached decoding (fixed mode and faithful mode give the same result either way).

    Returns
    -------
    (T, 64) float32 expression coefficients.
    """
    if not 0 <= overlap < window:
        raise InputError(f"a2ep.predict_overlap={overlap} must be in [0, predict_window={window})")
    model.eval()
    device = next(model.parameters()).device
    n = features.shape[0]
    starts = window_starts(n, window, overlap)
    length = min(window, n)
    total = np.zeros((n, model.cfg.exp_dim), dtype=np.float64)
    weight = np.zeros((n, 1), dtype=np.float64)
    code = torch.as_tensor(speaker, dtype=torch.float32, device=device)
    for first in range(0, len(starts), batch):
        chunk = starts[first : first + batch]
        feats = torch.from_numpy(np.stack([features[s : s + length] for s in chunk])).to(device)  # (b, W, C)
        pred = (
            model.predict(feats, code.expand(len(chunk), -1), use_cache=use_cache).cpu().numpy()
        )  # (b, W, 64)
        for j, s in enumerate(chunk):
            k = first + j
            fade_in = starts[k - 1] + length - s if k > 0 else 0
            fade_out = s + length - starts[k + 1] if k + 1 < len(starts) else 0
            w = crossfade_weights(length, fade_in, fade_out)[:, None]
            total[s : s + length] += w * pred[j]
            weight[s : s + length] += w
    return (total / weight).astype(np.float32)


def predict_audio(
    model: A2EP,
    info: dict[str, Any],
    frontend: AudioFrontend,
    audio: np.ndarray,
    speaker: str | None,
    use_cache: bool = True,
) -> np.ndarray:
    """Audio (S,) at ``info['sample_rate']`` -> (round(S / sample_rate * fps), 64) expressions."""
    if frontend.dim != info["feature_dim"]:
        raise InputError(
            f"the audio front end gives {frontend.dim}-d features; the model needs {info['feature_dim']}-d"
        )
    fps, rate = info["fps"], info["sample_rate"]
    n_frames = round(audio.shape[0] / rate * fps)
    if n_frames < 1:
        raise InputError("audio shorter than one video frame")
    features = to_frame_rate(frontend(audio), n_frames, fps, rate)  # (T, C)
    cfg = model.cfg
    code = speaker_code(info["speakers"], speaker)
    exp = predict_expressions(
        model, features, code, cfg.predict_window, cfg.predict_overlap, cfg.predict_batch, use_cache
    )
    if cfg.pause_hold <= 0:
        return exp
    hop, win = hop_and_window(rate)
    pause = audio_pauses(audio, rate, hop, win, n_feature_frames(audio.shape[0], rate))
    held = to_frame_rate(pause[:, None].astype(np.float32), n_frames, fps, rate)[:, 0] > 0.5
    if not held.any():
        return exp
    silence = np.zeros(round(cfg.predict_window / fps * rate) + win, np.float32)
    rest = predict_expressions(
        model, to_frame_rate(frontend(silence), cfg.predict_window, fps, rate), code, cfg.predict_window, 0
    )
    return hold_pauses(exp, held, cfg.pause_hold, np.median(rest, axis=0))


def hold_pauses(exp: np.ndarray, pause: np.ndarray, fade: int, rest: np.ndarray) -> np.ndarray:
    """Hold the expression ``rest`` through each pause.

    Parameters
    ----------
    exp: (T, D) predicted expressions.
    pause: (T,) bool, the frames in a pause.
    fade: frames from a pause's edge to where ``rest`` fully replaces the prediction; a pause at the
        start or end of the audio is held up to its edge.
    rest: (D,) the face at rest: the prediction for silence (the same in every pause).

    Returns
    -------
    (T, D) float32.
    """
    out = exp.astype(np.float32).copy()
    n = len(pause)
    for start, stop in true_runs(pause):
        frames = np.arange(start, stop)
        inside = np.full(len(frames), np.inf)  # frames from the nearest edge that meets speech
        if start > 0:
            inside = np.minimum(inside, frames - start + 1)
        if stop < n:
            inside = np.minimum(inside, stop - frames)
        w = np.clip(inside / (fade + 1), 0.0, 1.0)[:, None]
        out[start:stop] = w * rest + (1.0 - w) * exp[start:stop]
    return out
