"""Numba kernels of the CPU rasterizer: visibility, attribute interpolation and their gradients.

Semantics follow nvdiffrast without antialiasing (Laine et al., "Modular Primitives for
High-Performance Differentiable Rendering", 2020): pixel (x, y) of an (H, W) raster has its centre at
NDC ``(2 (x + 0.5) / W - 1, 2 (y + 0.5) / H - 1)``, row 0 is NDC y = -1 (bottom-up memory order),
the nearest ``z/w`` wins, points with ``z/w`` outside [-1, 1] are clipped, and no face is culled.

Coverage and barycentrics use 2D homogeneous rasterization (Olano & Greer, "Triangle Scan Conversion
using 2D Homogeneous Coordinates", 1997): with ``M = [[x0 x1 x2], [y0 y1 y2], [w0 w1 w2]]`` (clip
space columns) and the pixel centre ``p = (px, py, 1)``, ``b = M^-1 p`` holds the clip-space weights
of the surface point seen through ``p`` scaled so that ``sum(b_i w_i) = 1``. The pixel is covered
when every ``b_i >= 0``; the perspective-correct barycentrics are ``b / sum(b)`` and
``z/w = sum(b_i z_i)``. Triangles that cross the camera plane need no explicit clipping, only a
bounding box of their part inside the near/far slab.

Visibility runs in parallel over (image, triangle chunk) jobs, each with a private z-buffer, merged
per pixel afterwards (lowest chunk wins ties, so the lowest triangle id wins at equal depth, always).
Gradient scatters run over (image, row band) jobs into private buffers, summed afterwards.
"""

from __future__ import annotations

import math
import os

import numba as nb
import numpy as np

# numba's own thread pool instead of OpenMP unless the user chose a layer: on a busy 2-core machine
# OpenMP's spinning barriers made a 2-thread kernel 10-30x slower than 1 thread (measured), and GNU
# OpenMP is not fork-safe (data-loader workers fork).
if "NUMBA_THREADING_LAYER" not in os.environ:
    nb.config.THREADING_LAYER = "workqueue"

_DEGENERATE2 = 1e-28  # (det M)^2 below this fraction of the product of squared column norms: no area


@nb.njit(cache=True)
def _screen(x: float, w: float, size: int) -> float:
    """Clip coordinate -> continuous pixel coordinate (pixel i spans [i, i + 1])."""
    return (x / w + 1.0) * 0.5 * size


@nb.njit(cache=True)
def _clipped_bbox(pb, i0, i1, i2, height, width):  # pragma: no cover - compiled
    """Pixel bbox (x0, x1, y0, y1) of the part of a triangle inside the slab -w <= z <= w.

    Vertices of the clipped polygon are the triangle's vertices inside the slab and the crossings of
    its edges with the two planes; a vertex at w <= 0 would project to infinity, so the whole image
    is returned then.
    """
    idx = (i0, i1, i2)
    xmin = math.inf
    xmax = -math.inf
    ymin = math.inf
    ymax = -math.inf
    for k in range(3):
        a = idx[k]
        c = idx[(k + 1) % 3]
        xa, ya, za, wa = pb[a, 0], pb[a, 1], pb[a, 2], pb[a, 3]
        xc, yc, zc, wc = pb[c, 0], pb[c, 1], pb[c, 2], pb[c, 3]
        for j in range(3):  # j = 0: the vertex itself, 1: near-plane crossing, 2: far-plane crossing
            if j == 0:
                if za + wa < 0.0 or wa - za < 0.0:
                    continue
                x, y, w = xa, ya, wa
            else:
                sign = 1.0 if j == 1 else -1.0
                da = wa + sign * za
                dc = wc + sign * zc
                if (da < 0.0) == (dc < 0.0) or da == dc:
                    continue
                s = da / (da - dc)
                x = xa + s * (xc - xa)
                y = ya + s * (yc - ya)
                z = za + s * (zc - za)
                w = wa + s * (wc - wa)
                if w - sign * z < -1e-9 * (abs(w) + abs(z)):  # outside the other plane
                    continue
            if w <= 1e-12:
                return 0, width - 1, 0, height - 1
            sx = _screen(x, w, width)
            sy = _screen(y, w, height)
            xmin = min(xmin, sx)
            xmax = max(xmax, sx)
            ymin = min(ymin, sy)
            ymax = max(ymax, sy)
    if xmin > xmax:
        return 0, -1, 0, -1
    return _pixel_range(xmin, xmax, width) + _pixel_range(ymin, ymax, height)


