"""Deep3DFace 5-point alignment: landmarks -> ``trans_params`` -> the 224 aligned crop, and back.

Re-implements ``align_img`` of Deep3DFaceRecon (util/preprocess.py): a POS (pose from orthography
and scaling) least-squares fit of the five detected points to the five standard 3D points, the
scale ``s = 102 / s_pos``, a Pillow bicubic resize by ``s`` and a 224 crop (zero padding outside the
frame). ``trans_params = [W0, H0, s, t0, t1]`` (float64) describes the warp of a W0 x H0 frame.

Conventions: inputs and outputs here are y-DOWN pixel coordinates (pixel centre = integer); the
y-up flips Deep3DFace applies (``y_up = H0 - 1 - y`` in the frame, ``row = 223 - v`` in the crop)
happen inside. Alignment uses the integer resize/crop of the original, so the crop image and the
landmark mapping may disagree by up to about one pixel.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from gsmoothface.face_model.camera import LM3D_5, RASTER_SIZE, RESCALE_FACTOR

FIVE_POINT_PAIRS = ((36, 39), (42, 45))  # 0-based iBUG eye corners whose means are the eye centres
NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = 30, 48, 54  # 0-based iBUG indices


def extract_5p(lm68: np.ndarray) -> np.ndarray:
    """Five points (..., 5, 2) from iBUG-68 landmarks (..., 68, 2): eye centres, nose tip, mouth corners."""
    lm68 = np.asarray(lm68)
    eyes = [lm68[..., list(pair), :].mean(axis=-2) for pair in FIVE_POINT_PAIRS]
    return np.stack(
        [*eyes, lm68[..., NOSE_TIP, :], lm68[..., MOUTH_LEFT, :], lm68[..., MOUTH_RIGHT, :]], axis=-2
    )


def _pos_pinv() -> np.ndarray:
    """Pseudo-inverse (8, 10) of POS's design matrix: rows [X Y Z 1 0 0 0 0] and [0 0 0 0 X Y Z 1]."""
    lm3d = np.asarray(LM3D_5, dtype=np.float64)  # (5, 3)
    design = np.zeros((10, 8))
    design[0::2, 0:3] = lm3d
    design[0::2, 3] = 1.0
    design[1::2, 4:7] = lm3d
    design[1::2, 7] = 1.0
    return np.linalg.pinv(design)


_POS_PINV = _pos_pinv()


def estimate_trans_params_batch(lm: np.ndarray, width: int, height: int) -> np.ndarray:
    """``trans_params`` (T, 5) float64 of T frames' landmarks (T, 68|5, 2), y-down frame pixels.

    The 3D points are fixed, so POS's least squares for every frame is one product with a
    precomputed pseudo-inverse.
    """
    lm = np.asarray(lm, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1] not in (5, 68) or lm.shape[2] != 2:
        raise ValueError(f"landmarks must have shape (T, 68 or 5, 2), got {lm.shape}")
    lm5 = lm if lm.shape[1] == 5 else extract_5p(lm)
    lm5_yup = np.stack([lm5[..., 0], (height - 1) - lm5[..., 1]], axis=-1)  # (T, 5, 2)
    k = lm5_yup.reshape(len(lm5), 10) @ _POS_PINV.T  # (T, 8): interleaved x, y rows -> POS unknowns
    s_pos = 0.5 * (np.linalg.norm(k[:, 0:3], axis=1) + np.linalg.norm(k[:, 4:7], axis=1))
    params = np.empty((len(lm5), 5))
    params[:, 0] = width
    params[:, 1] = height
    params[:, 2] = RESCALE_FACTOR / s_pos
    params[:, 3] = k[:, 3]
    params[:, 4] = k[:, 7]
    return params


def estimate_trans_params(lm: np.ndarray, width: int, height: int) -> np.ndarray:
    """``trans_params`` (5,) = [W0, H0, s, t0, t1] of one frame's landmarks (68|5, 2), y-down pixels."""
    return estimate_trans_params_batch(np.asarray(lm)[None], width, height)[0]


def _crop_geometry(trans_params: np.ndarray, size: int) -> tuple[int, int, int, int, float]:
    """Resized frame size (w, h), crop origin (left, up) and scale, truncated as Deep3DFace does."""
    w0, h0, s, t0, t1 = (float(v) for v in trans_params)
    s = s * size / RASTER_SIZE  # a larger crop keeps the 224 crop's field of view
    w, h = int(w0 * s), int(h0 * s)
    left = int(w / 2 - size / 2 + (t0 - w0 / 2) * s)
    up = int(h / 2 - size / 2 + (h0 / 2 - t1) * s)
    return w, h, left, up, s


def align_image(img: np.ndarray, trans_params: np.ndarray, size: int = RASTER_SIZE) -> np.ndarray:
    """Warp a frame (H0, W0, 3) uint8 to the aligned crop (size, size, 3) uint8.

    Pillow bicubic resize (antialiased when shrinking, as Deep3DFace's training data) then a crop
    with zeros outside the frame. ``size`` other than 224 keeps the same field of view.
    """
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    if (img.shape[1], img.shape[0]) != (int(trans_params[0]), int(trans_params[1])):
        raise ValueError(
            f"image is {img.shape[1]}x{img.shape[0]} but trans_params describe {trans_params[:2]}"
        )
    w, h, left, up, _ = _crop_geometry(np.asarray(trans_params), size)
    resized = Image.fromarray(img).resize((w, h), resample=Image.Resampling.BICUBIC)
    return np.asarray(resized.crop((left, up, left + size, up + size)))


def _components(trans_params: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Per-point broadcastable w0, h0, s, t0, t1, w, h for (5,) or (..., 5) trans_params."""
    tp = np.asarray(trans_params, dtype=np.float64)
    scale = tp[..., 2] * size / RASTER_SIZE
    w, h = np.trunc(tp[..., 0] * scale), np.trunc(tp[..., 1] * scale)
    parts = (tp[..., 0], tp[..., 1], scale, tp[..., 3], tp[..., 4], w, h)
    return parts if tp.ndim == 1 else tuple(p[..., None] for p in parts)


def points_to_crop(pts: np.ndarray, trans_params: np.ndarray, size: int = RASTER_SIZE) -> np.ndarray:
    """Frame pixels (..., 2) y-down -> aligned-crop pixels (..., 2) y-down, float64.

    ``trans_params`` is (5,) for all points, or (B..., 5) for points (B..., P, 2).
    """
    pts = np.asarray(pts, dtype=np.float64)
    w0, h0, s, t0, t1, w, h = _components(trans_params, size)
    y_up = (h0 - 1) - pts[..., 1]
    x = (pts[..., 0] - t0 + w0 / 2) * s - (w / 2 - size / 2)
    v = (y_up - t1 + h0 / 2) * s - (h / 2 - size / 2)
    return np.stack([x, (size - 1) - v], axis=-1)


def points_from_crop(pts: np.ndarray, trans_params: np.ndarray, size: int = RASTER_SIZE) -> np.ndarray:
    """Aligned-crop pixels (..., 2) y-down -> frame pixels (..., 2) y-down, float64 (inverse of
    :func:`points_to_crop`)."""
    pts = np.asarray(pts, dtype=np.float64)
    w0, h0, s, t0, t1, w, h = _components(trans_params, size)
    v = (size - 1) - pts[..., 1]
    x = (pts[..., 0] + w / 2 - size / 2) / s + t0 - w0 / 2
    y_up = (v + h / 2 - size / 2) / s + t1 - h0 / 2
    return np.stack([x, (h0 - 1) - y_up], axis=-1)
