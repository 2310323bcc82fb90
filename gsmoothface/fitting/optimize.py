"""Optimisation fitter: Deep3DFace's objective minimised directly on one clip's frames.

Identity and texture are shared by the clip, expression, pose and lighting vary per frame (the
per-clip identity is GSmoothFace's answer to identity jitter). Stage 1 fits the geometry to the
landmarks (pose first, then identity and expression) on the 68 keypoint vertices only, with the
temporal smoothness terms Deep3DFace lacks (expression first differences, pose acceleration).
Stage 2 adds the photometric, lighting and albedo terms through the renderer to fit texture and
lighting, in windows of frames visited round-robin so that memory stays bounded on long clips.
Everything is batched over frames; no step loops over frames in Python.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from gsmoothface.face_model.camera import FOCAL, RASTER_SIZE
from gsmoothface.face_model.model import COEFF_SLICES, N_COEFF, FaceModel
from gsmoothface.fitting.adam import Adam
from gsmoothface.fitting.config import Fit3dmmConfig
from gsmoothface.fitting.keypoints import KeypointModel, initial_pose
from gsmoothface.fitting.losses import (
    coefficient_regulariser,
    gamma_loss,
    landmark_loss,
    landmark_weights,
    photometric_loss,
    reflectance_loss,
    temporal_difference_loss,
)
from gsmoothface.render import MeshRenderer, interpolate, rasterize

POSE_LR_SCALE = 0.2  # angles (rad) and translations (dm) move ~5x less per step than coefficients
FINAL_LR_FRACTION = 0.05  # cosine decay of the learning rate down to this fraction
POSE_WARMUP_FRACTION = 0.25  # first part of stage 1 moves the pose only


@dataclasses.dataclass
class OptimizeResult:
    """Fitted coefficients (T,257) float32 and per-frame landmark residual (T,) in 224 px."""

    coeff: torch.Tensor
    residual: torch.Tensor


@dataclasses.dataclass
class _Coefficients:
    """Leaf tensors of the fit: shared (1,D) id/tex, per-frame (T,D) exp/angle/gamma/trans."""

    id: torch.Tensor
    tex: torch.Tensor
    exp: torch.Tensor
    angle: torch.Tensor
    gamma: torch.Tensor
    trans: torch.Tensor

    def assemble(self) -> torch.Tensor:
        frames = self.exp.shape[0]
        parts = {
            "id": self.id.expand(frames, -1),
            "exp": self.exp,
            "tex": self.tex.expand(frames, -1),
            "angle": self.angle,
            "gamma": self.gamma,
            "trans": self.trans,
        }
        return torch.cat([parts[name] for name in COEFF_SLICES], dim=1)  # (T, 257)


def fit_optimize(
    model: FaceModel,
    lm224: torch.Tensor,
    cfg: Fit3dmmConfig,
    images: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    render_backend: str = "auto",
) -> OptimizeResult:
    """Fit one clip's coefficients to its landmarks (and images).

    Parameters
    ----------
    model: the face model, on the device to fit on.
    lm224: (T,68,2) landmarks in 224-crop pixels, y down (invalid frames already interpolated).
    cfg: schedule and loss weights.
    images: (T,S,S,3) uint8 aligned crops at any size S (the crop scaled by S/224), or ``None``
        for a landmark-only fit (stage 2 is skipped).
    init: (T,257) starting coefficients (e.g. R-Net predictions); identity and texture start at
        their clip means. ``None`` starts from the mean face with the pose guessed from landmarks.
    render_backend: ``render.backend`` for the photometric stage.
    """
    device = model.mean_shape.device
    lm224 = lm224.to(device=device, dtype=torch.float32)
    frames = lm224.shape[0]
    keypoints = KeypointModel(model).to(device)
    coeffs = _initial_coefficients(keypoints, lm224, init)
    weights = landmark_weights(cfg.lm_emphasis, device)
    _fit_landmarks(keypoints, lm224, weights, coeffs, cfg)
    if images is not None and cfg.photo_steps > 0 and frames > 0:
        _fit_photometric(model, images.to(device), coeffs, cfg, render_backend)
    with torch.no_grad():
        coeff = coeffs.assemble().detach()
        pred = keypoints.project(coeffs.id, coeffs.exp, coeffs.angle, coeffs.trans)
        residual = (pred - lm224).norm(dim=-1).mean(-1)  # (T,) mean px over the 68 points
    return OptimizeResult(coeff=coeff.float(), residual=residual.float())


def _initial_coefficients(
    keypoints: KeypointModel, lm224: torch.Tensor, init: torch.Tensor | None
) -> _Coefficients:
    frames, device = lm224.shape[0], lm224.device
    if init is None:
        start = torch.zeros(frames, N_COEFF, device=device)
        angle, trans = initial_pose(keypoints, lm224)
        start[:, COEFF_SLICES["angle"]] = angle
        start[:, COEFF_SLICES["trans"]] = trans
    else:
        start = init.to(device=device, dtype=torch.float32)
    split = FaceModel.split_coeff(start)

    def leaf(value: torch.Tensor) -> torch.Tensor:
        return value.detach().clone().requires_grad_(True)

    return _Coefficients(
        id=leaf(split["id"].mean(0, keepdim=True)),
        tex=leaf(split["tex"].mean(0, keepdim=True)),
        exp=leaf(split["exp"]),
        angle=leaf(split["angle"]),
        gamma=leaf(split["gamma"]),
        trans=leaf(split["trans"]),
    )


def _temporal(
    cfg: Fit3dmmConfig, exp: torch.Tensor, angle: torch.Tensor, trans: torch.Tensor
) -> torch.Tensor:
    """Expression first differences + pose acceleration, weighted."""
    pose = temporal_difference_loss(angle, 2) + temporal_difference_loss(trans, 2)
    return cfg.w_exp_smooth * temporal_difference_loss(exp, 1) + cfg.w_pose_smooth * pose


def _cosine(step: int, steps: int) -> float:
    """Learning-rate factor of step ``step`` of a cosine decay over ``steps`` to FINAL_LR_FRACTION."""
    progress = min(step / max(steps, 1), 1.0)
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))


def _fit_landmarks(
    keypoints: KeypointModel,
    lm224: torch.Tensor,
    weights: torch.Tensor,
    c: _Coefficients,
    cfg: Fit3dmmConfig,
) -> None:
    """Stage 1: landmark loss + id/exp regularisation + temporal terms, all frames at once."""
    if lm224.shape[0] == 0 or cfg.landmark_steps == 0:
        return
    warmup = int(cfg.landmark_steps * POSE_WARMUP_FRACTION)
    pose_lr = cfg.lr * POSE_LR_SCALE
    pose_opt = Adam([([c.angle, c.trans], pose_lr)])
    full_opt = Adam([([c.id, c.exp], cfg.lr), ([c.angle, c.trans], pose_lr)])
    full_steps = 0
    full_opt.scale_lr(_cosine(full_steps, cfg.landmark_steps - warmup))
    zero_tex = torch.zeros_like(c.tex)
    for step in range(cfg.landmark_steps):
        optimizer = pose_opt if step < warmup else full_opt
        optimizer.zero_grad()
        pred = keypoints.project(c.id, c.exp, c.angle, c.trans)
        loss = (
            cfg.w_lm * landmark_loss(pred, lm224, weights)
            + cfg.w_reg * coefficient_regulariser(c.id, c.exp, zero_tex, cfg.w_id, cfg.w_exp, cfg.w_tex)
            + _temporal(cfg, c.exp, c.angle, c.trans)
        )
        loss.backward()
        optimizer.step()
        if optimizer is full_opt:
            full_steps += 1
            full_opt.scale_lr(_cosine(full_steps, cfg.landmark_steps - warmup))


def _fit_photometric(
    model: FaceModel,
    images: torch.Tensor,
    c: _Coefficients,
    cfg: Fit3dmmConfig,
    render_backend: str,
) -> None:
    """Stage 2: photometric, lighting and albedo terms fit the shared texture and per-frame light.

    The geometry stays at the landmark solution: without antialiasing the rasteriser gives no
    silhouette gradients, and shading gradients on the pose fight the landmarks, so each window
    is rasterised once per visit and only texture (shared) and gamma (per frame) move. Windows of
    ``photo_batch`` frames are visited round-robin, ``raster_every`` steps per visit, so only one
    window's raster is held at a time.
    """
    size = images.shape[1]
    renderer = MeshRenderer(
        size=size, focal=FOCAL * size / RASTER_SIZE, center=size / 2, backend=render_backend
    )
    frames = images.shape[0]
    windows = [slice(s, min(s + cfg.photo_batch, frames)) for s in range(0, frames, cfg.photo_batch)]
    # One gamma leaf and optimiser per window, so Adam's momentum never moves frames outside it.
    gammas = [c.gamma[w].detach().clone().requires_grad_(True) for w in windows]
    window_opts = [Adam([([gamma], cfg.lr)]) for gamma in gammas]
    tex_opt = Adam([([c.tex], cfg.lr)])
    front, tri = model.front_mask_idx, model.front_face_buf
    single = len(windows) == 1  # one window: its geometry is computed once, not once per visit
    cached: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    steps_done = 0
    while steps_done < cfg.photo_steps:
        block = min(cfg.raster_every, cfg.photo_steps - steps_done)
        for w, gamma, opt in zip(windows, gammas, window_opts, strict=True):
            target = images[w].permute(0, 3, 1, 2).float() / 255.0  # (B, 3, S, S)
            if cached is None or not single:
                cached = _window_geometry(model, c, w, renderer, render_backend)
            rast, mask, basis = cached
            for _ in range(block):
                opt.zero_grad()
                tex_opt.zero_grad()
                albedo = model.compute_texture(c.tex)  # (1, N, 3), shared by the clip
                light = gamma.reshape(-1, 3, 9) + model.init_light  # (B, RGB, 9)
                color = albedo[:, front] * (basis @ light.transpose(1, 2))  # (B, Nf, 3)
                rendered = interpolate(color, rast, tri, render_backend).permute(0, 3, 1, 2) * mask
                loss = (
                    cfg.w_color * photometric_loss(rendered, target, mask)
                    + cfg.w_reg * cfg.w_tex * (c.tex**2).sum()
                    + cfg.w_gamma * gamma_loss(gamma)
                    + cfg.w_reflc * reflectance_loss(albedo, model.skin_mask)
                )
                loss.backward()
                opt.step()
                tex_opt.step()
        steps_done += block
    with torch.no_grad():
        for w, gamma in zip(windows, gammas, strict=True):
            c.gamma[w] = gamma.detach()


@torch.no_grad()
def _window_geometry(
    model: FaceModel, c: _Coefficients, w: slice, renderer: MeshRenderer, render_backend: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raster (B,S,S,4), coverage mask (B,1,S,S) and SH basis (B,Nf,9) of a window's fixed geometry."""
    front = model.front_mask_idx
    shape = model.compute_shape(c.id.expand(w.stop - w.start, -1), c.exp[w])  # (B, N, 3)
    rot = model.compute_rotation(c.angle[w])
    vertices = model.to_camera(model.transform(shape, rot, c.trans[w]))[:, front]  # (B, Nf, 3)
    normals = (model.compute_norm(shape) @ rot)[:, front]  # (B, Nf, 3)
    size = renderer.size
    rast = rasterize(renderer.to_clip(vertices), model.front_face_buf, (size, size), render_backend)
    mask = (rast[..., 3:4] > 0).float().permute(0, 3, 1, 2)  # (B, 1, S, S)
    return rast, mask, _sh_basis(model, normals)


def _sh_basis(model: FaceModel, normals: torch.Tensor) -> torch.Tensor:
    """The model's 9 SH irradiance basis values per vertex (B,N,9), read off ``compute_color``.

    ``compute_color`` is linear in ``gamma + init_light``: shading a white albedo with one band
    switched on at a time gives that band's basis, so each step's colour is one small matmul.
    """
    batch, n = normals.shape[:2]
    eye = torch.eye(9, device=normals.device, dtype=normals.dtype)  # (9 bands, 9)
    light = eye.repeat_interleave(batch, 0).reshape(9 * batch, 1, 9).expand(-1, 3, -1)  # (9B, 3, 9)
    gamma = (light - model.init_light).reshape(9 * batch, 27)
    white = normals.new_ones(9 * batch, n, 3)
    shaded = model.compute_color(white, normals.repeat(9, 1, 1), gamma)  # (9B, N, 3), channels equal
    return shaded[..., 0].reshape(9, batch, n).permute(1, 2, 0)  # (B, N, 9)
