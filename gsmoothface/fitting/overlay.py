"""Contact sheet of a fit: detected and fitted landmarks drawn on a few frames of the clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gsmoothface.atomic import atomic_path
from gsmoothface.face_model.model import FaceModel
from gsmoothface.fitting.clip import VIDEO_NAME, ClipFit

DETECTED_RGB = (40, 220, 40)  # green: the landmarks the fit was given
FITTED_RGB = (255, 40, 40)  # red: the fitted model's landmarks
INVALID_RGB = (255, 200, 0)  # frame border of frames whose landmarks were interpolated


def fitted_landmarks_frame(fit: ClipFit, model: FaceModel) -> np.ndarray:
    """The fitted model's 68 landmarks (T,68,2) in clip pixels, y down."""
    from gsmoothface.landmarks.align import points_from_crop

    with torch.no_grad():
        lm224 = model.landmarks_224(torch.from_numpy(fit.coeff).to(model.mean_shape.device)).cpu().numpy()
    return points_from_crop(lm224, fit.trans_params).astype(np.float32)


def write_overlay(
    path: str | Path, clip_dir: str | Path, fit: ClipFit, model: FaceModel, n_frames: int = 4, tile: int = 384
) -> None:
    """Write a PNG row of ``n_frames`` evenly spaced frames with detected (green) and fitted (red) points."""
    from gsmoothface.media import iter_frames

    picks = np.linspace(0, len(fit.coeff) - 1, n_frames).round().astype(int)
    frames: dict[int, np.ndarray] = {}
    start = 0
    for chunk in iter_frames(Path(clip_dir) / VIDEO_NAME, chunk=64):  # never the whole clip in memory
        frames |= {int(t): chunk[t - start] for t in picks if start <= t < start + len(chunk)}
        start += len(chunk)
    fitted = fitted_landmarks_frame(fit, model)
    sheet = Image.new("RGB", (tile * n_frames, tile))
    for column, t in enumerate(picks):
        image = Image.fromarray(frames[int(t)])
        scale = tile / max(image.size)
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR
        )
        draw = ImageDraw.Draw(image)
        for points, colour in ((fit.lm68[t], DETECTED_RGB), (fitted[t], FITTED_RGB)):
            for x, y in points * scale:
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        if not fit.valid[t]:
            draw.rectangle((0, 0, image.width - 1, image.height - 1), outline=INVALID_RGB, width=4)
        draw.text((6, 6), f"frame {t}  residual {fit.residual[t]:.2f} px@224", fill=(255, 255, 255))
        sheet.paste(image, (column * tile, 0))
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
