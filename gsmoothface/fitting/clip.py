"""Fit one clip: landmarks -> Deep3DFace alignment -> R-Net and/or optimisation -> coefficients.

Two passes over the video keep memory bounded: the first detects landmarks (frames without a face
are interpolated over and flagged, never dropped), the second aligns every frame to the 224 crop
with the per-frame ``trans_params``, runs the R-Net on the crops when one is used and keeps the
crops at ``photo_size`` for the photometric loss.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gsmoothface.atomic import write_npz
from gsmoothface.errors import InputError
from gsmoothface.face_model.camera import RASTER_SIZE
from gsmoothface.face_model.model import FaceModel
from gsmoothface.fitting.config import Fit3dmmConfig
from gsmoothface.fitting.keypoints import KeypointModel
from gsmoothface.fitting.optimize import fit_optimize
from gsmoothface.fitting.rnet import ReconNet, load_rnet, predict_coeff

VIDEO_NAME = "video.mp4"  # the clip video inside data/clips/<clip>/


@dataclasses.dataclass
class ClipFit:
    """One clip's fit, as written to ``data/3dmm/<clip>.npz``.

    coeff (T,257) float32; lm68 (T,68,2) float32 detected landmarks in clip pixels, y down
    (interpolated over time where ``valid`` is False); trans_params (T,5) float64; valid (T,) bool;
    residual (T,) float32 mean landmark reprojection error in 224-crop pixels; fitter, detector and
    model name what produced it.
    """

    coeff: np.ndarray
    lm68: np.ndarray
    trans_params: np.ndarray
    valid: np.ndarray
    residual: np.ndarray
    fitter: str
    detector: str
    model: str

    def save(self, path: str | Path) -> None:
        """Write the fit as an uncompressed ``.npz``, atomically."""
        write_npz(
            path,
            coeff=self.coeff.astype(np.float32),
            lm68=self.lm68.astype(np.float32),
            trans_params=self.trans_params.astype(np.float64),
            valid=self.valid.astype(bool),
            residual=self.residual.astype(np.float32),
            fitter=np.array(self.fitter),
            detector=np.array(self.detector),
            model=np.array(self.model),
        )

    def summary(self) -> dict[str, float | int | str]:
        """Frame count, valid fraction and residual statistics, for the stage's json report."""
        return {
            "frames": int(self.coeff.shape[0]),
            "valid_fraction": float(self.valid.mean()) if self.valid.size else 0.0,
            "residual_mean_px": float(self.residual.mean()) if self.residual.size else 0.0,
            "residual_max_px": float(self.residual.max()) if self.residual.size else 0.0,
            "fitter": self.fitter,
            "detector": self.detector,
            "model": self.model,
        }


def fitter_name(cfg: Fit3dmmConfig) -> str:
    """The fitter a config runs: ``rnet``, ``optimize`` or ``rnet+optimize``."""
    if cfg.fitter == "rnet":
        return "rnet"
    if cfg.fitter == "auto" and cfg.rnet_checkpoint is not None:
        return "rnet+optimize"
    return "optimize"


def load_fitter_net(cfg: Fit3dmmConfig, device: torch.device) -> ReconNet | None:
    """The R-Net the config asks for (``None`` for a pure optimisation fit); errors if it is missing."""
    return load_rnet(cfg.rnet_checkpoint, device) if "rnet" in fitter_name(cfg) else None


def read_clip_landmarks(
    clip_dir: Path, cfg: Fit3dmmConfig, device: torch.device
) -> tuple[np.ndarray, np.ndarray, str, int, int]:
    """Pass 1: landmarks of every frame of ``clip_dir``'s video.

    Returns
    -------
    lm68 (T,68,2) float32 clip px y down, NaN where ``valid`` is False; valid (T,) bool; the
    detector name; frame width and height.
    """
    from gsmoothface.landmarks import open_landmark_source
    from gsmoothface.media import iter_frames, probe

    video = clip_dir / VIDEO_NAME
    if not video.is_file():
        raise InputError(f"{clip_dir}: no {VIDEO_NAME} (run `gsmoothface slice` first)")
    info = probe(video)
    source = open_landmark_source(cfg.landmarks, clip_dir, fan_weights=cfg.fan_weights, device=str(device))
    marks, flags = [], []
    for frames in iter_frames(video, chunk=cfg.frame_chunk):
        lm, valid = source.detect(frames)
        marks.append(np.asarray(lm, dtype=np.float32))
        flags.append(np.asarray(valid, dtype=bool))
    if not marks:
        raise InputError(f"{video}: no frames decoded")
    return np.concatenate(marks), np.concatenate(flags), source.name, info.width, info.height


