"""CUDA backend: nvdiffrast (PyPI ``diffrp-nvdiffrast``, the ``gpu`` extra), imported only when used.

Uses ``RasterizeCudaContext`` (no OpenGL), the context Deep3DFace's authors recommend where EGL is
missing. One context per CUDA device, created on first use.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import torch
from torch.utils import cpp_extension

from gsmoothface.device import require_cuda
from gsmoothface.errors import MissingAssetError

_CONTEXTS: dict[torch.device, Any] = {}


def nvdiffrast_torch() -> ModuleType:
    """Import ``nvdiffrast.torch`` or explain how to install it."""
    try:
        import nvdiffrast.torch as dr
    except ImportError as exc:
        raise MissingAssetError(
            "nvdiffrast is not installed but render.backend is 'cuda'; install the gpu extra "
            "(pip install 'gsmoothface[gpu]', PyPI package diffrp-nvdiffrast) or set render.backend: cpu"
        ) from exc
    return dr


def nvdiffrast_available() -> bool:
    """True when CUDA is usable and nvdiffrast imports."""
    if not torch.cuda.is_available():
        return False
    try:
        nvdiffrast_torch()
    except MissingAssetError:
        return False
    return True


def _device(t: torch.Tensor) -> torch.device:
    if t.device.type == "cuda":
        return t.device
    return require_cuda("render.backend")


def _context(device: torch.device) -> Any:
    if device not in _CONTEXTS:
        dr = nvdiffrast_torch()
        try:
            context = dr.RasterizeCudaContext(device=device)
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("nvdiffrast_plugin"):
                raise
            # nvdiffrast builds its plugin with torch.utils.cpp_extension and then imports it by name,
            # which finds it only when the build folder is on sys.path; recent torch no longer puts it
            # there (nvdiffrast 0.3.3 with torch 2.11), so add it and import the built plugin again.
            sys.path.append(cpp_extension._get_build_directory(exc.name, False))
            context = dr.RasterizeCudaContext(device=device)
        _CONTEXTS[device] = context
    return _CONTEXTS[device]


def rasterize_cuda(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
    """nvdiffrast rasterization; see :func:`gsmoothface.render.rasterize`. Returns rast on ``pos.device``."""
    dr = nvdiffrast_torch()
    device = _device(pos)
    pos_c = pos.to(device=device, dtype=torch.float32).contiguous()
    tri_c = tri.to(device=device, dtype=torch.int32).contiguous()
    rast, _ = dr.rasterize(
        _context(device), pos_c, tri_c, resolution=[int(resolution[0]), int(resolution[1])]
    )
    return rast.to(pos.device)


def interpolate_cuda(attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """nvdiffrast interpolation; see :func:`gsmoothface.render.interpolate`. Returns on ``attr.device``."""
    dr = nvdiffrast_torch()
    device = _device(attr)
    out, _ = dr.interpolate(
        attr.to(device=device, dtype=torch.float32).contiguous(),
        rast.to(device=device, dtype=torch.float32).contiguous(),
        tri.to(device=device, dtype=torch.int32).contiguous(),
    )
    return out.to(attr.device)