@nb.njit(cache=True)
def _pixel_range(lo: float, hi: float, size: int):
    """Indices of the pixels whose centres (i + 0.5) lie in [lo, hi], clamped to the raster."""
    first = max(math.ceil(lo - 0.5 - 1e-6), 0)
    last = min(math.floor(hi - 0.5 + 1e-6), size - 1)
    return first, last


@nb.njit(cache=True)
def _inverse(pb, i0, i1, i2):
    """Inverse of M = [[x0 x1 x2], [y0 y1 y2], [w0 w1 w2]] (float64), and whether it is usable."""
    x0, y0, w0 = float(pb[i0, 0]), float(pb[i0, 1]), float(pb[i0, 3])
    x1, y1, w1 = float(pb[i1, 0]), float(pb[i1, 1]), float(pb[i1, 3])
    x2, y2, w2 = float(pb[i2, 0]), float(pb[i2, 1]), float(pb[i2, 3])
    # cofactors; row i of the inverse gives b_i = a_i px + b_i py + c_i (up to 1 / det)
    a0, b0, c0 = y1 * w2 - y2 * w1, x2 * w1 - x1 * w2, x1 * y2 - x2 * y1
    a1, b1, c1 = y2 * w0 - y0 * w2, x0 * w2 - x2 * w0, x2 * y0 - x0 * y2
    a2, b2, c2 = y0 * w1 - y1 * w0, x1 * w0 - x0 * w1, x0 * y1 - x1 * y0
    det = x0 * a0 + y0 * b0 + w0 * c0
    scale2 = (x0 * x0 + y0 * y0 + w0 * w0) * (x1 * x1 + y1 * y1 + w1 * w1) * (x2 * x2 + y2 * y2 + w2 * w2)
    ok = det * det > _DEGENERATE2 * scale2
    inv = 1.0 / det if ok else 0.0
    return (a0 * inv, b0 * inv, c0 * inv, a1 * inv, b1 * inv, c1 * inv, a2 * inv, b2 * inv, c2 * inv), ok


