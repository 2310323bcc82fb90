"""Crop and un-crop between a frame and its 224 aligned crop, as affine ``grid_sample`` warps.

Deep3DFace ``align_img`` resizes the W0 x H0 frame to ``w = int(W0 s)``, ``h = int(H0 s)`` (Pillow,
pixel centres at ``(i + 0.5)``) and crops 224 x 224 at ``(left, up)``:
``left = int(w/2 - 112 + (t0 - W0/2) s)``, ``up = int(h/2 - 112 + (H0/2 - t1) s)``.
GSmoothFace's ``rescale_mask_V2`` un-crops by pasting the crop back at ``(left, up)`` and resizing to
W0 x H0 (bicubic). Both are the same affine map, so here each is one ``grid_sample`` from a frame of
any size (the W0 x H0 frame resized, e.g. to the TAFT resolution) to the crop and back.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

CROP_SIZE = 224  # side of the align_img crop in px (Deep3DFace target_size)


def frame_to_crop_affine(trans_params: np.ndarray) -> np.ndarray:
    """Affine maps from frame pixels to crop pixels (both y-down, pixel centre = integer).

    Parameters
    ----------
    trans_params: (B, 5) or (5,) ``[W0, H0, s, t0, t1]`` of ``align_img``.

    Returns
    -------
    (B, 2, 3) float64 ``A`` with ``[x', y'] = A @ [x0, y0, 1]`` for W0 x H0 frame pixels.
    """
    tp = np.asarray(trans_params, dtype=np.float64).reshape(-1, 5)
    w0, h0, s, t0, t1 = tp.T
    w = np.trunc(w0 * s)  # resized frame size, int() in align_img
    h = np.trunc(h0 * s)
    left = np.trunc(w / 2 - CROP_SIZE / 2 + (t0 - w0 / 2) * s)
    up = np.trunc(h / 2 - CROP_SIZE / 2 + (h0 / 2 - t1) * s)
    sx, sy = w / w0, h / h0
    affine = np.zeros((tp.shape[0], 2, 3))
    affine[:, 0, 0] = sx
    affine[:, 0, 2] = 0.5 * sx - 0.5 - left
    affine[:, 1, 1] = sy
    affine[:, 1, 2] = 0.5 * sy - 0.5 - up
    return affine


def _rescale(scale_x: np.ndarray, scale_y: np.ndarray) -> np.ndarray:
    """(B, 3, 3) pixel-centre rescale ``x_b = (x_a + 0.5) * scale - 0.5`` between two image sizes."""
    m = np.zeros((len(scale_x), 3, 3))
    m[:, 0, 0], m[:, 0, 2] = scale_x, 0.5 * scale_x - 0.5
    m[:, 1, 1], m[:, 1, 2] = scale_y, 0.5 * scale_y - 0.5
    m[:, 2, 2] = 1.0
    return m


def _homogeneous(affine: np.ndarray) -> np.ndarray:
    """(B, 2, 3) -> (B, 3, 3)."""
    m = np.zeros((affine.shape[0], 3, 3))
    m[:, :2] = affine
    m[:, 2, 2] = 1.0
    return m


def _warp(image: torch.Tensor, out_to_in: np.ndarray, out_hw: tuple[int, int], mode: str) -> torch.Tensor:
    """Sample ``image`` (B,C,Hi,Wi) where output pixel p reads input pixel ``out_to_in @ p`` (B,3,3)."""
    hi, wi = image.shape[-2:]
    ho, wo = out_hw
    # Pixel -> normalised coordinates of grid_sample (align_corners=False): u = (2x + 1) / W - 1.
    to_norm = np.array([[2.0 / wi, 0.0, 1.0 / wi - 1.0], [0.0, 2.0 / hi, 1.0 / hi - 1.0], [0, 0, 1.0]])
    theta = torch.from_numpy(to_norm @ out_to_in)[:, :2]  # (B, 2, 3): output pixel -> input normalised
    xs = torch.arange(wo, dtype=torch.float64).view(1, 1, -1, 1)
    ys = torch.arange(ho, dtype=torch.float64).view(1, -1, 1, 1)
    # the affine map per output pixel as broadcast multiply-adds (an einsum over all pixels is 5x slower)
    grid = theta[:, None, None, :, 0] * xs + theta[:, None, None, :, 1] * ys + theta[:, None, None, :, 2]
    grid_t = grid.to(device=image.device, dtype=image.dtype)  # (B, Ho, Wo, 2)
    return F.grid_sample(image, grid_t, mode=mode, padding_mode="zeros", align_corners=False)


def _frame_to_crop(trans_params: np.ndarray, frame_hw: tuple[int, int], crop_side: int) -> np.ndarray:
    """(B, 3, 3): pixels of the frame resized to ``frame_hw`` -> pixels of a crop of side ``crop_side``."""
    tp = np.asarray(trans_params, dtype=np.float64).reshape(-1, 5)
    h, w = frame_hw
    to_full = _rescale(tp[:, 0] / w, tp[:, 1] / h)  # resized frame -> W0 x H0 frame
    to_crop = _homogeneous(frame_to_crop_affine(tp))  # W0 x H0 frame -> 224 crop
    side = np.full(len(tp), crop_side / CROP_SIZE)
    to_side = _rescale(side, side)  # 224 crop -> crop of crop_side
    return to_side @ to_crop @ to_full


def uncrop(
    crop: torch.Tensor, trans_params: np.ndarray, out_hw: tuple[int, int], mode: str = "bicubic"
) -> torch.Tensor:
    """Warp aligned crops back into their frames (``rescale_mask_V2``), zero outside the crop.

    Parameters
    ----------
    crop: (B, C, S, S) crops; S = 224, or any render size covering the same field of view.
    trans_params: (B, 5) ``align_img`` parameters of each frame (W0 x H0).
    out_hw: (H, W) output size: the W0 x H0 frame resized to H x W.
    mode: ``grid_sample`` interpolation (bicubic as the original).

    Returns
    -------
    (B, C, H, W) tensor.
    """
    out_to_in = _frame_to_crop(trans_params, out_hw, crop.shape[-1])
    return _warp(crop, out_to_in, out_hw, mode)


def crop(
    frames: torch.Tensor, trans_params: np.ndarray, side: int = CROP_SIZE, mode: str = "bilinear"
) -> torch.Tensor:
    """Aligned crops of frames (the image part of ``align_img``, without Pillow's antialiasing).

    Parameters
    ----------
    frames: (B, C, H, W) frames: the W0 x H0 frames of ``trans_params`` resized to H x W.
    trans_params: (B, 5) ``align_img`` parameters.
    side: output side (224 for the Deep3DFace crop).

    Returns
    -------
    (B, C, side, side) tensor, zero where the crop leaves the frame.
    """
    in_to_out = _frame_to_crop(trans_params, frames.shape[-2:], side)
    return _warp(frames, np.linalg.inv(in_to_out), (side, side), mode)
