"""The face model restricted to its 68 landmark vertices, and a pose guess from 2D landmarks.

The landmark stage of the fitter needs only 68 of the N vertices, so it slices the bases once
and never builds the full mesh: its cost per frame does not depend on the model size.
"""

from __future__ import annotations

import torch

from gsmoothface.face_model.camera import CAMERA_DISTANCE, CENTER, FOCAL, RASTER_SIZE
from gsmoothface.face_model.model import FaceModel

# Inner landmarks (brows, nose, eyes, mouth): iBUG 18-68. The jaw contour is left out of the pose
# guess because BFM's contour points are fixed vertices that slide off the silhouette with yaw.
INNER_LANDMARKS = tuple(range(17, 68))


class KeypointModel(torch.nn.Module):
    """Shape and projection of the 68 keypoint vertices of a :class:`FaceModel`."""

    def __init__(self, model: FaceModel) -> None:
        super().__init__()
        n = model.n_vertices
        kp = model.keypoints
        self.register_buffer("mean", model.mean_shape.reshape(n, 3)[kp].clone())  # (68, 3)
        self.register_buffer("id_base", model.id_base.reshape(n, 3, -1)[kp].clone())  # (68, 3, 80)
        self.register_buffer("exp_base", model.exp_base.reshape(n, 3, -1)[kp].clone())  # (68, 3, 64)

    def shape(self, id_coeff: torch.Tensor, exp: torch.Tensor) -> torch.Tensor:
        """Model-space keypoints (B,68,3) in dm from id (1|B,80) and exp (B,64)."""
        id_part = torch.einsum("kcd,bd->bkc", self.id_base, id_coeff)  # (1|B, 68, 3)
        exp_part = torch.einsum("kcd,bd->bkc", self.exp_base, exp)  # (B, 68, 3)
        return self.mean + id_part + exp_part

    def project(
        self, id_coeff: torch.Tensor, exp: torch.Tensor, angle: torch.Tensor, trans: torch.Tensor
    ) -> torch.Tensor:
        """Landmarks (B,68,2) in 224-crop pixels, y down, as ``FaceModel.landmarks_224``."""
        rot = FaceModel.compute_rotation(angle)  # (B, 3, 3) = R^T
        world = self.shape(id_coeff, exp) @ rot + trans.unsqueeze(1)  # (B, 68, 3)
        depth = CAMERA_DISTANCE - world[..., 2]  # (B, 68)
        u = FOCAL * world[..., 0] / depth + CENTER
        v_up = FOCAL * world[..., 1] / depth + CENTER
        return torch.stack([u, (RASTER_SIZE - 1) - v_up], dim=-1)


def initial_pose(keypoints: KeypointModel, lm224: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame head pose from 2D landmarks by a weak-perspective fit of the mean face.

    Each frame solves ``[u, v_up] = s R[:2] X + t`` for the 51 inner mean-face keypoints in least
    squares (one shared pseudo-inverse for all frames, as in POS), projects the two scaled rows to
    the nearest rotation and reads Deep3DFace's Euler angles (R = Rz Ry Rx) and translation from it.

    Parameters
    ----------
    lm224: (T,68,2) landmarks in 224-crop pixels, y down.

    Returns
    -------
    angle (T,3) radians and trans (T,3) decimetres.
    """
    idx = list(INNER_LANDMARKS)
    points = keypoints.mean[idx].double()  # (K, 3) model space
    target = lm224[:, idx].double()  # (T, K, 2)
    u = target[..., 0]
    v_up = (RASTER_SIZE - 1) - target[..., 1]
    design = torch.cat([points, torch.ones_like(points[:, :1])], dim=1)  # (K, 4)
    solve = torch.linalg.pinv(design)  # (4, K)
    row_u = u @ solve.T  # (T, 4): s R[0], t_u
    row_v = v_up @ solve.T  # (T, 4): s R[1], t_v
    scale = 0.5 * (row_u[:, :3].norm(dim=1) + row_v[:, :3].norm(dim=1))  # (T,) px per dm
    r1 = row_u[:, :3] / scale[:, None]
    r2 = row_v[:, :3] / scale[:, None]
    approx = torch.stack([r1, r2, torch.linalg.cross(r1, r2, dim=-1)], dim=1)  # (T, 3, 3)
    left, _, right = torch.linalg.svd(approx)
    fix = torch.ones_like(approx[:, 0])  # keep det = +1
    fix[:, 2] = torch.linalg.det(left @ right).sign()
    rot = left @ torch.diag_embed(fix) @ right  # nearest rotation, column-vector form
    pitch = torch.atan2(rot[:, 2, 1], rot[:, 2, 2])
    yaw = torch.asin((-rot[:, 2, 0]).clamp(-1.0, 1.0))
    roll = torch.atan2(rot[:, 1, 0], rot[:, 0, 0])
    # Weak perspective at the face: scale = FOCAL / (CAMERA_DISTANCE - tz).
    tz = CAMERA_DISTANCE - FOCAL / scale.clamp_min(1.0)
    tx = (row_u[:, 3] - CENTER) / scale
    ty = (row_v[:, 3] - CENTER) / scale
    angle = torch.stack([pitch, yaw, roll], dim=1).to(lm224.dtype)
    trans = torch.stack([tx, ty, tz], dim=1).to(lm224.dtype)
    return angle, trans
