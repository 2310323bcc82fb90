"""Render the face of the true coefficients at frame size, with detail finer than the 3DMM texture.

The face is rendered with :class:`~gsmoothface.render.MeshRenderer` at the frame size S (focal
1015 S / 224, centre S / 2: the Deep3DFace camera, scaled), so projecting the coefficients with
that camera gives the frame pixel of every vertex. On top of the SH-lit albedo of the coefficients
the frame gets (a) skin detail: a per-speaker pore/blotch/freckle texture looked up per pixel at the
mesh's mean-shape position (UV-like coordinates interpolated by the renderer, so the detail sticks
to the skin), and (b) a Blinn-Phong highlight from the key light of the SH lighting. The silhouette
(outline, mouth opening) is antialiased.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gsmoothface.face_model.camera import CENTER, FOCAL, RASTER_SIZE
from gsmoothface.face_model.model import FaceModel
from gsmoothface.render import MeshRenderer, interpolate, rasterize

UV_EXTENT = 1.0  # mean-shape |x|, |y| (dm) mapped to the detail texture's [-1, 1]
SHININESS = 24.0  # Blinn-Phong exponent of skin highlights


def frame_projection(model: FaceModel, coeff: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera-space vertices and the frame pixels of all vertices.

    Parameters
    ----------
    coeff: (B, 257) float32.
    size: frame side S (pixels).

    Returns
    -------
    vertices_cam (B, N, 3) (z = depth, dm) and pixels (B, N, 2) y-down, pixel centre = integer
    coordinate, in the S x S frame: ``x = f X / Z + S / 2 - 0.5``, ``y = S / 2 - f Y / Z - 0.5``
    with ``f = 1015 S / 224`` (the renderer's pixel-centre convention).
    """
    c = model.split_coeff(coeff)
    shape = model.compute_shape(c["id"], c["exp"])  # (B, N, 3)
    rot = model.compute_rotation(c["angle"])
    vertices_cam = model.to_camera(model.transform(shape, rot, c["trans"]))
    scale = size / RASTER_SIZE
    uv = (FOCAL * vertices_cam[..., :2] / vertices_cam[..., 2:] + CENTER) * scale  # (B, N, 2), v up
    pixels = torch.stack([uv[..., 0] - 0.5, size - 0.5 - uv[..., 1]], dim=-1)
    return vertices_cam, pixels


def frame_landmarks(model: FaceModel, coeff: torch.Tensor, size: int) -> torch.Tensor:
    """The 68 landmarks (B, 68, 2) of coefficients (B, 257) in S x S frame pixels, y down."""
    return frame_projection(model, coeff, size)[1][:, model.keypoints]


