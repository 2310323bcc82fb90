"""Deep3DFace's ``MeshRenderer``: camera-space meshes -> mask, depth and image, top-down rows.

Camera of Deep3DFace (Deng et al. 2019, ``util/nvdiffrast.py``): pinhole with focal 1015 and centre
112 on a 224 raster (field of view 2 atan(112 / 1015)), near/far planes 5 / 15, camera looking down
+Z with +Y up. A render at size S keeps the field of view: focal 1015 S / 224, centre S / 2. As in
Deep3DFace, y is negated before projection, so rasterizer row 0 (NDC y = -1) is the top of the view
and every output is in ordinary top-down image order. No antialiasing.
"""

from __future__ import annotations

import dataclasses

import torch

from gsmoothface.render.raster import Backend, interpolate, rasterize

DEEP3D_FOCAL = 1015.0  # px at the 224 raster
DEEP3D_RASTER = 224  # px


@dataclasses.dataclass(frozen=True)
class RenderResult:
    """Output of :class:`MeshRenderer`, all (B, *, H, W), top-down rows, 0 on background.

    mask: (B, 1, H, W) float, 1 where a triangle covers the pixel centre.
    depth: (B, 1, H, W) camera-space Z of the visible surface.
    image: (B, C, H, W) interpolated vertex features, or None when none were given.
    """

    mask: torch.Tensor
    depth: torch.Tensor
    image: torch.Tensor | None


class MeshRenderer:
    """Render camera-space meshes with Deep3DFace's perspective camera.

    Parameters
    ----------
    size: raster size S in pixels (square).
    focal, center: pinhole focal length and principal point in pixels at size S; default
        1015 S / 224 and S / 2 (Deep3DFace's camera at any size).
    znear, zfar: clipping planes in camera units.
    backend: ``auto``, ``cpu`` or ``cuda`` (see :func:`gsmoothface.render.resolve_backend`).
    """

    def __init__(
        self,
        size: int = DEEP3D_RASTER,
        focal: float | None = None,
        center: float | None = None,
        znear: float = 5.0,
        zfar: float = 15.0,
        backend: Backend = "auto",
    ) -> None:
        self.size = int(size)
        self.focal = DEEP3D_FOCAL * self.size / DEEP3D_RASTER if focal is None else float(focal)
        self.center = self.size / 2.0 if center is None else float(center)
        self.znear = float(znear)
        self.zfar = float(zfar)
        self.backend = backend

    def projection(self) -> torch.Tensor:
        """(4, 4) float32 matrix taking camera-space (X, Y, Z, 1) to clip space, y flipped.

        x_ndc = (2 f / S) X / Z + 2 c / S - 1 and y_ndc = -(2 f / S) Y / Z + 1 - 2 c / S, so that
        the continuous top-down pixel row is S - (f Y / Z + c); z/w runs from -1 at znear to 1 at
        zfar; w = Z. At S = 224 this is Deep3DFace's ``ndc_proj`` with y negated.
        """
        s, f, c, n, far = self.size, self.focal, self.center, self.znear, self.zfar
        return torch.tensor(
            [
                [2 * f / s, 0.0, 2 * c / s - 1, 0.0],
                [0.0, -2 * f / s, 1 - 2 * c / s, 0.0],
                [0.0, 0.0, (far + n) / (far - n), -2 * far * n / (far - n)],
                [0.0, 0.0, 1.0, 0.0],
            ],
            dtype=torch.float32,
        )

    def to_clip(self, vertices_cam: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) camera-space vertices -> (B, N, 4) clip-space positions (differentiable).

        Equals ``[X, Y, Z, 1] @ projection().T``, written out over the matrix's non-zero entries
        (twice as fast as the matrix product on a CPU).
        """
        (p00, _, p02, _), (_, p11, p12, _), (_, _, p22, p23), _ = self.projection().tolist()
        x, y, z = vertices_cam.unbind(-1)  # (B, N) each
        return torch.stack([x * p00 + z * p02, y * p11 + z * p12, z * p22 + p23, z], dim=-1)

    def __call__(
        self,
        vertices_cam: torch.Tensor,
        tri: torch.Tensor,
        feat: torch.Tensor | None = None,
    ) -> RenderResult:
        """Render a batch of meshes.

        Parameters
        ----------
        vertices_cam: (B, N, 3) camera-space vertices (Deep3DFace ``compute_for_render``, Z about 10).
        tri: (F, 3) integer vertex indices (0-based).
        feat: (B, N, C) per-vertex features (colours) or None.

        Returns
        -------
        :class:`RenderResult` with mask, depth (camera Z) and image; gradients reach ``feat`` and,
        through the barycentrics of covered pixels, ``vertices_cam``.
        """
        rast = rasterize(self.to_clip(vertices_cam), tri, (self.size, self.size), self.backend)
        mask = (rast[..., 3:4] > 0).to(vertices_cam.dtype).permute(0, 3, 1, 2)  # (B, 1, H, W)
        # one interpolation for features and depth: attr = [feat | Z], (B, N, C + 1)
        attr = vertices_cam[..., 2:3] if feat is None else torch.cat([feat, vertices_cam[..., 2:3]], dim=-1)
        # both backends write 0 on background, as Deep3DFace's ``* mask`` would
        values = interpolate(attr, rast, tri, self.backend).permute(0, 3, 1, 2)  # (B, C + 1, H, W)
        image = None if feat is None else values[:, :-1]
        return RenderResult(mask=mask, depth=values[:, -1:], image=image)
