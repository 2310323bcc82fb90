"""Differentiable SSIM (Wang et al. 2004) in torch: Gaussian 11x11 window, sigma 1.5, valid region."""

from __future__ import annotations

import torch
import torch.nn.functional as F

C1 = 0.01**2  # (K1 L)^2 for images in [0, 1]
C2 = 0.03**2  # (K2 L)^2


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()  # (C, 1, k, k)


def ssim(pred: torch.Tensor, true: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM per image.

    Parameters
    ----------
    pred, true: (B, C, H, W) in [0, 1], H and W >= ``window``.

    Returns
    -------
    (B,) SSIM averaged over channels and the valid (border-free) pixels.
    """
    c = pred.shape[1]
    w = _gaussian_window(window, sigma, c, pred)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, groups=c)

    mu_p, mu_t = blur(pred), blur(true)
    var_p = blur(pred * pred) - mu_p**2
    var_t = blur(true * true) - mu_t**2
    cov = blur(pred * true) - mu_p * mu_t
    num = (2 * mu_p * mu_t + C1) * (2 * cov + C2)
    den = (mu_p**2 + mu_t**2 + C1) * (var_p + var_t + C2)
    return (num / den).flatten(1).mean(1)


def psnr(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of (B, C, H, W) images in [0, 1] -> (B,)."""
    mse = (pred - true).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))
