"""Render predicted expressions on the face model's mean face (no pose), with the audio muxed in.

This is GSmoothFace's step 3.1 check video: identity, texture, pose and lighting at zero, only the
expression coefficients change, rendered at the 224 raster of Deep3DFace's camera.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch


@torch.no_grad()
def render_expressions(
    exp: np.ndarray,
    face_model: Any,
    out_path: str | Path,
    audio_path: str | Path | None = None,
    fps: int = 25,
    size: int = 224,
    batch: int = 16,
    backend: str = "auto",
) -> None:
    """Write an mp4 of the mean face driven by ``exp`` (T, 64), one frame per row, audio muxed."""
    from gsmoothface.media import VideoWriter
    from gsmoothface.render import MeshRenderer

    device = face_model.mouth_mask.device
    renderer = MeshRenderer(size=size, backend=backend)
    tri = face_model.face_buf
    with VideoWriter(out_path, size, size, fps=fps, audio_path=audio_path) as writer:
        for start in range(0, exp.shape[0], batch):
            chunk = torch.from_numpy(exp[start : start + batch]).float().to(device)  # (b, 64)
            coeff = torch.zeros(chunk.shape[0], 257, device=device)
            coeff[:, 80:144] = chunk
            vertices_cam, _, color, _ = face_model.compute_for_render(coeff)
            image = renderer(vertices_cam, tri, color).image  # (b, 3, H, W) in [0, 1]
            frames = (image.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            writer.write(frames)
