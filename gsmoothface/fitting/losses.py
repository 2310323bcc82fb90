"""Loss terms of the optimisation fitter.

The per-frame terms follow Deep3DFace's training objective (Deng et al. 2019, Deep3DFaceRecon_pytorch
``models/losses.py``): weighted landmark loss, coefficient regularisation, masked photometric loss in
its square-root form, monochromatic-light and skin-albedo priors. The temporal terms are this
project's addition: Deep3DFace fits every frame on its own, which makes expressions jitter.
"""

from __future__ import annotations

import torch

N_LANDMARKS = 68
# iBUG-68 indices (0-based) Deep3DFace weights up: nose bridge/tip 28-30 and the inner lips 60-67.
EMPHASISED_LANDMARKS = (28, 29, 30, *range(60, 68))


def landmark_weights(emphasis: float = 20.0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Per-landmark weights (68,): 1, and ``emphasis`` on the nose and inner-lip points."""
    weights = torch.ones(N_LANDMARKS, device=device)
    weights[list(EMPHASISED_LANDMARKS)] = emphasis
    return weights


def landmark_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Deep3DFace landmark loss: ``sum_i w_i |p_i - g_i|^2 / (B * 68)``.

    Parameters
    ----------
    pred, target: (B,68,2) landmarks in pixels of the 224 crop.
    weights: (68,) per-landmark weights.
    """
    squared = ((pred - target) ** 2).sum(-1)  # (B, 68)
    return (squared * weights).sum() / squared.numel()


def coefficient_regulariser(
    id_coeff: torch.Tensor,
    exp: torch.Tensor,
    tex: torch.Tensor,
    w_id: float,
    w_exp: float,
    w_tex: float,
) -> torch.Tensor:
    """Deep3DFace coefficient prior per frame: ``w_id |id|^2 + w_exp |exp|^2 + w_tex |tex|^2``.

    ``id_coeff`` (1,80) and ``tex`` (1,80) are shared by the clip, so they count once per frame;
    ``exp`` (T,64) is averaged over frames.
    """
    per_frame_exp = (exp**2).sum(-1).mean() if exp.shape[0] else exp.new_zeros(())
    return w_id * (id_coeff**2).sum() + w_exp * per_frame_exp + w_tex * (tex**2).sum()


def photometric_loss(rendered: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked photometric loss ``sum(sqrt(1e-6 + |I_r - I|^2) * M) / max(sum M, 1)``.

    Parameters
    ----------
    rendered, target: (B,3,H,W) RGB in [0,1].
    mask: (B,1,H,W) in [0,1], treated as constant.
    """
    mask = mask.detach()
    distance = torch.sqrt(1e-6 + ((rendered - target) ** 2).sum(1, keepdim=True))  # (B, 1, H, W)
    return (distance * mask).sum() / mask.sum().clamp_min(1.0)


def gamma_loss(gamma: torch.Tensor) -> torch.Tensor:
    """Monochromatic light prior: spread of the SH coefficients (B,27) across the RGB channels."""
    gamma = gamma.reshape(-1, 3, 9)  # (B, RGB, 9 SH bands)
    return ((gamma - gamma.mean(1, keepdim=True)) ** 2).mean()


def reflectance_loss(albedo: torch.Tensor, skin_mask: torch.Tensor) -> torch.Tensor:
    """Skin albedo uniformity: variance of the albedo (B,N,3) over skin vertices (N,) (0/1 weights)."""
    skin = skin_mask.to(albedo.dtype).reshape(1, -1, 1)  # (1, N, 1)
    n_skin = skin.sum().clamp_min(1.0)
    mean = (albedo * skin).sum(1, keepdim=True) / n_skin  # (B, 1, 3)
    return (((albedo - mean) * skin) ** 2).sum() / (albedo.shape[0] * n_skin)


def temporal_difference_loss(x: torch.Tensor, order: int) -> torch.Tensor:
    """Mean over time of the squared ``order``-th difference of a (T,D) sequence, summed over D.

    First differences penalise expression jitter; second differences (acceleration) let the pose
    move at constant speed but not shake. Zero for sequences shorter than ``order + 1``.
    """
    if x.shape[0] <= order:
        return x.new_zeros(())
    return (torch.diff(x, n=order, dim=0) ** 2).sum(-1).mean()