class FaceLayer:
    """Renders the detailed face of a speaker's coefficients at frame size.

    Parameters
    ----------
    model: the face model (CPU).
    size: frame side S.
    backend: renderer backend (``auto``/``cpu``/``cuda``).
    """

    def __init__(self, model: FaceModel, size: int, backend: str = "auto") -> None:
        self.model = model
        self.size = size
        self.renderer = MeshRenderer(size=size, backend=backend)  # type: ignore[arg-type]
        mean = model.mean_shape.reshape(-1, 3)
        # texture coordinates for grid_sample: x right, y down, in [-1, 1]
        self.uv = torch.stack([mean[:, 0], -mean[:, 1]], dim=-1) / UV_EXTENT  # (N, 2)
        height = (mean[:, 2] - mean[:, 2].min()) / (mean[:, 2].max() - mean[:, 2].min())
        self.oiliness = (0.3 + 0.7 * height**2)[:, None]  # (N, 1): nose and forehead shine most

    def window(self, coeff: torch.Tensor, margin: int = 2) -> tuple[int, int, int, int]:
        """Frame box (r0, r1, c0, c1) that holds every vertex of all frames of ``coeff`` (B, 257)."""
        with torch.no_grad():
            _, pixels = frame_projection(self.model, coeff, self.size)
        lo = pixels.reshape(-1, 2).amin(dim=0).floor().int() - margin
        hi = pixels.reshape(-1, 2).amax(dim=0).ceil().int() + margin + 1
        c0, r0 = (int(v) for v in lo.clamp(0, self.size - 1))
        c1, r1 = (int(v) for v in hi.clamp(1, self.size))
        return r0, r1, c0, c1

    @torch.no_grad()
    def render(
        self,
        coeff: torch.Tensor,
        window: tuple[int, int, int, int],
        detail: np.ndarray,
        detail_strength: float,
        specular: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Render B frames of one speaker inside a frame box.

        The renderer's camera is the frame camera of :class:`MeshRenderer` at size S; only the box
        is rasterized (its clip space is the frame's, rescaled to the box).

        Parameters
        ----------
        coeff: (B, 257) float32 true coefficients.
        window: (r0, r1, c0, c1) frame box, e.g. from :meth:`window`.
        detail: (R, R) float32 zero-mean skin-detail texture of the speaker.
        detail_strength: relative albedo modulation by the detail texture.
        specular: highlight strength.

        Returns
        -------
        colour (B, h, w, 3) float32 in [0, 1] and coverage (B, h, w) float32 in [0, 1] (the mask,
        antialiased by a 3x3 box filter) of the box (h = r1 - r0, w = c1 - c0).
        """
        model = self.model
        c = model.split_coeff(coeff)
        shape = model.compute_shape(c["id"], c["exp"])  # (B, N, 3)
        rot = model.compute_rotation(c["angle"])
        vertices_cam = model.to_camera(model.transform(shape, rot, c["trans"]))
        normals = model.compute_norm(shape) @ rot  # (B, N, 3)
        albedo = model.compute_texture(c["tex"][:1]).expand(coeff.shape[0], -1, -1)  # one speaker
        colour = model.compute_color(albedo, normals, c["gamma"])
        colour = colour + specular * self.oiliness * self._highlight(normals, c["gamma"])
        batch = coeff.shape[0]
        feat = torch.cat([colour, self.uv.expand(batch, -1, -1)], dim=-1)  # (B, N, 5)
        r0, r1, c0, c1 = window
        clip = _to_window(self.renderer.to_clip(vertices_cam), self.size, window)
        rast = rasterize(clip, model.face_buf, (r1 - r0, c1 - c0), self.renderer.backend)
        image = interpolate(feat, rast, model.face_buf, self.renderer.backend)  # (B, h, w, 5)
        mask = (rast[..., 3] > 0).float()  # (B, h, w)
        texture = torch.from_numpy(detail)[None, None].expand(batch, 1, -1, -1)
        fine = F.grid_sample(
            texture, image[..., 3:5], mode="bilinear", padding_mode="reflection", align_corners=False
        )
        rgb = image[..., :3] * (1.0 + detail_strength * fine[:, 0, :, :, None])
        rgb = (rgb.clamp(0.0, 1.0) * mask[..., None]).permute(0, 3, 1, 2)  # (B, 3, h, w)
        # antialiased silhouette: box-filtered coverage, and the fringe just outside the mesh
        # filled with a covered neighbour's colour (no dark halo; rgb is 0 off the mesh)
        inside = mask[:, None]  # (B, 1, h, w)
        coverage = F.avg_pool2d(inside, 3, stride=1, padding=1)
        b, _, y, x = torch.nonzero((coverage > 0) & (inside == 0), as_tuple=True)  # the fringe pixels
        height, width = mask.shape[1:]
        neighbours = torch.stack(
            [
                rgb[b, :, (y - 1).clamp_min(0), x],
                rgb[b, :, (y + 1).clamp_max(height - 1), x],
                rgb[b, :, y, (x - 1).clamp_min(0)],
                rgb[b, :, y, (x + 1).clamp_max(width - 1)],
            ]
        )  # (4, n, 3)
        rgb[b, :, y, x] = neighbours.amax(dim=0)
        return rgb.permute(0, 2, 3, 1).numpy(), coverage[:, 0].numpy()

    @staticmethod
    def _highlight(normals: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """Blinn-Phong highlight (B, N, 1) of the key light encoded in the first-order SH bands."""
        g = gamma.reshape(-1, 3, 9).mean(dim=1)  # (B, 9) averaged over RGB
        # Y1 ~ -y, Y2 ~ z, Y3 ~ -x: the first-order coefficients point toward the light
        light = torch.stack([-g[:, 3], -g[:, 1], g[:, 2] + 0.5], dim=-1)
        light = F.normalize(light, dim=-1)
        half = F.normalize(light + light.new_tensor([0.0, 0.0, 1.0]), dim=-1)  # viewer along +z
        return (normals @ half[:, :, None]).clamp_min(0.0) ** SHININESS

    def plain(self, coeff: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """A plain render of the coefficients (SH-lit albedo only, no detail, no antialiasing).

        Returns
        -------
        colour (B, S, S, 3) float32 and mask (B, S, S) float32.
        """
        with torch.no_grad():
            vertices_cam, _ = frame_projection(self.model, coeff, self.size)
            _, _, colour, _ = self.model.compute_for_render(coeff)
            result = self.renderer(vertices_cam, self.model.face_buf, colour)
        assert result.image is not None
        return result.image.clamp(0, 1).permute(0, 2, 3, 1).numpy(), result.mask[:, 0].numpy()


def _to_window(clip: torch.Tensor, size: int, window: tuple[int, int, int, int]) -> torch.Tensor:
    """Clip-space positions (B, N, 4) of an S x S raster -> those of its box (r0, r1, c0, c1).

    A raster coordinate p = (ndc + 1) S / 2 of the frame becomes p - p0 in a box of extent E, i.e.
    ndc' = (ndc + 1) S / E - 2 p0 / E - 1; multiplied by w to stay in homogeneous clip space.
    """
    r0, r1, c0, c1 = window
    x, y, z, w = clip.unbind(-1)
    width, height = c1 - c0, r1 - r0
    x = x * (size / width) + w * (size / width - 2 * c0 / width - 1)
    y = y * (size / height) + w * (size / height - 2 * r0 / height - 1)
    return torch.stack([x, y, z, w], dim=-1)
