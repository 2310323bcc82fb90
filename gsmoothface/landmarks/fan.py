"""face-alignment's FAN 2D-68 (Bulat & Tzimiropoulos, ICCV 2017) with its S3FD face detector.

The GSmoothFace preprocessing recipe takes its 68 landmarks from FAN. Weights are never downloaded:
they are read from ``$TORCH_HOME/hub/checkpoints`` (where face-alignment caches them) or from a path
given in params. Detection and landmark regression run batched, on the GPU when there is one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError, MissingAssetError

FAN_FILE = "2DFAN4-11f355bf06.pth.tar"
FAN_URL = "https://www.adrianbulat.com/downloads/python-fan/" + FAN_FILE
S3FD_FILE = "s3fd-619a316812.pth"
S3FD_URL = "https://www.adrianbulat.com/downloads/python-fan/" + S3FD_FILE


def resolve_fan_weights(fan_weights: str | Path | None = None) -> tuple[Path, Path]:
    """Locate the FAN and S3FD checkpoints.

    Parameters
    ----------
    fan_weights: the FAN checkpoint file (S3FD is looked for beside it), a folder holding both, or
        ``None`` for ``$TORCH_HOME/hub/checkpoints``.

    Returns
    -------
    (fan_path, s3fd_path)

    Raises
    ------
    MissingAssetError: a file is missing; the message names it and the URL to fetch it from.
    """
    if fan_weights is None:
        import torch

        folder = Path(torch.hub.get_dir()) / "checkpoints"
        fan_path = folder / FAN_FILE
    else:
        fan_weights = Path(fan_weights)
        folder = fan_weights if fan_weights.is_dir() else fan_weights.parent
        fan_path = fan_weights / FAN_FILE if fan_weights.is_dir() else fan_weights
    s3fd_path = folder / S3FD_FILE
    for path, url in ((fan_path, FAN_URL), (s3fd_path, S3FD_URL)):
        if not path.is_file():
            raise MissingAssetError(
                f"{path} missing (face-alignment FAN 2D-68 landmarks): download {url} into "
                f"$TORCH_HOME/hub/checkpoints/ or point the fan_weights param at a folder holding "
                f"{FAN_FILE} and {S3FD_FILE}"
            )
    return fan_path, s3fd_path


class FanSource:
    """S3FD face detection + FAN 2D-68 heatmap regression, batched.

    Parameters
    ----------
    fan_weights: see :func:`resolve_fan_weights`.
    device: torch device name.
    batch_size: frames per forward pass.
    detect_size: frames are shrunk so that their longer side is at most this many pixels for face
        detection (S3FD cost grows with the image area); FAN crops come from the full frame.
    """

    name = "fan"

    def __init__(
        self,
        fan_weights: str | Path | None = None,
        device: str = "cpu",
        batch_size: int = 16,
        detect_size: int = 640,
    ) -> None:
        import torch
        from face_alignment.detection.sfd.sfd_detector import SFDDetector
        from face_alignment.models import FAN

        fan_path, s3fd_path = resolve_fan_weights(fan_weights)
        self.device = str(device)
        self.batch_size = batch_size
        self.detect_size = detect_size
        try:
            self._detector = SFDDetector(device=self.device, path_to_detector=str(s3fd_path))
            state = torch.load(fan_path, map_location=self.device, weights_only=True)
            self._net = FAN(4)
            self._net.load_state_dict(state)
        except (RuntimeError, KeyError, OSError) as exc:
            raise InputError(f"{fan_path} / {s3fd_path}: not FAN 2D-68 / S3FD checkpoints: {exc}") from None
        self._net.to(self.device).eval()

    def detect(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of ``frames`` (n, H, W, 3) uint8 RGB -> ((n, 68, 2) float32 y down, (n,) bool)."""
        n = len(frames)
        lm68 = np.full((n, 68, 2), np.nan, np.float32)
        valid = np.zeros(n, bool)
        for start in range(0, n, self.batch_size):
            chunk = frames[start : start + self.batch_size]
            points, found = self._detect_chunk(chunk)
            lm68[start : start + len(chunk)][found] = points
            valid[start : start + len(chunk)] = found
        return lm68, valid

    def _detect_chunk(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch
        from face_alignment.utils import crop

        boxes = self._face_boxes(frames)
        found = np.array([b is not None for b in boxes], bool)
        if not found.any():
            return np.zeros((0, 68, 2), np.float32), found
        centers, scales, crops = [], [], []
        for frame, box in zip(frames, boxes, strict=True):
            if box is None:
                continue
            # face-alignment's box -> (centre, scale) convention, centre moved up by 12% of the height
            x0, y0, x1, y1 = box
            center = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0 - (y1 - y0) * 0.12])
            scale = (x1 - x0 + y1 - y0) / self._detector.reference_scale
            centers.append(center)
            scales.append(scale)
            crops.append(crop(frame, center, scale))  # (256, 256, 3)
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)  # (m, 3, 256, 256)
        with torch.no_grad():
            heatmaps = self._net(batch.to(self.device, torch.float32) / 255.0)
        if isinstance(heatmaps, list):
            heatmaps = heatmaps[-1]
        heatmaps = heatmaps.float().cpu().numpy()  # (m, 68, 64, 64)
        return heatmap_peaks(heatmaps, np.stack(centers), np.array(scales)), found

    def _face_boxes(self, frames: np.ndarray) -> list[tuple[float, float, float, float] | None]:
        """The largest detected face per frame as (x0, y0, x1, y1) frame pixels, or None."""
        import torch
        import torch.nn.functional as F

        height, width = frames.shape[1:3]
        scale = min(1.0, self.detect_size / max(height, width))
        batch = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).float()
        if scale < 1.0:
            size = (round(height * scale), round(width * scale))
            batch = F.interpolate(batch, size=size, mode="area")
        detections = self._detector.detect_from_batch(batch)
        boxes: list[tuple[float, float, float, float] | None] = []
        for dets in detections:
            if len(dets) == 0:
                boxes.append(None)
                continue
            best = max(dets, key=lambda d: (d[2] - d[0]) * (d[3] - d[1]))
            boxes.append(tuple(float(v) / scale for v in best[:4]))  # type: ignore[arg-type]
        return boxes


