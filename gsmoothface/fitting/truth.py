"""Fit quality against ground truth (the embedded demo's ``truth.npz``).

The demo knows the coefficients that made each frame and the noise-free landmarks, so a fit can
be scored directly: landmark error at 224, mesh error after removing a global similarity (the
part of the shape the landmarks and the prior cannot pin down), recovery of the jaw-open
expression over time, and expression jitter relative to the truth's own motion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gsmoothface.errors import InputError
from gsmoothface.face_model.model import FaceModel
from gsmoothface.face_model.synthetic import EXP_JAW_OPEN
from gsmoothface.fitting.clip import ClipFit

DM_TO_MM = 100.0  # model units are decimetres


def similarity_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Align point sets (B,N,3) ``source`` to ``target`` by the best similarity (Umeyama 1991)."""
    mu_s, mu_t = source.mean(1, keepdim=True), target.mean(1, keepdim=True)
    s, t = source - mu_s, target - mu_t
    cov = t.transpose(1, 2) @ s  # (B, 3, 3)
    u, sigma, vt = torch.linalg.svd(cov)
    sign = torch.ones_like(sigma)
    sign[:, 2] = torch.linalg.det(u @ vt).sign()
    rot = u @ torch.diag_embed(sign) @ vt  # (B, 3, 3), target ~ scale * rot @ source
    scale = (sigma * sign).sum(1) / (s**2).sum((1, 2))
    return scale[:, None, None] * s @ rot.transpose(1, 2) + mu_t


def truth_metrics(fit: ClipFit, truth_path: str | Path, model: FaceModel) -> dict[str, float]:
    """Score a fit against a truth sidecar ``{coeff (T,257), lm68 (T,68,2) clip px}``.

    Returns
    -------
    ``lm_error_px`` (fitted model landmarks vs true noise-free landmarks, mean px at 224),
    ``detected_error_px`` (the detected landmarks vs the same truth: the input noise),
    ``vertex_error_mm`` (mean per-vertex distance of the fitted and true model-space meshes after a
    per-frame similarity), ``expression_motion_mm`` (mean per-vertex displacement of the true
    expression from its clip mean), ``dynamic_error_mm`` (error of the frame-to-mean deformation),
    ``mouth_dynamic_error_mm`` / ``mouth_motion_mm`` (the same two on the mouth region),
    ``jaw_pearson`` (jaw-open coefficient over time) and ``jitter_ratio`` (mean norm of fitted
    expression frame differences / the truth's).
    """
    with np.load(truth_path) as data:
        true_coeff = torch.from_numpy(np.asarray(data["coeff"], dtype=np.float32))
        true_lm = np.asarray(data["lm68"], dtype=np.float64)
    if true_coeff.shape[0] != fit.coeff.shape[0]:
        raise InputError(f"{truth_path}: {true_coeff.shape[0]} frames of truth, fit has {fit.coeff.shape[0]}")
    from gsmoothface.landmarks.align import points_to_crop

    device = model.mean_shape.device
    coeff = torch.from_numpy(fit.coeff).to(device)
    true_coeff = true_coeff.to(device)
    true_224 = torch.from_numpy(points_to_crop(true_lm, fit.trans_params)).float()  # (T, 68, 2)
    detected_224 = torch.from_numpy(points_to_crop(fit.lm68, fit.trans_params)).float()
    with torch.no_grad():
        fitted_224 = model.landmarks_224(coeff).cpu()
        fitted = model.compute_shape(coeff[:, 0:80], coeff[:, 80:144])  # (T, N, 3)
        true = model.compute_shape(true_coeff[:, 0:80], true_coeff[:, 80:144])
        aligned = similarity_align(fitted, true)
        dyn_true = true - true.mean(0, keepdim=True)
        dyn_fit = aligned - aligned.mean(0, keepdim=True)
    mouth = model.mouth_mask
    exp_fit, exp_true = coeff[:, 80:144].cpu(), true_coeff[:, 80:144].cpu()
    jaw = 80 + EXP_JAW_OPEN
    return {
        "lm_error_px": float((fitted_224 - true_224).norm(dim=-1).mean()),
        "detected_error_px": float((detected_224 - true_224).norm(dim=-1).mean()),
        "vertex_error_mm": DM_TO_MM * float((aligned - true).norm(dim=-1).mean()),
        "expression_motion_mm": DM_TO_MM * float(dyn_true.norm(dim=-1).mean()),
        "dynamic_error_mm": DM_TO_MM * float((dyn_fit - dyn_true).norm(dim=-1).mean()),
        "mouth_motion_mm": DM_TO_MM * float(dyn_true[:, mouth].norm(dim=-1).mean()),
        "mouth_dynamic_error_mm": DM_TO_MM * float((dyn_fit - dyn_true)[:, mouth].norm(dim=-1).mean()),
        "jaw_pearson": float(
            np.corrcoef(coeff[:, jaw].cpu().numpy(), true_coeff[:, jaw].cpu().numpy())[0, 1]
        ),
        "jitter_ratio": float(
            torch.diff(exp_fit, dim=0).norm(dim=-1).mean() / torch.diff(exp_true, dim=0).norm(dim=-1).mean()
        ),
    }
