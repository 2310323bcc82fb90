"""Differentiable SSIM (Wang et al. 2004) in torch: Gaussian 11x11 window, sigma 1.5, valid region."""

from __future__ import annotations

import torch
import torch.nn.functional as F

C1 = 0.01**2  # (K1 L)^2 for images in [0, 1]
C2 = 0.03**2  # (K2 L)^2


def _gaussian_taps(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    """The normalised 1-D Gaussian as a depthwise kernel, (C, 1, 1, size)."""
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).expand(channels, 1, 1, size).contiguous()


def ssim(pred: torch.Tensor, true: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM per image.

    The Gaussian window is applied as two 1-D passes (it is separable): the same figure as the 2-D
    window, 2 x ``window`` multiply-adds per pixel instead of ``window`` squared. The five moments
    are blurred in one call.

    Parameters
    ----------
    pred, true: (B, C, H, W) in [0, 1], H and W >= ``window``.

    Returns
    -------
    (B,) SSIM averaged over channels and the valid (border-free) pixels.
    """
    c = pred.shape[1]
    taps = _gaussian_taps(window, sigma, 5 * c, pred)
    moments = torch.cat([pred, true, pred * pred, true * true, pred * true], dim=1)  # (B, 5C, H, W)
    blurred = F.conv2d(F.conv2d(moments, taps, groups=5 * c), taps.transpose(2, 3), groups=5 * c)
    mu_p, mu_t, pp, tt, pt = blurred.split(c, dim=1)
    var_p = pp - mu_p**2
    var_t = tt - mu_t**2
    cov = pt - mu_p * mu_t
    num = (2 * mu_p * mu_t + C1) * (2 * cov + C2)
    den = (mu_p**2 + mu_t**2 + C1) * (var_p + var_t + C2)
    return (num / den).flatten(1).mean(1)


def psnr(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of (B, C, H, W) images in [0, 1] -> (B,)."""
    mse = (pred - true).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))