@nb.njit(parallel=True, cache=True)
def rasterize_forward(pos, tri, height, width, n_chunks):  # pragma: no cover - compiled
    """Rasterize a batch of clip-space meshes.

    Parameters
    ----------
    pos: (B, N, 4) float32 clip-space positions.
    tri: (F, 3) int32 vertex indices (validated by the caller).
    height, width: raster size in pixels.
    n_chunks: triangle chunks per image, rasterized in parallel and merged.

    Returns
    -------
    (B, H, W, 4) float32: u, v, z/w, triangle id + 1 (all 0 on background), row 0 = NDC y -1.
    """
    n_batch = pos.shape[0]
    n_vert = pos.shape[1]
    n_tri = tri.shape[0]
    # per-vertex screen position and whether the vertex lies inside the near/far slab (w > 0 implied)
    sx = np.empty((n_batch, n_vert), np.float64)
    sy = np.empty((n_batch, n_vert), np.float64)
    inside = np.empty((n_batch, n_vert), np.bool_)
    for job in nb.prange(n_batch * n_vert):
        b = job // n_vert
        i = job % n_vert
        x, y, z, w = pos[b, i, 0], pos[b, i, 1], pos[b, i, 2], pos[b, i, 3]
        ok = w > 0.0 and -w <= z <= w
        inside[b, i] = ok
        sx[b, i] = _screen(x, w, width) if ok else 0.0
        sy[b, i] = _screen(y, w, height) if ok else 0.0

    depth = np.empty((n_batch, n_chunks, height, width), np.float32)
    ident = np.zeros((n_batch, n_chunks, height, width), np.int32)
    bary = np.empty((n_batch, n_chunks, height, width, 3), np.float32)  # u, v, z/w
    chunk = (n_tri + n_chunks - 1) // n_chunks
    for job in nb.prange(n_batch * n_chunks):
        b = job // n_chunks
        c = job % n_chunks
        pb = pos[b]
        zbuf = depth[b, c]
        zbuf[:] = np.inf
        for t in range(c * chunk, min(n_tri, (c + 1) * chunk)):
            i0, i1, i2 = tri[t, 0], tri[t, 1], tri[t, 2]
            if inside[b, i0] and inside[b, i1] and inside[b, i2]:
                x0, x1 = _pixel_range(
                    min(sx[b, i0], sx[b, i1], sx[b, i2]), max(sx[b, i0], sx[b, i1], sx[b, i2]), width
                )
                y0, y1 = _pixel_range(
                    min(sy[b, i0], sy[b, i1], sy[b, i2]), max(sy[b, i0], sy[b, i1], sy[b, i2]), height
                )
            else:
                x0, x1, y0, y1 = _clipped_bbox(pb, i0, i1, i2, height, width)
            if x0 > x1 or y0 > y1:  # most triangles of a dense mesh cover no pixel centre
                continue
            m, ok = _inverse(pb, i0, i1, i2)
            if not ok:
                continue
            z0, z1, z2 = float(pb[i0, 2]), float(pb[i1, 2]), float(pb[i2, 2])
            for y in range(y0, y1 + 1):
                py = 2.0 * (y + 0.5) / height - 1.0
                r0 = m[1] * py + m[2]
                r1 = m[4] * py + m[5]
                r2 = m[7] * py + m[8]
                for x in range(x0, x1 + 1):
                    px = 2.0 * (x + 0.5) / width - 1.0
                    e0 = m[0] * px + r0
                    e1 = m[3] * px + r1
                    e2 = m[6] * px + r2
                    if e0 < 0.0 or e1 < 0.0 or e2 < 0.0:
                        continue
                    zw = e0 * z0 + e1 * z1 + e2 * z2
                    # compare in float32, as the merge does, so chunking never changes a winner
                    if zw < -1.0 or zw > 1.0 or np.float32(zw) >= zbuf[y, x]:
                        continue
                    s = e0 + e1 + e2
                    zbuf[y, x] = zw
                    ident[b, c, y, x] = t + 1
                    bary[b, c, y, x, 0] = e0 / s
                    bary[b, c, y, x, 1] = e1 / s
                    bary[b, c, y, x, 2] = zw

    rast = np.zeros((n_batch, height, width, 4), np.float32)
    for job in nb.prange(n_batch * height):
        b = job // height
        y = job % height
        for x in range(width):
            best = -1
            best_z = np.inf
            for c in range(n_chunks):
                if ident[b, c, y, x] > 0 and depth[b, c, y, x] < best_z:
                    best = c
                    best_z = depth[b, c, y, x]
            if best >= 0:
                rast[b, y, x, 0] = bary[b, best, y, x, 0]
                rast[b, y, x, 1] = bary[b, best, y, x, 1]
                rast[b, y, x, 2] = bary[b, best, y, x, 2]
                rast[b, y, x, 3] = ident[b, best, y, x]
    return rast


