"""Landmarks from a sidecar file (``landmarks.npz``: the demo's, or a user's own detections)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError


def read_sidecar(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a landmark sidecar.

    Returns
    -------
    lm68: (T, 68, 2) float32, y down, pixels of the video the sidecar belongs to; NaN where invalid.
    valid: (T,) bool (all True when the file has no ``valid`` array).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: landmark sidecar not found")
    try:
        with np.load(path) as data:
            lm68 = np.asarray(data["lm68"], dtype=np.float32)
            valid = np.asarray(data["valid"], dtype=bool) if "valid" in data else np.ones(len(lm68), bool)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a landmark sidecar (needs lm68 (T,68,2), valid (T,)): {exc}") from None
    if lm68.ndim != 3 or lm68.shape[1:] != (68, 2) or valid.shape != (len(lm68),):
        raise InputError(f"{path}: lm68 must be (T,68,2) and valid (T,), got {lm68.shape} and {valid.shape}")
    valid = valid & np.isfinite(lm68).all(axis=(1, 2))
    lm68[~valid] = np.nan
    return lm68, valid


class SidecarSource:
    """Replays a sidecar: successive :meth:`detect` calls return successive frames."""

    name = "sidecar"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lm68, self.valid = read_sidecar(self.path)
        self.position = 0

    def detect(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next ``len(frames)`` frames of the sidecar (frames are used only for their count)."""
        start, stop = self.position, self.position + len(frames)
        if stop > len(self.lm68):
            raise InputError(
                f"{self.path}: sidecar has {len(self.lm68)} frames, asked for frames {start}..{stop - 1}"
            )
        self.position = stop
        return self.lm68[start:stop].copy(), self.valid[start:stop].copy()