def align_clip(
    clip_dir: Path,
    trans_params: np.ndarray,
    cfg: Fit3dmmConfig,
    net: ReconNet | None,
    keep_images: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Pass 2: aligned crops of every frame; R-Net predictions and crops at ``photo_size``.

    Returns
    -------
    R-Net coefficients (T,257) (``None`` without a net) and crops (T,S,S,3) uint8 with
    S = ``cfg.photo_size`` (``None`` unless ``keep_images``).
    """
    from gsmoothface.landmarks.align import align_image
    from gsmoothface.media import iter_frames

    predictions, images = [], []
    start = 0
    for frames in iter_frames(clip_dir / VIDEO_NAME, chunk=cfg.frame_chunk):
        crops = np.stack(
            [align_image(frame, trans_params[start + i], RASTER_SIZE) for i, frame in enumerate(frames)]
        )  # (n, 224, 224, 3) uint8
        start += len(frames)
        crops_t = torch.from_numpy(crops)
        if net is not None:
            predictions.append(predict_coeff(net, crops_t, cfg.rnet_batch).cpu())
        if keep_images:
            images.append(_resize_crops(crops_t, cfg.photo_size))
    coeff = torch.cat(predictions) if net is not None else None
    return coeff, (torch.cat(images) if keep_images else None)


def _resize_crops(crops: torch.Tensor, size: int) -> torch.Tensor:
    """(n,224,224,3) uint8 -> (n,size,size,3) uint8 with an antialiased (area-like) resize."""
    if size == RASTER_SIZE:
        return crops
    x = crops.permute(0, 3, 1, 2).float()  # (n, 3, 224, 224)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def fit_clip(
    clip_dir: str | Path,
    cfg: Fit3dmmConfig,
    model: FaceModel,
    model_name: str = "synthetic",
    net: ReconNet | None = None,
    render_backend: str = "auto",
) -> ClipFit:
    """Fit the 257 coefficients of every frame of a clip folder (``data/clips/<clip>/``).

    Parameters
    ----------
    clip_dir: folder with ``video.mp4`` (and ``landmarks.npz`` for the sidecar source).
    cfg: the ``fit_3dmm`` config.
    model: the face model, on the device to fit on.
    model_name: recorded in the output (e.g. the BFM path or ``synthetic``).
    net: the R-Net for fitters ``rnet`` / ``rnet+optimize`` (see :func:`load_fitter_net`).
    render_backend: ``render.backend`` for the photometric loss.

    Raises
    ------
    InputError: no video, no frames, or no face found in any frame.
    """
    from gsmoothface.landmarks import interpolate_invalid
    from gsmoothface.landmarks.align import estimate_trans_params_batch, points_to_crop

    clip_dir = Path(clip_dir)
    fitter = fitter_name(cfg)
    if "rnet" in fitter and net is None:
        raise ValueError(f"fitter '{fitter}' needs the R-Net: pass net=load_fitter_net(cfg, device)")
    device = model.mean_shape.device
    lm68, valid, detector, width, height = read_clip_landmarks(clip_dir, cfg, device)
    if not valid.any():
        raise InputError(f"{clip_dir}: no face found in any of {len(valid)} frames ({detector} landmarks)")
    lm68 = np.asarray(interpolate_invalid(lm68, valid), dtype=np.float32)
    trans_params = np.asarray(estimate_trans_params_batch(lm68, width, height), dtype=np.float64)  # (T, 5)
    lm224 = torch.from_numpy(np.asarray(points_to_crop(lm68, trans_params), dtype=np.float32))
    keep_images = fitter != "rnet" and cfg.photo_steps > 0
    init, images = align_clip(clip_dir, trans_params, cfg, net, keep_images)
    if fitter == "rnet":
        assert init is not None
        coeff = init.to(device)
        with torch.no_grad():
            c = FaceModel.split_coeff(coeff)
            pred = KeypointModel(model).to(device).project(c["id"], c["exp"], c["angle"], c["trans"])
        residual = (pred.cpu() - lm224).norm(dim=-1).mean(-1)  # (T,) px at 224
    else:
        result = fit_optimize(model, lm224, cfg, images=images, init=init, render_backend=render_backend)
        coeff, residual = result.coeff, result.residual
    return ClipFit(
        coeff=coeff.cpu().numpy().astype(np.float32),
        lm68=lm68,
        trans_params=trans_params,
        valid=valid,
        residual=residual.cpu().numpy().astype(np.float32),
        fitter=fitter,
        detector=detector,
        model=model_name,
    )
