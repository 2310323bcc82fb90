"""One interface for every landmark detector, and the gap filling shared by their callers.

A :class:`LandmarkSource` turns frames into iBUG-68 landmarks (y down, pixels of the frames it was
given). A frame without a face is kept, marked invalid with NaN landmarks, so that frame indices
stay aligned with the video; :func:`interpolate_invalid` fills such gaps over time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from gsmoothface.errors import InputError

N_LANDMARKS = 68  # iBUG-68 points
LandmarkKind = Literal["sidecar", "fan", "dlib"]
KINDS: tuple[str, ...] = ("sidecar", "fan", "dlib")


@runtime_checkable
class LandmarkSource(Protocol):
    """A landmark detector (or reader) with a name recorded next to the results."""

    name: str

    def detect(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of a batch of frames.

        Parameters
        ----------
        frames: (n, H, W, 3) uint8 RGB.

        Returns
        -------
        lm68: (n, 68, 2) float32, x right, y down, pixels of ``frames``; NaN where invalid.
        valid: (n,) bool, False where no face was found.
        """
        ...


def open_landmark_source(
    kind: str,
    clip_dir: Path | None = None,
    fan_weights: Path | None = None,
    device: str = "cpu",
) -> LandmarkSource:
    """Build the landmark source named ``kind``.

    Parameters
    ----------
    kind: ``sidecar`` (``<clip_dir>/landmarks.npz``), ``fan`` (face-alignment FAN 2D-68 with the
        S3FD detector; local weights only) or ``dlib`` (dlib's iBUG 68-point predictor shipped in
        ``face_recognition_models``; no download).
    clip_dir: the clip folder (needed by ``sidecar``).
    fan_weights: the FAN checkpoint ``2DFAN4-11f355bf06.pth.tar`` or a folder holding it and
        ``s3fd-619a316812.pth``; ``None`` looks in ``$TORCH_HOME/hub/checkpoints``.
    device: torch device for ``fan`` (``cpu`` or ``cuda``).
    """
    if kind == "sidecar":
        from gsmoothface.landmarks.sidecar import SidecarSource

        if clip_dir is None:
            raise InputError("the sidecar landmark source needs the clip folder holding landmarks.npz")
        return SidecarSource(Path(clip_dir) / "landmarks.npz")
    if kind == "fan":
        from gsmoothface.landmarks.fan import FanSource

        return FanSource(fan_weights, device=device)
    if kind == "dlib":
        from gsmoothface.landmarks.dlib68 import DlibSource

        return DlibSource()
    raise InputError(f"unknown landmark source '{kind}' (available: {', '.join(KINDS)})")


def interpolate_invalid(lm68: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill invalid frames by linear interpolation over time, holding the first/last valid frame.

    Parameters
    ----------
    lm68: (T, 68, 2) landmarks; values of invalid frames are ignored.
    valid: (T,) bool.

    Returns
    -------
    (T, 68, 2) float32 with every frame filled.

    Raises
    ------
    InputError: no frame is valid (no face anywhere).
    """
    lm68 = np.asarray(lm68, dtype=np.float32)
    valid = np.asarray(valid, dtype=bool)
    if lm68.shape[0] != valid.shape[0]:
        raise InputError(f"landmarks have {lm68.shape[0]} frames but valid has {valid.shape[0]}")
    if not valid.any():
        raise InputError("no face found in any frame: nothing to interpolate from")
    if valid.all():
        return lm68.copy()
    t = np.arange(len(valid))
    flat = lm68.reshape(len(valid), -1)  # (T, 136)
    filled = np.empty_like(flat)
    for k in range(flat.shape[1]):  # 136 coordinates, each interpolated over all frames at once
        filled[:, k] = np.interp(t, t[valid], flat[valid, k])
    return filled.reshape(lm68.shape)
