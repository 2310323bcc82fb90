"""The parametric face model: 257 coefficients -> shape, albedo, SH-lit colour, 68 landmarks.

A re-implementation of the forward pass of Deep3DFaceRecon's ``ParametricFaceModel``
(Deng et al. 2019, "Accurate 3D Face Reconstruction with Weakly-Supervised Learning"), batched,
float32, in torch. Works for the BFM09 front model and for the synthetic model alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gsmoothface.face_model.camera import CAMERA_DISTANCE, CENTER, FOCAL, RASTER_SIZE
from gsmoothface.face_model.mouth_mask import mouth_mask_from_keypoints

# Coefficient layout (257): id 0:80 | exp 80:144 | tex 144:224 | angle 224:227 | gamma 227:254 |
# trans 254:257.
COEFF_SLICES: dict[str, slice] = {
    "id": slice(0, 80),
    "exp": slice(80, 144),
    "tex": slice(144, 224),
    "angle": slice(224, 227),
    "gamma": slice(227, 254),
    "trans": slice(254, 257),
}
N_COEFF = 257

# Spherical-harmonics constants (Ramamoorthi & Hanrahan's irradiance environment map, as in Deep3DFace):
# a_l are the Lambertian kernel coefficients, c_l the SH normalisations.
SH_A = (math.pi, 2.0 * math.pi / math.sqrt(3.0), 2.0 * math.pi / math.sqrt(8.0))
SH_C = (
    1.0 / math.sqrt(4.0 * math.pi),
    math.sqrt(3.0) / math.sqrt(4.0 * math.pi),
    3.0 * math.sqrt(5.0) / math.sqrt(12.0 * math.pi),
)
INIT_LIGHT = 0.8  # ambient SH coefficient added to gamma[0] of every channel (gamma = 0 -> 0.709 x albedo)


class FaceModel(nn.Module):
    """BFM09-style morphable model (Deep3DFace layout) with 0-based int64 indices.

    Parameters
    ----------
    arrays: BFM_model_front keys (``meanshape``, ``idBase``, ``exBase``, ``meantex``, ``texBase``,
        ``tri``, ``point_buf``, ``keypoints``, ``frontmask2_idx``, ``tri_mask2``, ``skinmask``) with
        1-based indices, as read by :func:`gsmoothface.face_model.bfm_io.load_model_arrays`.
    recenter: subtract the mean vertex from the mean shape (Deep3DFace default).

    All arrays are non-persistent buffers, so ``.to(device)`` moves the whole model.
    """

    mean_shape: torch.Tensor  # (3N,) decimetres, xyz interleaved
    id_base: torch.Tensor  # (3N, 80)
    exp_base: torch.Tensor  # (3N, 64)
    mean_tex: torch.Tensor  # (3N,) 0-255
    tex_base: torch.Tensor  # (3N, 80)
    face_buf: torch.Tensor  # (F, 3) int64
    point_buf: torch.Tensor  # (N, 8) int64, padding index F -> the appended zero normal
    keypoints: torch.Tensor  # (68,) int64, iBUG order
    front_mask_idx: torch.Tensor  # (Nf,) int64
    front_face_buf: torch.Tensor  # (Ff, 3) int64, local to front_mask_idx
    skin_mask: torch.Tensor  # (N,) float32 0/1
    mouth_mask: torch.Tensor  # (N,) bool
    init_light: torch.Tensor  # (1, 1, 9)

    def __init__(self, arrays: Mapping[str, np.ndarray], recenter: bool = True) -> None:
        super().__init__()
        mean_shape = np.asarray(arrays["meanshape"], dtype=np.float64).reshape(-1)
        if recenter:
            mean_shape = (mean_shape.reshape(-1, 3) - mean_shape.reshape(-1, 3).mean(axis=0)).reshape(-1)

        def index(key: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(arrays[key]).astype(np.int64) - 1)

        def floats(value: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))

        self.register_buffer("mean_shape", floats(mean_shape), persistent=False)
        self.register_buffer("id_base", floats(arrays["idBase"]), persistent=False)
        self.register_buffer("exp_base", floats(arrays["exBase"]), persistent=False)
        self.register_buffer("mean_tex", floats(np.asarray(arrays["meantex"]).reshape(-1)), persistent=False)
        self.register_buffer("tex_base", floats(arrays["texBase"]), persistent=False)
        self.register_buffer("face_buf", index("tri"), persistent=False)
        self.register_buffer("point_buf", index("point_buf"), persistent=False)
        self.register_buffer("keypoints", index("keypoints").reshape(-1), persistent=False)
        self.register_buffer("front_mask_idx", index("frontmask2_idx").reshape(-1), persistent=False)
        self.register_buffer("front_face_buf", index("tri_mask2"), persistent=False)
        self.register_buffer(
            "skin_mask", floats(np.asarray(arrays["skinmask"]).reshape(-1)), persistent=False
        )
        mouth = mouth_mask_from_keypoints(mean_shape.reshape(-1, 3), self.keypoints.numpy())
        self.register_buffer("mouth_mask", torch.from_numpy(mouth), persistent=False)
        init = torch.zeros(1, 1, 9)
        init[..., 0] = INIT_LIGHT
        self.register_buffer("init_light", init, persistent=False)

    @property
    def n_vertices(self) -> int:
        """Number of mesh vertices N."""
        return self.mean_shape.shape[0] // 3

    @staticmethod
    def split_coeff(coeff: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split (B, 257) coefficients into id (B,80), exp (B,64), tex (B,80), angle (B,3) radians,
        gamma (B,27) and trans (B,3) decimetres."""
        if coeff.shape[-1] != N_COEFF:
            raise ValueError(f"expected {N_COEFF} coefficients in the last dimension, got {coeff.shape[-1]}")
        return {name: coeff[..., sl] for name, sl in COEFF_SLICES.items()}

    def expression_offsets(self, exp: torch.Tensor) -> torch.Tensor:
        """Vertex offsets (..., N, 3) in decimetres of expression coefficients (..., 64)."""
        offsets = exp @ self.exp_base.T  # (..., 3N)
        return offsets.reshape(*exp.shape[:-1], -1, 3)

    def compute_shape(self, id_coeff: torch.Tensor, exp_coeff: torch.Tensor) -> torch.Tensor:
        """Model-space shape (B, N, 3) in decimetres from id (B, 80) and exp (B, 64)."""
        shape = id_coeff @ self.id_base.T + exp_coeff @ self.exp_base.T + self.mean_shape  # (B, 3N)
        return shape.reshape(shape.shape[0], -1, 3)

    def compute_texture(self, tex_coeff: torch.Tensor) -> torch.Tensor:
        """Albedo (B, N, 3) RGB, nominally in [0, 1] (not clamped), from tex (B, 80)."""
        texture = (tex_coeff @ self.tex_base.T + self.mean_tex) / 255.0  # (B, 3N)
        return texture.reshape(texture.shape[0], -1, 3)

    def compute_norm(self, shape: torch.Tensor) -> torch.Tensor:
        """Unit vertex normals (B, N, 3): the sum of the incident faces' unit normals.

        Face normal = (v1 - v2) x (v2 - v3), right-handed for counter-clockwise winding; a zero
        normal appended at index F serves ``point_buf``'s padding entries.
        """
        v1 = shape[:, self.face_buf[:, 0]]
        v2 = shape[:, self.face_buf[:, 1]]
        v3 = shape[:, self.face_buf[:, 2]]
        face_norm = F.normalize(torch.linalg.cross(v1 - v2, v2 - v3, dim=-1), dim=-1)  # (B, F, 3)
        face_norm = torch.cat([face_norm, face_norm.new_zeros(shape.shape[0], 1, 3)], dim=1)  # (B, F+1, 3)
        vertex_norm = face_norm[:, self.point_buf].sum(dim=2)  # (B, N, 8, 3) -> (B, N, 3)
        return F.normalize(vertex_norm, dim=-1)

    @staticmethod
    def compute_rotation(angle: torch.Tensor) -> torch.Tensor:
        """Rᵀ (B, 3, 3) for row vectors, R = Rz(roll) · Ry(yaw) · Rx(pitch), angles (B, 3) radians."""
        x, y, z = angle[:, 0], angle[:, 1], angle[:, 2]
        one, zero = torch.ones_like(x), torch.zeros_like(x)
        rot_x = torch.stack([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], 1)
        rot_y = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], 1)
        rot_z = torch.stack([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], 1)
        rot = rot_z.reshape(-1, 3, 3) @ rot_y.reshape(-1, 3, 3) @ rot_x.reshape(-1, 3, 3)
        return rot.transpose(1, 2)

    @staticmethod
    def transform(shape: torch.Tensor, rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
        """Rigid transform of (B, N, 3): ``shape @ rot + trans`` with ``rot`` = Rᵀ, trans (B, 3) dm."""
        return shape @ rot + trans.unsqueeze(1)

    @staticmethod
    def to_camera(vertices: torch.Tensor) -> torch.Tensor:
        """World (B, N, 3) -> camera space: z becomes the depth ``CAMERA_DISTANCE - z`` (not in place)."""
        return torch.cat([vertices[..., :2], CAMERA_DISTANCE - vertices[..., 2:]], dim=-1)

    @staticmethod
    def to_image(vertices_cam: torch.Tensor) -> torch.Tensor:
        """Pinhole projection (B, N, 3) -> (B, N, 2) pixels of the 224 crop, v pointing UP."""
        return FOCAL * vertices_cam[..., :2] / vertices_cam[..., 2:] + CENTER

    def compute_color(self, albedo: torch.Tensor, normals: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """Lambertian SH shading (B, N, 3) = albedo x irradiance(normals; gamma (B, 27) + 0.8 ambient)."""
        a, c = SH_A, SH_C
        gamma = gamma.reshape(-1, 3, 9) + self.init_light  # (B, 3 channels, 9)
        nx, ny, nz = normals[..., 0:1], normals[..., 1:2], normals[..., 2:3]
        basis = torch.cat(
            [
                a[0] * c[0] * torch.ones_like(nx),
                -a[1] * c[1] * ny,
                a[1] * c[1] * nz,
                -a[1] * c[1] * nx,
                a[2] * c[2] * nx * ny,
                -a[2] * c[2] * ny * nz,
                0.5 * a[2] * c[2] / math.sqrt(3.0) * (3.0 * nz**2 - 1.0),
                -a[2] * c[2] * nx * nz,
                0.5 * a[2] * c[2] * (nx**2 - ny**2),
            ],
            dim=-1,
        )  # (B, N, 9)
        irradiance = basis @ gamma.transpose(1, 2)  # (B, N, 3)
        return irradiance * albedo

    def compute_for_render(
        self, coeff: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Full forward of (B, 257) coefficients.

        Returns
        -------
        vertices_cam (B, N, 3) camera space (z = depth, dm); albedo (B, N, 3); color (B, N, 3) lit;
        landmarks_yup (B, 68, 2) pixels of the 224 crop, v up.
        """
        c = self.split_coeff(coeff)
        shape = self.compute_shape(c["id"], c["exp"])
        rot = self.compute_rotation(c["angle"])
        vertices_cam = self.to_camera(self.transform(shape, rot, c["trans"]))
        landmarks_yup = self.to_image(vertices_cam[:, self.keypoints])
        albedo = self.compute_texture(c["tex"])
        normals = self.compute_norm(shape) @ rot
        color = self.compute_color(albedo, normals, c["gamma"])
        return vertices_cam, albedo, color, landmarks_yup

    def landmarks_224(self, coeff: torch.Tensor) -> torch.Tensor:
        """The 68 landmarks (B, 68, 2) of coefficients (B, 257) in 224-crop pixels, y DOWN (row = 223 - v)."""
        c = self.split_coeff(coeff)
        shape = self.compute_shape(c["id"], c["exp"])[:, self.keypoints]  # (B, 68, 3)
        rot = self.compute_rotation(c["angle"])
        uv = self.to_image(self.to_camera(self.transform(shape, rot, c["trans"])))
        return torch.stack([uv[..., 0], (RASTER_SIZE - 1) - uv[..., 1]], dim=-1)
