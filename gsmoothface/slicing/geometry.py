"""Crop-box geometry: one stable square box per clip from landmarks, and the clip pixel mapping.

Like HDTF, a clip gets one fixed window (no per-frame tracking, so the background stays still):
the median landmark box over sampled frames, enlarged by ``crop_scale``, moved up by
``crop_shift`` (landmarks stop at the brows; the window should hold the whole head), widened to hold
every sampled face, and kept inside the frame.
"""

from __future__ import annotations

import numpy as np

from gsmoothface.errors import InputError

Box = tuple[int, int, int]  # (x0, y0, side) in source pixels


def landmark_boxes(lm68: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-frame landmark boxes of the valid frames.

    Parameters
    ----------
    lm68: (n, 68, 2) y-down pixels.
    valid: (n,) bool.

    Returns
    -------
    (m, 4) float64 [x_min, y_min, x_max, y_max] for the m valid frames.
    """
    points = np.asarray(lm68, np.float64)[np.asarray(valid, bool)]  # (m, 68, 2)
    return np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1)


def crop_box_from_landmarks(
    lm68: np.ndarray,
    valid: np.ndarray,
    width: int,
    height: int,
    scale: float = 2.4,
    shift: float = 0.1,
    margin: float = 0.05,
) -> Box:
    """One square crop box for a clip.

    Parameters
    ----------
    lm68, valid: landmarks of frames sampled over the clip, (n, 68, 2) and (n,).
    width, height: source frame size (px).
    scale: box side / median landmark box side.
    shift: box centre above the median landmark centre, in landmark box sides.
    margin: every sampled landmark box stays this fraction of the side inside the box (when the
        frame allows it).

    Raises
    ------
    InputError: no sampled frame has a face.
    """
    boxes = landmark_boxes(lm68, valid)
    if len(boxes) == 0:
        raise InputError("no face found in the sampled frames: cannot place a crop box")
    centre = np.median((boxes[:, :2] + boxes[:, 2:]) / 2, axis=0)
    face = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    centre[1] -= shift * face
    # half side needed to keep every sampled face inside, with a margin
    reach = np.abs(np.concatenate([boxes[:, :2] - centre, boxes[:, 2:] - centre])).max()
    side = max(scale * face, 2 * reach / (1 - 2 * margin))
    return clamp_box((centre[0] - side / 2, centre[1] - side / 2, side), width, height)


def clamp_box(box: tuple[float, float, float], width: int, height: int) -> Box:
    """Round a square box to integers and keep it inside a ``width`` x ``height`` frame.

    A box larger than the frame's short side shrinks to it (around its centre); then it is shifted
    inside, so the crop never shows padding.
    """
    x0, y0, side = box
    new_side = round(float(min(side, width, height)))
    cx, cy = x0 + side / 2, y0 + side / 2
    nx0 = round(float(min(max(cx - new_side / 2, 0), width - new_side)))
    ny0 = round(float(min(max(cy - new_side / 2, 0), height - new_side)))
    return nx0, ny0, new_side


def to_clip_pixels(points: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Map source pixel coordinates into the clip frame (crop ``box``, resize to ``size``).

    Pixel centres are integer coordinates, so the resize maps ``x + 0.5`` edges linearly:
    ``x' = (x - x0 + 0.5) * size / side - 0.5``.

    Parameters
    ----------
    points: (..., 2) x right, y down, source pixels (NaN stays NaN).
    """
    x0, y0, side = box
    k = size / side
    offset = np.array([x0, y0], np.float64)
    return ((np.asarray(points, np.float64) - offset + 0.5) * k - 0.5).astype(np.float32)
