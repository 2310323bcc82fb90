"""CPBD: cumulative probability of blur detection, a no-reference sharpness metric.

After Narvekar & Karam, "A No-Reference Image Blur Metric Based on the Cumulative Probability of
Blur Detection (CPBD)", IEEE TIP 2011, with edge widths measured as in Marziliano et al. 2002:
edge pixels of (near-)vertical edges are found, the width of each edge is the horizontal distance
between the intensity extrema on either side, the probability that a human notices the blur of an
edge of width w in a block of contrast C is ``1 - exp(-(w / w_JNB(C))^beta)``, and CPBD is the
fraction of edges whose blur probability stays at or below the just-noticeable level (63 %).
Higher is sharper; a frame without any edge scores 0 (nothing sharp is left to see).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import canny

BLOCK = 64  # side of the blocks the contrast and the edge-block decision are taken over, px
EDGE_BLOCK_FRACTION = 0.002  # a block is an edge block when more than 0.2 % of its pixels are edges
CONTRAST_SPLIT = 50  # block contrast (max - min, 8-bit) up to which the just-noticeable width is 5
W_JNB_LOW_CONTRAST = 5.0  # just-noticeable blur width (px) at contrast <= 50
W_JNB_HIGH_CONTRAST = 3.0  # just-noticeable blur width (px) at contrast > 50
BETA = 3.6  # slope of the psychometric blur-detection function
P_JNB = 0.63  # blur probability at the just-noticeable width, 1 - exp(-1)
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luminance weights


def _run_lengths(steps: np.ndarray, reverse: bool) -> np.ndarray:
    """Length of the run of True that starts (``reverse``) or ends at each column, per row.

    ``steps`` (H,W-1) bool; returns (H,W-1) int.
    """
    runs = np.zeros(steps.shape, dtype=np.int64)
    columns = range(steps.shape[1] - 1, -1, -1) if reverse else range(steps.shape[1])
    previous = np.zeros(steps.shape[0], dtype=np.int64)
    for j in columns:
        previous = (previous + 1) * steps[:, j]
        runs[:, j] = previous
    return runs


def edge_widths(gray: np.ndarray, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Edge map and edge widths of the near-vertical edges of a grayscale image.

    Parameters
    ----------
    gray: (H,W) float luminance in [0, 255].
    sigma: Gaussian scale of the Canny edge detector, px.

    Returns
    -------
    edges (H,W) bool: near-vertical edge pixels (horizontal gradient dominates);
    widths (H,W) float: edge width in px at those pixels (0 elsewhere), corrected for the edge's
    slant by cos(angle) since a horizontal scan crosses a slanted edge obliquely.
    """
    gray = np.asarray(gray, dtype=np.float64)
    gx = ndimage.sobel(gray, axis=1)
    gy = ndimage.sobel(gray, axis=0)
    edges = canny(gray / 255.0, sigma=sigma) & (np.abs(gx) >= np.abs(gy)) & (gx != 0)
    diff = np.diff(gray, axis=1)  # (H, W-1): diff[:, j] = I[:, j+1] - I[:, j]
    widths = np.zeros_like(gray)
    h, w = gray.shape
    for rising, steps in ((True, diff > 0), (False, diff < 0)):
        ahead = _run_lengths(steps, reverse=True)  # monotone run starting at column j
        behind = _run_lengths(steps, reverse=False)  # monotone run ending at column j
        right = np.zeros((h, w), dtype=np.int64)
        left = np.zeros((h, w), dtype=np.int64)
        right[:, : w - 1] = ahead  # from pixel x rightwards to the extremum
        left[:, 1:] = behind  # from pixel x leftwards to the opposite extremum
        sel = edges & ((gx > 0) if rising else (gx < 0))
        widths[sel] = (left + right)[sel]
    cos_angle = np.abs(gx) / np.maximum(np.hypot(gx, gy), 1e-12)
    return edges, widths * cos_angle


def cpbd(frame: np.ndarray) -> float:
    """CPBD sharpness of one frame.

    Parameters
    ----------
    frame: (H,W,3) RGB or (H,W) gray, uint8 (or float in [0, 255]).

    Returns
    -------
    float in [0, 1]; higher is sharper.
    """
    gray = np.asarray(frame, dtype=np.float64)
    if gray.ndim == 3:
        gray = gray[..., :3] @ LUMA
    edges, widths = edge_widths(gray)
    h, w = gray.shape
    detected = 0
    total = 0
    for y0 in range(0, h, BLOCK):
        for x0 in range(0, w, BLOCK):
            block_edges = edges[y0 : y0 + BLOCK, x0 : x0 + BLOCK]
            if block_edges.sum() <= EDGE_BLOCK_FRACTION * block_edges.size:
                continue
            block = gray[y0 : y0 + BLOCK, x0 : x0 + BLOCK]
            contrast = block.max() - block.min()
            w_jnb = W_JNB_LOW_CONTRAST if contrast <= CONTRAST_SPLIT else W_JNB_HIGH_CONTRAST
            block_widths = widths[y0 : y0 + BLOCK, x0 : x0 + BLOCK][block_edges]
            p_blur = 1.0 - np.exp(-((block_widths / w_jnb) ** BETA))
            detected += int((p_blur <= P_JNB).sum())
            total += block_widths.size
    return detected / total if total else 0.0


def cpbd_frames(frames: np.ndarray) -> np.ndarray:
    """CPBD of each frame of (B,H,W,3) uint8 frames -> (B,) float64."""
    return np.array([cpbd(f) for f in frames], dtype=np.float64)
