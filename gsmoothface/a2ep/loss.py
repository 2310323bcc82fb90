"""A2EP loss and metrics in vertex space, through the face model's expression basis.

GSmoothFace's loss is ``mean_{b,t,v} w_v ||V̂_tv - V_tv||²`` with ``w_v = 1.8`` on the mouth region.
Identity cancels in the difference, so the loss is the quadratic form ``Δβ G Δβᵀ`` with
``G = Σ_v w_v B_vᵀ B_v / N`` (B_v the (3, 64) expression basis rows of vertex v): exact, and it
costs 64x64 per frame instead of 3N.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


def expression_basis(face_model: Any, exp_dim: int = 64) -> torch.Tensor:
    """Per-vertex expression basis (exp_dim, N, 3) from ``face_model.expression_offsets``."""
    with torch.no_grad():
        eye = torch.eye(exp_dim, device=face_model.mouth_mask.device)
        return face_model.expression_offsets(eye).float().cpu()  # (exp_dim, N, 3)


class ExpressionLoss(nn.Module):
    """Mouth-weighted vertex MSE of expression coefficients (or plain coefficient MSE).

    Parameters
    ----------
    basis: (exp_dim, N, 3) expression offsets per unit coefficient.
    mouth_mask: (N,) bool, the vertices weighted by ``mouth_weight``.
    supervise_exp: use plain MSE on the coefficients instead (GSmoothFace's ablation).
    """

    def __init__(
        self,
        basis: torch.Tensor,
        mouth_mask: torch.Tensor,
        mouth_weight: float = 1.8,
        supervise_exp: bool = False,
    ) -> None:
        super().__init__()
        self.supervise_exp = supervise_exp
        weight = 1.0 + (mouth_weight - 1.0) * mouth_mask.float()  # (N,)
        gram = torch.einsum("inc,jnc,n->ij", basis.double(), basis.double(), weight.double()) / basis.shape[1]
        self.register_buffer("gram", gram.float())  # (exp_dim, exp_dim)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target (..., exp_dim) -> scalar loss."""
        diff = pred - target
        if self.supervise_exp:
            return diff.pow(2).mean()
        return torch.einsum("...i,ij,...j->...", diff, self.gram, diff).mean()


def lip_vertex_error(pred: np.ndarray, target: np.ndarray, lip_basis: np.ndarray) -> float:
    """FaceFormer's lip vertex error: per frame the largest lip-vertex L2 error, averaged over frames.

    Parameters
    ----------
    pred, target: (T, exp_dim) expression coefficients.
    lip_basis: (exp_dim, L, 3) expression basis of the lip vertices.

    Returns
    -------
    Mean over frames of ``max_v ||ΔV_v||`` in face-model units.
    """
    offsets = np.einsum("ti,ilc->tlc", pred - target, lip_basis)  # (T, L, 3)
    return float(np.linalg.norm(offsets, axis=-1).max(axis=1).mean())


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D series (0 when either is constant)."""
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0
