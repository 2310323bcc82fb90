"""Differentiable binary/grey morphology on torch tensors and the MAFB mask.

Dilation with an elliptic structuring element is a maximum over shifted copies of the input (the
element's rows are horizontal runs, built incrementally); erosion is the dual ``-dilate(-x)``.
Borders behave like OpenCV's defaults (outside pixels never win a dilation nor an erosion).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def ellipse_kernel(width: int, height: int) -> np.ndarray:
    """The elliptic structuring element of OpenCV's ``getStructuringElement(MORPH_ELLIPSE, (w, h))``.

    Returns
    -------
    (height, width) bool array.
    """
    r, c = height // 2, width // 2
    inv_r2 = 1.0 / (r * r) if r else 0.0
    kernel = np.zeros((height, width), dtype=bool)
    for i in range(height):
        dy = i - r
        if abs(dy) <= r:
            dx = int(np.rint(c * np.sqrt((r * r - dy * dy) * inv_r2)))
            kernel[i, max(c - dx, 0) : min(c + dx + 1, width)] = True
    return kernel


def dilate(x: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Grey dilation ``out(y, x) = max_{k(i,j)} in(y + i - kh//2, x + j - kw//2)``.

    Each kernel row is a horizontal run; runs are built by widening the previous one with
    ``torch.maximum`` (about kw + kh elementwise maxima for an ellipse), then shifted vertically.

    Parameters
    ----------
    x: (B, C, H, W) float tensor.
    kernel: (kh, kw) bool structuring element whose rows are contiguous runs (an ellipse, a box).
    """
    kh, kw = kernel.shape
    ph, pw = kh // 2, kw // 2
    h, w = x.shape[-2:]
    xp = F.pad(x, (pw, kw - 1 - pw, ph, kh - 1 - ph), value=float("-inf"))  # (B, C, H+kh-1, W+kw-1)
    rows = {}
    for i in range(kh):
        cols = np.flatnonzero(kernel[i])
        if cols.size:
            rows[i] = (int(cols[0]), int(cols[-1]))
    if not rows:
        raise ValueError("structuring element is empty")
    runs: dict[tuple[int, int], torch.Tensor] = {}  # (j1, j2) -> max over columns j1..j2, (B,C,Hp,W)
    previous: tuple[int, int] | None = None
    for j1, j2 in sorted(set(rows.values()), key=lambda r: r[1] - r[0]):
        if previous is not None and j1 <= previous[0] and previous[1] <= j2:
            acc: torch.Tensor | None = runs[previous]
            new_cols = [j for j in range(j1, j2 + 1) if not previous[0] <= j <= previous[1]]
        else:
            acc, new_cols = None, list(range(j1, j2 + 1))
        for j in new_cols:
            column = xp[..., j : j + w]  # input shifted by j - pw columns
            acc = column if acc is None else torch.maximum(acc, column)
        runs[(j1, j2)] = acc
        previous = (j1, j2)
    out = None
    for i, run in rows.items():
        candidate = runs[run][..., i : i + h, :]  # shifted by i - ph rows
        out = candidate if out is None else torch.maximum(out, candidate)
    return out


def erode(x: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Grey erosion ``out(y, x) = min_{k(i,j)} in(y + i - kh//2, x + j - kw//2)``, dual of dilate."""
    return -dilate(-x, kernel)


def closing(x: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Morphological closing (dilate then erode): fills holes smaller than the kernel."""
    return erode(dilate(x, kernel), kernel)


def mafb_mask(
    mask: torch.Tensor,
    closing_size: int = 21,
    dilate_width: int = 5,
    dilate_height: int = 31,
    split_row: int = 128,
) -> torch.Tensor:
    """The morphology-augmented mask of GSmoothFace's MAFB, in the aligned crop.

    ``closed = closing(mask, ellipse closing_size)`` fills the mouth and eye holes; rows at or below
    ``split_row`` take ``dilate(closed, ellipse (dilate_width, dilate_height))``, a vertical dilation
    that covers the original mouth and jaw outline, rows above keep ``closed``.

    Parameters
    ----------
    mask: (B, 1, 224, 224) float render mask in [0, 1] (224 = the crop of Deep3DFace ``align_img``).

    Returns
    -------
    (B, 1, 224, 224) float mask in [0, 1].
    """
    closed = closing(mask, ellipse_kernel(closing_size, closing_size))
    dilated = dilate(closed, ellipse_kernel(dilate_width, dilate_height))
    lower = (torch.arange(mask.shape[-2], device=mask.device) >= split_row).view(1, 1, -1, 1)
    return torch.where(lower, dilated, closed)
