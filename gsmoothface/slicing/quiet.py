"""Cut long spans at quiet points, so that no word is split between two clips."""

from __future__ import annotations

import math

import numpy as np


def boundary_rms(audio: np.ndarray, samples_per_frame: int, window: int) -> np.ndarray:
    """RMS energy of ``audio`` in a window of ``window`` samples centred on every frame boundary.

    Returns
    -------
    (n_frames + 1,) float64: entry b is the RMS around sample ``b * samples_per_frame``.
    """
    power = np.concatenate([[0.0], np.cumsum(np.asarray(audio, np.float64) ** 2)])  # (S + 1,)
    n_frames = len(audio) // samples_per_frame
    centres = np.arange(n_frames + 1) * samples_per_frame
    lo = np.clip(centres - window // 2, 0, len(audio))
    hi = np.clip(centres + window // 2, 0, len(audio))
    return np.sqrt((power[hi] - power[lo]) / np.maximum(hi - lo, 1))


def quiet_cuts(
    audio: np.ndarray,
    n_frames: int,
    samples_per_frame: int,
    max_frames: int,
    window: int,
    search_frames: int,
    min_frames: int = 1,
) -> list[int]:
    """Frame boundaries that cut ``n_frames`` frames into pieces of at most ``max_frames``.

    The pieces still to cut get equal target lengths; each cut is the quietest boundary (lowest
    RMS over ``window`` samples) within ``search_frames`` of its target that keeps the piece
    between ``min_frames`` and ``max_frames`` long and leaves the remaining pieces room to fit.

    Returns
    -------
    [0, c1, ..., n_frames], increasing.
    """
    rms = boundary_rms(audio, samples_per_frame, window)
    cuts = [0]
    while n_frames - cuts[-1] > max_frames:
        start, remaining = cuts[-1], n_frames - cuts[-1]
        pieces = math.ceil(remaining / max_frames)
        target = start + round(remaining / pieces)
        # the rest after the cut must fit in pieces - 1 pieces of max_frames
        lo = max(target - search_frames, start + min_frames, n_frames - (pieces - 1) * max_frames)
        hi = min(target + search_frames, start + max_frames, n_frames - min_frames)
        lo = min(lo, hi)  # only when min_frames > max_frames / 2: keep the length bound
        candidates = np.arange(lo, hi + 1)
        padded = np.pad(rms, (0, max(0, hi + 1 - len(rms))), constant_values=np.inf)
        cuts.append(int(candidates[np.argmin(padded[candidates])]))
    cuts.append(n_frames)
    return cuts