@nb.njit(parallel=True, cache=True)
def rasterize_backward(grad_rast, pos, tri, rast, n_bands):  # pragma: no cover - compiled
    """Gradient of (u, v, z/w) in ``rast`` w.r.t. the clip positions of each covered pixel's triangle.

    With ``b = M^-1 p``, ``S = sum(b)``, ``u = b0 / S``, ``v = b1 / S``, ``z/w = sum(b_k z_k)`` and
    ``g = dL/db``, the derivative of ``b`` w.r.t. ``M[r, i]`` is ``-M^-1[:, r] b_i``, so
    ``dL/dM[r, i] = -b_i (M^-T g)_r`` and ``dL/dz_i = dL/d(z/w) b_i``.

    Returns (B, N, 4) float32.
    """
    n_batch, height, width = rast.shape[0], rast.shape[1], rast.shape[2]
    n_vert = pos.shape[1]
    partial = np.zeros((n_batch, n_bands, n_vert, 4), np.float32)
    band = (height + n_bands - 1) // n_bands
    for job in nb.prange(n_batch * n_bands):
        b = job // n_bands
        k = job % n_bands
        pb = pos[b]
        acc = partial[b, k]
        for y in range(k * band, min(height, (k + 1) * band)):
            py = 2.0 * (y + 0.5) / height - 1.0
            for x in range(width):
                t = int(rast[b, y, x, 3]) - 1
                if t < 0:
                    continue
                gu, gv, gz = grad_rast[b, y, x, 0], grad_rast[b, y, x, 1], grad_rast[b, y, x, 2]
                if gu == 0.0 and gv == 0.0 and gz == 0.0:
                    continue
                i0, i1, i2 = tri[t, 0], tri[t, 1], tri[t, 2]
                m, ok = _inverse(pb, i0, i1, i2)
                if not ok:
                    continue
                px = 2.0 * (x + 0.5) / width - 1.0
                e0 = m[0] * px + m[1] * py + m[2]
                e1 = m[3] * px + m[4] * py + m[5]
                e2 = m[6] * px + m[7] * py + m[8]
                s = e0 + e1 + e2
                u, v = e0 / s, e1 / s
                common = -(gu * u + gv * v) / s
                g0 = gu / s + common + gz * pb[i0, 2]
                g1 = gv / s + common + gz * pb[i1, 2]
                g2 = common + gz * pb[i2, 2]
                h0 = m[0] * g0 + m[3] * g1 + m[6] * g2  # (M^-T g) for rows x, y, w of M
                h1 = m[1] * g0 + m[4] * g1 + m[7] * g2
                h2 = m[2] * g0 + m[5] * g1 + m[8] * g2
                _add_vertex_grad(acc, i0, e0, h0, h1, h2, gz)
                _add_vertex_grad(acc, i1, e1, h0, h1, h2, gz)
                _add_vertex_grad(acc, i2, e2, h0, h1, h2, gz)
    return _sum_bands(partial)


@nb.njit(cache=True)
def _add_vertex_grad(acc, i, e, h0, h1, h2, gz):
    """Accumulate one pixel's gradient into vertex ``i`` (weight ``e`` = its b_i)."""
    acc[i, 0] -= e * h0
    acc[i, 1] -= e * h1
    acc[i, 2] += e * gz
    acc[i, 3] -= e * h2


@nb.njit(parallel=True, cache=True)
def interpolate_forward(attr, rast, tri):  # pragma: no cover - compiled
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


@nb.njit(parallel=True, cache=True)
def interpolate_backward_attr(grad_out, rast, tri, n_vert, n_bands):  # pragma: no cover - compiled
    """Gradient w.r.t. the attributes from grad_out (B, C, H, W): (B, N, C) float32."""
    n_batch, height, width = rast.shape[0], rast.shape[1], rast.shape[2]
    n_chan = grad_out.shape[1]
    partial = np.zeros((n_batch, n_bands, n_vert, n_chan), np.float32)
    band = (height + n_bands - 1) // n_bands
    for job in nb.prange(n_batch * n_bands):
        b = job // n_bands
        k = job % n_bands
        acc = partial[b, k]
        for y in range(k * band, min(height, (k + 1) * band)):
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
    return _sum_bands(partial)


@nb.njit(parallel=True, cache=True)
def interpolate_backward_rast(grad_out, attr, rast, tri):  # pragma: no cover - compiled
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


@nb.njit(cache=True)
def _sum_bands(partial):  # pragma: no cover - compiled
    """(B, K, N, C) per-band partial sums -> (B, N, C) (serial: called inside parallel kernels)."""
    out = partial[:, 0].copy()
    for k in range(1, partial.shape[1]):
        out += partial[:, k]
    return out