def heatmap_peaks(heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Landmark positions in frame pixels from FAN heatmaps.

    Follows face-alignment's decoding (arg-max, a quarter-pixel step towards the larger
    neighbour, the crop's centre/scale mapping back to the frame) in vectorised form, and keeps
    sub-pixel precision where face-alignment rounds to whole pixels.

    Parameters
    ----------
    heatmaps: (m, 68, R, R) float.
    centers: (m, 2) crop centres (frame px); scales: (m,) face scales (crop side = 200 * scale).

    Returns
    -------
    (m, 68, 2) float32, x right, y down.
    """
    m, n, res, _ = heatmaps.shape
    flat = heatmaps.reshape(m, n, res * res)
    idx = flat.argmax(axis=-1)  # (m, 68)
    px, py = idx % res, idx // res  # 0-based heatmap cell
    inner = (px > 0) & (px < res - 1) & (py > 0) & (py < res - 1)
    xl, xr = np.clip(px - 1, 0, res - 1), np.clip(px + 1, 0, res - 1)
    yu, yd = np.clip(py - 1, 0, res - 1), np.clip(py + 1, 0, res - 1)
    take = np.take_along_axis
    dx = (
        take(flat, (py * res + xr)[..., None], -1)[..., 0]
        - take(flat, (py * res + xl)[..., None], -1)[..., 0]
    )
    dy = (
        take(flat, (yd * res + px)[..., None], -1)[..., 0]
        - take(flat, (yu * res + px)[..., None], -1)[..., 0]
    )
    # face-alignment's 1-based cell index, refined, minus half a cell
    x = px + 1 + inner * np.sign(dx) * 0.25 - 0.5
    y = py + 1 + inner * np.sign(dy) * 0.25 - 0.5
    side = 200.0 * scales[:, None]  # (m, 1) crop side in frame px
    x = x * side / res + centers[:, 0:1] - side / 2
    y = y * side / res + centers[:, 1:2] - side / 2
    return np.stack([x, y], axis=-1).astype(np.float32)
