"""The rasterizer interface shared by both backends, in the spirit of nvdiffrast.

``rasterize`` finds, for every pixel centre, the nearest triangle and its perspective-correct
barycentrics; ``interpolate`` blends vertex attributes with them. Both follow nvdiffrast's
conventions (instance mode, no antialiasing): rast = [u, v, z/w, triangle_id + 1], 0 on background,
row 0 at NDC y = -1 (bottom-up), pixel centres at +0.5, near/far clipping at z/w = -1 / +1.
Gradients reach the attributes and, through u and v, the clip positions of covered pixels' triangles
(no silhouette gradients, as nvdiffrast without ``antialias``); the CPU backend also differentiates
the z/w channel.
"""

from __future__ import annotations

from typing import Literal

import torch

from gsmoothface.errors import InputError
from gsmoothface.render.cpu import interpolate_cpu, rasterize_cpu
from gsmoothface.render.cuda import interpolate_cuda, nvdiffrast_available, rasterize_cuda

Backend = Literal["auto", "cpu", "cuda"]


def resolve_backend(backend: str, device: torch.device | str = "cpu") -> Literal["cpu", "cuda"]:
    """The backend that renders tensors on ``device``.

    ``auto`` -> ``cuda`` when ``device`` is a CUDA device and nvdiffrast is installed, else ``cpu``.
    """
    if backend == "auto":
        return "cuda" if torch.device(device).type == "cuda" and nvdiffrast_available() else "cpu"
    if backend in ("cpu", "cuda"):
        return backend  # type: ignore[return-value]
    raise InputError(f"render.backend must be one of auto, cpu, cuda; got {backend!r}")


# the last validated triangle tensor, its version counter and the vertex count it needs: a mesh's
# triangles are usually the same tensor frame after frame, so their range check is done once
_last_checked: tuple[torch.Tensor, int, int] | None = None


def _check_tri(tri: torch.Tensor, n_vertices: int) -> None:
    global _last_checked
    last = _last_checked
    if last is not None and last[0] is tri and last[1] == tri._version:
        needed = last[2]
    else:
        if tri.ndim != 2 or tri.shape[1] != 3 or tri.dtype.is_floating_point or tri.dtype == torch.bool:
            raise InputError(f"tri must be an integer tensor (F, 3); got {tuple(tri.shape)} {tri.dtype}")
        low, high = torch.aminmax(tri) if tri.numel() else (torch.tensor(0), torch.tensor(-1))
        if int(low) < 0:
            raise InputError("tri holds negative vertex indices")
        needed = int(high) + 1
        _last_checked = (tri, tri._version, needed)
    if needed > n_vertices:
        raise InputError(f"tri holds vertex indices outside [0, {n_vertices})")


def rasterize(
    pos_clip: torch.Tensor,
    tri: torch.Tensor,
    resolution: tuple[int, int],
    backend: Backend = "auto",
) -> torch.Tensor:
    """Rasterize triangles given in clip space.

    Parameters
    ----------
    pos_clip: (B, N, 4) clip-space positions (x, y, z, w); float32 is used internally.
    tri: (F, 3) integer vertex indices shared by the batch.
    resolution: (H, W) in pixels.
    backend: ``auto``, ``cpu`` or ``cuda`` (see :func:`resolve_backend`).

    Returns
    -------
    rast: (B, H, W, 4) float32 on ``pos_clip.device``: u, v (barycentric weights of the triangle's
        first and second vertex), z/w, triangle_id + 1 (0 = background, where u = v = z/w = 0).
        Row 0 is the bottom of the view (NDC y = -1), as in nvdiffrast.
    """
    if pos_clip.ndim != 3 or pos_clip.shape[2] != 4:
        raise InputError(f"pos_clip must be (B, N, 4); got {tuple(pos_clip.shape)}")
    _check_tri(tri, pos_clip.shape[1])
    height, width = (int(r) for r in resolution)
    if height <= 0 or width <= 0:
        raise InputError(f"resolution must be two positive sizes (H, W); got {resolution}")
    if resolve_backend(backend, pos_clip.device) == "cuda":
        return rasterize_cuda(pos_clip, tri, (height, width))
    return rasterize_cpu(pos_clip, tri, (height, width))


def interpolate(
    attr: torch.Tensor,
    rast: torch.Tensor,
    tri: torch.Tensor,
    backend: Backend = "auto",
) -> torch.Tensor:
    """Interpolate vertex attributes over the pixels of ``rast``.

    Parameters
    ----------
    attr: (B, N, C) per-vertex attributes, or (N, C) / (1, N, C) shared by the batch.
    rast: (B, H, W, 4) output of :func:`rasterize`.
    tri: (F, 3) the triangles given to :func:`rasterize`.
    backend: as for :func:`rasterize`.

    Returns
    -------
    (B, H, W, C) float32 on ``attr.device``: ``u a0 + v a1 + (1 - u - v) a2`` of the covering
    triangle, 0 on background. Differentiable w.r.t. ``attr`` and ``rast`` (u, v).
    """
    if attr.ndim == 2:
        attr = attr.unsqueeze(0)  # (N, C) -> (1, N, C)
    if attr.ndim != 3:
        raise InputError(f"attr must be (B, N, C) or (N, C); got {tuple(attr.shape)}")
    if rast.ndim != 4 or rast.shape[3] != 4:
        raise InputError(f"rast must be (B, H, W, 4); got {tuple(rast.shape)}")
    if attr.shape[0] not in (1, rast.shape[0]):
        raise InputError(f"attr batch {attr.shape[0]} does not match rast batch {rast.shape[0]}")
    _check_tri(tri, attr.shape[1])
    if resolve_backend(backend, attr.device) == "cuda":
        return interpolate_cuda(attr, rast, tri)
    return interpolate_cpu(attr, rast, tri)
