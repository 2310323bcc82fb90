"""Numba kernels of the CPU backend's attribute interpolation and its gradients.

nvdiffrast's ``interpolate`` (Laine et al. 2020): a pixel covered by triangle (i0, i1, i2) with
barycentrics (u, v) from ``rast`` gets ``u a[i0] + v a[i1] + (1 - u - v) a[i2]``; background gets 0.
Images are written channels first, the layout the renderer returns.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from gsmoothface.render.cpu_raster import Kernel


@Kernel
def interpolate_forward(attr, rast, tri):
    """Interpolate vertex attributes with the barycentrics of ``rast``.

    attr (Ba, N, C) float32 with Ba = 1 (shared) or B; rast (B, H, W, 4); tri (F, 3) int32.
    Returns (B, C, H, W) float32 (channels first, the layout images are used in), 0 on background.
    """
    n_batch, height, width = rast.shape[0], rast.shape[1], rast.shape[2]
    n_chan = attr.shape[2]
    shared = attr.shape[0] == 1
    out = np.zeros((n_batch, n_chan, height, width), np.float32)
    for job in nb.prange(n_batch * height):
        b = job // height
        y = job % height
        a = attr[0] if shared else attr[b]
        for x in range(width):
            t = int(rast[b, y, x, 3]) - 1
            if t < 0:
                continue
            u, v = rast[b, y, x, 0], rast[b, y, x, 1]
            w = 1.0 - u - v
            i0, i1, i2 = tri[t, 0], tri[t, 1], tri[t, 2]
            for ch in range(n_chan):
                out[b, ch, y, x] = u * a[i0, ch] + v * a[i1, ch] + w * a[i2, ch]
    return out


@Kernel
def interpolate_backward_attr(grad_out, rast, tri, n_vert):
    """Gradient w.r.t. the attributes from grad_out (B, C, H, W): (B, N, C) float32, one job per image."""
    n_batch, height, width = rast.shape[0], rast.shape[1], rast.shape[2]
    n_chan = grad_out.shape[1]
    grad = np.zeros((n_batch, n_vert, n_chan), np.float32)
    for b in nb.prange(n_batch):
        acc = grad[b]
        for y in range(height):
            for x in range(width):
                t = int(rast[b, y, x, 3]) - 1
                if t < 0:
                    continue
                u, v = rast[b, y, x, 0], rast[b, y, x, 1]
                w = 1.0 - u - v
                i0, i1, i2 = tri[t, 0], tri[t, 1], tri[t, 2]
                for ch in range(n_chan):
                    g = grad_out[b, ch, y, x]
                    acc[i0, ch] += u * g
                    acc[i1, ch] += v * g
                    acc[i2, ch] += w * g
    return grad


@Kernel
def interpolate_backward_rast(grad_out, attr, rast, tri):
    """Gradient w.r.t. the barycentrics from grad_out (B, C, H, W): (B, H, W, 4) float32 (z/w, id: 0)."""
    n_batch, height, width = rast.shape[0], rast.shape[1], rast.shape[2]
    n_chan = attr.shape[2]
    shared = attr.shape[0] == 1
    grad = np.zeros((n_batch, height, width, 4), np.float32)
    for job in nb.prange(n_batch * height):
        b = job // height
        y = job % height
        a = attr[0] if shared else attr[b]
        for x in range(width):
            t = int(rast[b, y, x, 3]) - 1
            if t < 0:
                continue
            i0, i1, i2 = tri[t, 0], tri[t, 1], tri[t, 2]
            gu = np.float32(0.0)
            gv = np.float32(0.0)
            for ch in range(n_chan):
                g = grad_out[b, ch, y, x]
                gu += g * (a[i0, ch] - a[i2, ch])
                gv += g * (a[i1, ch] - a[i2, ch])
            grad[b, y, x, 0] = gu
            grad[b, y, x, 1] = gv
    return grad
