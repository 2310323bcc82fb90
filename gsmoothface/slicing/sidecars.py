"""Carry a source video's sidecar files through the time cut, crop and resize of a clip.

``<video>.landmarks.npz`` {lm68 (T,68,2), valid (T,)} and ``<video>.truth.npz`` {coeff (T,257),
trans_params (T,5), lm68 (T,68,2) noise-free} are in source frames and pixels. In the clip they are
indexed by clip frame and in clip pixels; ``trans_params`` (Deep3DFace ``align_img`` of the frame)
are recomputed on the clip frame from the noise-free landmarks, so the coefficients still project
onto the clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError
from gsmoothface.landmarks.sidecar import read_sidecar
from gsmoothface.slicing.geometry import Box, to_clip_pixels


def sidecar_paths(video: Path) -> dict[str, Path]:
    """The sidecars that exist next to ``video``: {'landmarks': ..., 'truth': ...}."""
    found = {}
    for kind in ("landmarks", "truth"):
        path = video.with_name(f"{video.stem}.{kind}.npz")
        if path.is_file():
            found[kind] = path
    return found


def source_indices(n_frames: int, start_s: float, fps: float, source_fps: float, n_source: int) -> np.ndarray:
    """Source frame shown at each clip frame: the one at time ``start_s + j / fps``.

    Returns
    -------
    (n_frames,) int64, clipped to the source's frames.
    """
    times = start_s + np.arange(n_frames) / fps
    return np.clip(np.round(times * source_fps + 1e-6).astype(np.int64), 0, n_source - 1)


def carry_landmarks(
    path: Path, n_frames: int, start_s: float, fps: float, source_fps: float, box: Box, size: int
) -> dict[str, np.ndarray]:
    """Landmark sidecar of a clip: {lm68 (n,68,2) f32 clip px, valid (n,) bool}."""
    lm68, valid = read_sidecar(path)
    idx = source_indices(n_frames, start_s, fps, source_fps, len(lm68))
    return {"lm68": to_clip_pixels(lm68[idx], box, size), "valid": valid[idx]}


def carry_truth(
    path: Path, n_frames: int, start_s: float, fps: float, source_fps: float, box: Box, size: int
) -> dict[str, np.ndarray]:
    """Ground-truth sidecar of a clip, with ``lm68`` in clip pixels and ``trans_params`` refitted.

    Arrays with one entry per source frame are indexed by clip frame; others are copied.
    """
    from gsmoothface.landmarks.align import estimate_trans_params_batch

    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    if "lm68" not in arrays or "coeff" not in arrays:
        raise InputError(f"{path}: truth sidecar needs coeff (T,257) and lm68 (T,68,2)")
    n_source = len(arrays["lm68"])
    idx = source_indices(n_frames, start_s, fps, source_fps, n_source)
    out = {}
    for key, value in arrays.items():
        out[key] = value[idx] if value.ndim and len(value) == n_source else value
    out["lm68"] = to_clip_pixels(out["lm68"], box, size)
    out["trans_params"] = np.asarray(estimate_trans_params_batch(out["lm68"], size, size), np.float64)
    return out
