"""Seamless paste-back: where the generated face replaces the frame, and how its colour meets it.

Only the part of the face that the expression moves is replaced. The paste mask is the face's
closed render silhouette (the whole MAFB mask with ``region="full"``) restricted to the lower face
(below a ramp from the nose tip to the top of the upper lip, landmarks 30 -> 51 of the 3DMM
projection), eroded so that its edge lies inside the face, away from the render's jagged outline,
and feathered with a Gaussian. Eyes, brows and forehead stay the frame's own pixels.

The generated face's low-frequency colour is then matched to the frame along the feathered edge
(a Poisson-like correction by normalised convolution): the colour difference measured in the
feather band is spread smoothly over the pasted region, so no seam or ring remains at the edge.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gsmoothface.blend.morphology import ellipse_kernel, erode

RAMP_TOP, RAMP_BOTTOM = 30, 51  # iBUG-68 points (0-based): nose tip, top of the upper lip


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) with reflect padding (``sigma`` in px; <= 0: identity)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def lower_face_ramp(landmarks: torch.Tensor, size: int) -> torch.Tensor:
    """Per-row weight (B, 1, size, 1): 0 above the nose tip, 1 from the top of the upper lip down.

    Parameters
    ----------
    landmarks: (B, 68, 2) landmarks in pixels of a ``size`` crop, y down.
    """
    top = landmarks[:, RAMP_TOP, 1].view(-1, 1, 1, 1)
    bottom = landmarks[:, RAMP_BOTTOM, 1].view(-1, 1, 1, 1)
    rows = torch.arange(size, device=landmarks.device, dtype=landmarks.dtype).view(1, 1, -1, 1)
    return ((rows - top) / (bottom - top).clamp(min=1.0)).clamp(0.0, 1.0)


def paste_mask(
    mafb: torch.Tensor,
    landmarks: torch.Tensor,
    region: str = "lower",
    erode_px: int = 7,
    feather_px: float = 5.0,
) -> torch.Tensor:
    """The soft paste-back mask in the aligned crop.

    Parameters
    ----------
    mafb: (B, 1, S, S) region mask in [0, 1]: the closed render silhouette, or the MAFB mask
        (:func:`~gsmoothface.blend.morphology.mafb_mask`) for ``region="full"``.
    landmarks: (B, 68, 2) 3DMM landmarks in pixels of the S crop, y down.
    region: ``lower`` (mouth, cheeks, jaw, chin) or ``full`` (all of ``mafb``).
    erode_px: erosion (ellipse side, px) that pulls the edge inside the MAFB region; 0 = none.
    feather_px: Gaussian sigma of the edge, px.

    Returns
    -------
    (B, 1, S, S) mask in [0, 1], 0 wherever ``mafb`` is 0.
    """
    if region not in ("lower", "full"):
        raise ValueError(f"paste region must be 'lower' or 'full', got {region!r}")
    mask = erode(mafb, ellipse_kernel(erode_px, erode_px)) if erode_px > 1 else mafb
    if region == "lower":
        mask = mask * lower_face_ramp(landmarks, mask.shape[-1])
    return (gaussian_blur(mask, feather_px) * mafb).clamp(0.0, 1.0)


def match_colour(
    generated: torch.Tensor, frame: torch.Tensor, mask: torch.Tensor, sigma: float
) -> torch.Tensor:
    """Shift ``generated``'s low frequencies to meet ``frame`` along the feathered edge of ``mask``.

    The difference ``frame - generated`` is weighted by ``4 m (1 - m)`` (the feather band, where both
    images show the same skin) and spread by normalised Gaussian convolution of width ``sigma``; far
    from any band pixel the correction fades to the band's mean difference.

    Parameters
    ----------
    generated, frame: (B, 3, H, W) in [0, 1]; mask: (B, 1, H, W) soft paste mask in [0, 1].
    sigma: px, the reach of the correction (about an eighth of the face).

    Returns
    -------
    (B, 3, H, W) corrected ``generated`` (not clamped).
    """
    band = 4.0 * mask * (1.0 - mask)
    diff = (frame - generated) * band
    weight = band.sum(dim=(-2, -1), keepdim=True).clamp(min=1e-6)
    mean_diff = diff.sum(dim=(-2, -1), keepdim=True) / weight  # (B, 3, 1, 1)
    spread = gaussian_blur(diff, sigma)
    cover = gaussian_blur(band, sigma)
    floor = 0.05  # below this cover the correction blends into the band's mean difference
    alpha = (cover / floor).clamp(max=1.0)
    local = spread / cover.clamp(min=1e-6)
    return generated + alpha * local + (1 - alpha) * mean_diff
