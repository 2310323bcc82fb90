"""Differentiable mesh rendering: one rasterize/interpolate interface with a CPU (numba) backend and
an nvdiffrast (CUDA) backend, and Deep3DFace's ``MeshRenderer``."""

from gsmoothface.render.config import RenderConfig
from gsmoothface.render.mesh_renderer import MeshRenderer, RenderResult
from gsmoothface.render.raster import interpolate, rasterize, resolve_backend

__all__ = ["MeshRenderer", "RenderConfig", "RenderResult", "interpolate", "rasterize", "resolve_backend"]
