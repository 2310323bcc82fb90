"""Morphology-augmented face blending (MAFB, GSmoothFace): render, un-crop, blend into the frame.

The 3DMM face of a frame is rendered with that frame's pose, identity, texture and lighting and an
expression (fitted for training pairs, predicted at inference) in the 224 aligned crop; the render
mask is closed and, below row 128, dilated vertically (:func:`mafb_mask`); render and mask are
un-cropped into the frame (bicubic, so the mask gets a soft edge) and
``blended = frame (1 - m) + render m``. The same :class:`MafbBlender` serves the ``blend`` stage,
the TAFT data and inference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from gsmoothface.blend.config import BlendConfig
from gsmoothface.blend.morphology import closing, ellipse_kernel, mafb_mask
from gsmoothface.blend.paste import paste_mask
from gsmoothface.blend.warp import CROP_SIZE, uncrop
from gsmoothface.render import MeshRenderer


@dataclasses.dataclass
class BlendResult:
    """MAFB output for a batch, all at the frame resolution, float in [0, 1]."""

    blended: torch.Tensor  # (B, 3, H, W) frame with the rendered face blended in
    mask: torch.Tensor  # (B, 1, H, W) soft blending mask m
    render: torch.Tensor  # (B, 3, H, W) un-cropped render (0 outside the crop)
    paste: torch.Tensor | None = None  # (B, 1, H, W) soft paste-back mask (see blend.paste), inside m


class MafbBlender:
    """Renders 3DMM faces and blends them into frames through the morphology-augmented mask.

    Parameters
    ----------
    face_model: a ``gsmoothface.face_model.FaceModel`` (moved to ``device``).
    cfg: the ``blend`` section.
    backend: rasterizer backend of ``gsmoothface.render`` (``auto``, ``cpu``, ``cuda``).
    device: torch device the render and blend run on.
    """

    def __init__(
        self, face_model: torch.nn.Module, cfg: BlendConfig, backend: str = "auto", device: str = "cpu"
    ) -> None:
        self.device = torch.device(device)
        self.face_model = face_model.to(self.device)
        self.cfg = cfg
        self.renderer = MeshRenderer(size=CROP_SIZE, backend=backend)

    @torch.no_grad()
    def render_crop(self, coeff: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Render coefficients in the 224 aligned crop.

        Parameters
        ----------
        coeff: (B, 257) 3DMM coefficients.

        Returns
        -------
        image (B, 3, 224, 224) in [0, 1], mask (B, 1, 224, 224) in {0, 1}.
        """
        vertices_cam, _albedo, color, _lm = self.face_model.compute_for_render(coeff.to(self.device))
        out = self.renderer(vertices_cam, self.face_model.face_buf, color)
        return out.image.clamp(0.0, 1.0), out.mask.float()

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, coeff: torch.Tensor, trans_params: np.ndarray) -> BlendResult:
        """Blend the render of ``coeff`` into ``frames``.

        Parameters
        ----------
        frames: (B, 3, H, W) float in [0, 1]: the W0 x H0 frames of ``trans_params`` resized to H x W.
        coeff: (B, 257) coefficients of each frame (its own pose, identity, texture, lighting; any
            expression).
        trans_params: (B, 5) ``align_img`` parameters ``[W0, H0, s, t0, t1]`` of each frame.

        Returns
        -------
        :class:`BlendResult` at H x W.
        """
        image, mask = self.render_crop(coeff)
        landmarks = self.face_model.landmarks_224(coeff.to(self.device).float())
        return composite(frames.to(self.device), image, mask, trans_params, self.cfg, landmarks)


def composite(
    frames: torch.Tensor,
    image: torch.Tensor,
    mask: torch.Tensor,
    trans_params: np.ndarray,
    cfg: BlendConfig,
    landmarks: torch.Tensor | None = None,
) -> BlendResult:
    """Blend aligned-crop renders into frames through the morphology-augmented mask.

    Parameters
    ----------
    frames: (B, 3, H, W) float in [0, 1], the W0 x H0 frames of ``trans_params`` resized to H x W.
    image: (B, 3, 224, 224) render in [0, 1]; mask: (B, 1, 224, 224) its rasterizer mask.
    trans_params: (B, 5) ``align_img`` parameters.
    landmarks: (B, 68, 2) 3DMM landmarks in the 224 crop (y down); given, the result also holds the
        paste-back mask of ``cfg.paste_region`` (:func:`~gsmoothface.blend.paste.paste_mask`).

    Returns
    -------
    :class:`BlendResult` at H x W; wherever ``mask`` is 0, ``blended`` equals ``frames`` exactly.
    """
    aug = mafb_mask(mask, cfg.closing_size, cfg.dilate_width, cfg.dilate_height, cfg.split_row)
    hw = (frames.shape[-2], frames.shape[-1])
    render = uncrop(image, trans_params, hw).clamp(0.0, 1.0)
    m = uncrop(aug, trans_params, hw).clamp(0.0, 1.0)  # bicubic: a soft edge, exactly 0 far outside
    blended = frames * (1.0 - m) + render * m
    paste = None
    if landmarks is not None:
        # the lower face stays inside the face's own silhouette (closed render): the jagged render
        # edge and the band the MAFB dilation adds below the jaw keep the frame's pixels
        region = (
            aug
            if cfg.paste_region == "full"
            else closing(mask, ellipse_kernel(cfg.closing_size, cfg.closing_size))
        )
        soft = paste_mask(region, landmarks, cfg.paste_region, cfg.paste_erode, cfg.paste_feather)
        paste = uncrop(soft, trans_params, hw, "bilinear").clamp(0.0, 1.0) * m
    return BlendResult(blended=blended, mask=m, render=render, paste=paste)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(frames, dtype=np.uint8)).permute(0, 3, 1, 2).float() / 255.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) float in [0, 1] -> (B, H, W, C) uint8 (rounded)."""
    return (images.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def blend_clip(
    blender: MafbBlender,
    frame_chunks: Iterable[np.ndarray],
    coeff: np.ndarray,
    trans_params: np.ndarray,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Blend a clip chunk by chunk (memory independent of the clip's length).

    Parameters
    ----------
    frame_chunks: (n, S, S, 3) uint8 chunks of consecutive frames, at the blend resolution.
    coeff: (T, 257) coefficients; trans_params: (T, 5). Frame i pairs with row i.

    Yields
    ------
    (blended (n,S,S,3) uint8, mask (n,S,S) uint8, frames (n,S,S,3) uint8) per chunk.
    """
    start = 0
    for chunk in frame_chunks:
        stop = start + len(chunk)
        result = blender(
            to_tensor(chunk),
            torch.from_numpy(np.asarray(coeff[start:stop], dtype=np.float32)),
            np.asarray(trans_params[start:stop], dtype=np.float64),
        )
        yield to_uint8(result.blended), to_uint8(result.mask)[..., 0], chunk
        start = stop
