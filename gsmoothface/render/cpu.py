"""CPU backend: torch autograd functions over the numba kernels of :mod:`.cpu_raster` and
:mod:`.cpu_interpolate`.

No GPU and no OpenGL. Kernels run on float32 / int32 copies on the CPU (nvdiffrast's dtypes);
inputs on another device or dtype are converted and gradients flow back through the conversion.
Batches run one image per thread (``torch.get_num_threads()`` threads); a single image runs in the
calling thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import torch

from gsmoothface.render import cpu_interpolate, cpu_raster
from gsmoothface.render.cpu_raster import Kernel

# numba's own thread pool instead of OpenMP unless the user chose a layer: on a busy 2-core machine
# OpenMP's spinning barriers made a 2-thread kernel 10-30x slower than 1 thread (measured), and GNU
# OpenMP is not fork-safe (data-loader workers fork). It must be set before the first parallel call.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


def _pick(kernel: Kernel, n_batch: int) -> Callable[..., Any]:
    """The kernel variant for a batch: one image per thread when there are several of both.

    Threads follow ``torch.get_num_threads()`` (``torch.set_num_threads`` limits both libraries).
    A single image runs in the calling thread: splitting one 224 x 224 frame over threads did not pay
    on a 2-core machine (see :class:`~gsmoothface.render.cpu_raster.Kernel`).
    """
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if threads == 1 or n_batch == 1:
        return kernel.serial
    numba.set_num_threads(threads)
    return kernel.parallel


# the last triangle tensor converted to int32, with its version counter (see _tri_int32)
_last_tri: tuple[torch.Tensor, int, torch.Tensor] | None = None


def _tri_int32(tri: torch.Tensor) -> torch.Tensor:
    """``tri`` as a contiguous int32 CPU tensor, converted once while the same tensor comes back."""
    global _last_tri
    last = _last_tri
    if last is not None and last[0] is tri and last[1] == tri._version:
        return last[2]
    out = tri.to(device="cpu", dtype=torch.int32).contiguous()
    _last_tri = (tri, tri._version, out)
    return out


def _np(t: torch.Tensor) -> np.ndarray:
    """A contiguous numpy view of a CPU tensor (no copy when already contiguous)."""
    return t.detach().contiguous().numpy()


class _Rasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pos: torch.Tensor, tri: torch.Tensor, height: int, width: int) -> torch.Tensor:
        pos_np, tri_np = _np(pos), _np(tri)
        rast = _pick(cpu_raster.rasterize_forward, pos_np.shape[0])(pos_np, tri_np, height, width)
        rast_t = torch.from_numpy(rast)
        ctx.save_for_backward(pos, tri, rast_t)
        return rast_t

    @staticmethod
    def backward(ctx, grad_rast: torch.Tensor):
        pos, tri, rast = ctx.saved_tensors
        grad_pos = None
        if ctx.needs_input_grad[0]:
            kernel = _pick(cpu_raster.rasterize_backward, pos.shape[0])
            grad = kernel(_np(grad_rast), _np(pos), _np(tri), _np(rast))
            grad_pos = torch.from_numpy(grad)
        return grad_pos, None, None, None


class _Interpolate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
        kernel = _pick(cpu_interpolate.interpolate_forward, rast.shape[0])
        out = kernel(_np(attr), _np(rast), _np(tri))  # (B, C, H, W)
        ctx.save_for_backward(attr, rast, tri)
        return torch.from_numpy(out).permute(0, 2, 3, 1)  # (B, H, W, C) view, channels-first storage

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        attr, rast, tri = ctx.saved_tensors
        grad_attr = grad_rast = None
        n_batch = rast.shape[0]
        g = _np(grad_out.permute(0, 3, 1, 2))  # (B, C, H, W), no copy when channels-first already
        if ctx.needs_input_grad[0]:
            kernel = _pick(cpu_interpolate.interpolate_backward_attr, n_batch)
            grad = kernel(g, _np(rast), _np(tri), attr.shape[1])
            grad_attr = torch.from_numpy(grad)
            if attr.shape[0] != grad_attr.shape[0]:  # one attribute set shared by the batch
                grad_attr = grad_attr.sum(0, keepdim=True)
        if ctx.needs_input_grad[1]:
            kernel = _pick(cpu_interpolate.interpolate_backward_rast, n_batch)
            grad_rast = torch.from_numpy(kernel(g, _np(attr), _np(rast), _np(tri)))
        return grad_attr, grad_rast, None


def rasterize_cpu(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
    """CPU rasterization; see :func:`gsmoothface.render.rasterize`. Returns rast on ``pos.device``."""
    pos32 = pos.to(device="cpu", dtype=torch.float32)
    tri32 = _tri_int32(tri)
    rast = _Rasterize.apply(pos32, tri32, int(resolution[0]), int(resolution[1]))
    return rast.to(pos.device)


def interpolate_cpu(attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """CPU interpolation; see :func:`gsmoothface.render.interpolate`. Returns float32 on ``attr.device``."""
    attr32 = attr.to(device="cpu", dtype=torch.float32)
    rast32 = rast.to(device="cpu", dtype=torch.float32)
    tri32 = _tri_int32(tri)
    return _Interpolate.apply(attr32, rast32, tri32).to(attr.device)
