"""Renderer speed at the real BFM09 front-model size: CPU backend vs a plain-PyTorch z-buffer.

Prints frames/s of ``MeshRenderer`` (224 x 224, 35,709 vertices, 70,789 triangles, per-vertex RGB)
forward only and forward + backward (gradients to the vertex colours), with one thread and with
all threads, next to a plain-PyTorch z-buffer (``scatter_reduce`` amin) that renders the same
images; the cuda backend's figures when a GPU and nvdiffrast are present. The machine's load
(``uptime``) is printed before and after: timings on a shared machine are only as quiet as it is.

Usage: ``python bench/render.py [--batches 1,8] [--iters 30]``
Targets on a 2-core CPU: >= 100 frames/s forward, >= 50 frames/s forward + backward.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial import Delaunay

from gsmoothface.render import MeshRenderer, RenderResult
from gsmoothface.render.cuda import nvdiffrast_available

BFM_VERTICES = 35_709  # BFM09 front model (Deep3DFace BFM_model_front.mat)
BFM_TRIANGLES = 70_789
SIZE = 224
TARGET_FORWARD_FPS = 100.0
TARGET_BACKWARD_FPS = 50.0


def face_mesh(n_vertices: int = BFM_VERTICES, n_triangles: int = BFM_TRIANGLES, seed: int = 0):
    """A face-sized bulging cap at camera depth ~10 with exactly the requested vertex/triangle counts.

    A Delaunay triangulation of n points with h of them on the convex hull (and none collinear on it)
    has 2n - 2 - h triangles, so h = 2n - 2 - F points go on an ellipse and the rest, a jittered
    grid, inside it. Returns vertices (N, 3) float32 in camera space (+Y up, Z about 9.4 to 10) and
    triangles (F, 3) int64.
    """
    rng = np.random.default_rng(seed)
    n_hull = 2 * n_vertices - 2 - n_triangles
    angle = np.linspace(0.0, 2.0 * np.pi, n_hull, endpoint=False)
    hull = np.stack([np.cos(angle), np.sin(angle)], 1)
    n_inner = n_vertices - n_hull
    side = int(np.ceil(np.sqrt(n_inner * 4.0 / np.pi))) + 4
    g = (np.arange(side) + 0.5) / side * 2.0 - 1.0
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)  # (side^2, 2) in the unit square
    grid += rng.uniform(-0.2, 0.2, grid.shape) / side
    inner = grid[np.argsort(np.linalg.norm(grid, axis=1))[:n_inner]]  # the disc's n_inner points
    disc = np.concatenate([inner, hull])  # (N, 2)
    tri = Delaunay(disc).simplices
    if len(tri) != n_triangles:
        raise RuntimeError(f"mesh has {len(tri)} triangles, expected {n_triangles}")
    bulge = np.sqrt(np.clip(1.0 - (disc**2).sum(1), 0.0, None))
    vertices = np.stack([0.75 * disc[:, 0], 0.95 * disc[:, 1], 10.0 - 0.6 * bulge], 1)  # face ~1.5 x 1.9
    return torch.tensor(vertices, dtype=torch.float32), torch.tensor(tri, dtype=torch.int64)


class TorchZBuffer:
    """Plain-PyTorch z-buffer renderer with the same camera and outputs as ``MeshRenderer``.

    Each triangle tests the pixel centres of a window x window box at its bounding box's corner
    (enough for a dense face mesh), keeps the nearest z/w per pixel with ``scatter_reduce`` amin,
    then recomputes the winners' perspective-correct barycentrics with autograd and interpolates.
    """

    def __init__(self, renderer: MeshRenderer, window: int = 3) -> None:
        self.renderer = renderer
        self.size = renderer.size
        d = torch.arange(window)
        self.dy, self.dx = (t.reshape(-1) for t in torch.meshgrid(d, d, indexing="ij"))  # (K,)

    def __call__(self, vertices: torch.Tensor, tri: torch.Tensor, feat: torch.Tensor):
        size = self.size
        clip = self.renderer.to_clip(vertices)  # (B, N, 4)
        b_count = clip.shape[0]
        with torch.no_grad():
            w = clip[..., 3]
            sx = (clip[..., 0] / w + 1.0) * 0.5 * size  # (B, N) continuous pixel coordinates
            sy = (clip[..., 1] / w + 1.0) * 0.5 * size
            zw = clip[..., 2] / w
            tx, ty, tz = sx[:, tri], sy[:, tri], zw[:, tri]  # (B, F, 3)
            x0 = torch.ceil(tx.amin(-1) - 0.5)
            y0 = torch.ceil(ty.amin(-1) - 0.5)
            px = x0[..., None] + self.dx  # (B, F, K) candidate pixel columns
            py = y0[..., None] + self.dy
            cx, cy = px + 0.5, py + 0.5
            # screen-space edge functions at the candidates
            ax, ay = tx[..., 0:1], ty[..., 0:1]
            bx, by = tx[..., 1:2], ty[..., 1:2]
            qx, qy = tx[..., 2:3], ty[..., 2:3]
            area = (bx - ax) * (qy - ay) - (by - ay) * (qx - ax)
            l0 = ((bx - cx) * (qy - cy) - (by - cy) * (qx - cx)) / area
            l1 = ((qx - cx) * (ay - cy) - (qy - cy) * (ax - cx)) / area
            l2 = 1.0 - l0 - l1
            z = l0 * tz[..., 0:1] + l1 * tz[..., 1:2] + l2 * tz[..., 2:3]  # z/w is affine on screen
            ok = (l0 >= 0) & (l1 >= 0) & (l2 >= 0) & (z >= -1) & (z <= 1)
            ok &= (px >= 0) & (px < size) & (py >= 0) & (py < size) & (area != 0)
            pix = (torch.arange(b_count)[:, None, None] * size + py.long()) * size + px.long()
            pix, z = pix[ok], z[ok]
            face = torch.arange(tri.shape[0])[:, None].expand_as(ok)[ok]
            zbuf = torch.full((b_count * size * size,), float("inf"))
            zbuf.scatter_reduce_(0, pix, z, "amin")
            win = z == zbuf[pix]
            face_buf = torch.full((b_count * size * size,), -1, dtype=torch.int64)
            face_buf.scatter_reduce_(0, pix[win], face[win], "amax")
            covered = torch.nonzero(face_buf >= 0).squeeze(1)  # (P,) flat pixel indices
            f_win = face_buf[covered]
            b_idx = covered // (size * size)
            row, col = (covered % (size * size)) // size, covered % size
        # differentiable perspective-correct barycentrics of the winners: b_i ~ l_i / w_i
        v = clip[b_idx[:, None], tri[f_win]]  # (P, 3, 4)
        sxy = (v[..., :2] / v[..., 3:] + 1.0) * 0.5 * size  # (P, 3, 2)
        c = torch.stack([col, row], 1).to(sxy.dtype) + 0.5  # (P, 2)
        e = sxy - c[:, None]
        lam = (
            torch.stack(
                [
                    e[:, 1, 0] * e[:, 2, 1] - e[:, 1, 1] * e[:, 2, 0],
                    e[:, 2, 0] * e[:, 0, 1] - e[:, 2, 1] * e[:, 0, 0],
                    e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0],
                ],
                1,
            )
            / v[..., 3]
        )
        bary = lam / lam.sum(1, keepdim=True)  # (P, 3)
        colour = (bary[..., None] * feat[b_idx[:, None], tri[f_win]]).sum(1)  # (P, C)
        image = torch.zeros(b_count * size * size, feat.shape[-1], dtype=colour.dtype)
        image = image.index_put((covered,), colour)
        return image.reshape(b_count, size, size, -1).permute(0, 3, 1, 2)  # (B, C, H, W)


def per_frame_ms(fn: Callable[[], object], iters: int, batch: int) -> tuple[float, float]:
    """Median wall time and mean process CPU time per frame in ms (after two warm-up calls).

    CPU time (all threads of this process) shows the work itself when other processes hold the
    cores; on an idle machine wall time is the figure that counts.
    """
    fn()
    fn()
    times = []
    cpu_start = time.process_time()
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / iters
    return statistics.median(times) * 1e3 / batch, cpu * 1e3 / batch


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def forward(render: Callable, verts: torch.Tensor, tri: torch.Tensor, feat: torch.Tensor) -> Callable:
    """A no-grad render call."""

    def run() -> None:
        with torch.no_grad():
            render(verts, tri, feat)

    return run


def backward(render: Callable, verts: torch.Tensor, tri: torch.Tensor, feat: torch.Tensor) -> Callable:
    """A render call and a backward pass of an image loss to the vertex colours."""
    colours = feat.clone().requires_grad_()

    def run() -> None:
        out = render(verts, tri, colours)
        image = out.image if isinstance(out, RenderResult) else out
        image.square().mean().backward()
        colours.grad = None

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,8", help="comma-separated frames per call")
    parser.add_argument("--iters", type=int, default=30, help="timed calls per figure")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    vertices, tri = face_mesh()
    gen = torch.Generator().manual_seed(0)
    ours = MeshRenderer(SIZE, backend="cpu")
    baseline = TorchZBuffer(ours)
    with torch.no_grad():
        feat = torch.rand(1, vertices.shape[0], 3, generator=gen)
        a = ours(vertices[None], tri, feat).image
        b = baseline(vertices[None], tri, feat)
    mask_a, mask_b = a.abs().sum(1) > 0, b.abs().sum(1) > 0
    iou = ((mask_a & mask_b).sum() / (mask_a | mask_b).sum()).item()
    colour_err = (a - b).abs().amax(1)[mask_a & mask_b].mean().item()

    print(f"# load before: {uptime()}")
    print(f"mesh: {vertices.shape[0]:,} vertices, {tri.shape[0]:,} triangles, {SIZE}x{SIZE}; ", end="")
    # torch's OpenMP threads spin while waiting unless told otherwise; on a busy machine that matters
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"face pixels: {int(mask_a[0].sum())}; baseline agreement: mask IoU {iou:.4f}, ", end="")
    print(f"mean colour difference {colour_err:.1e}")
    header = (
        f"{'backend':<7} {'batch':>5} {'threads':>7} | {'fwd ms':>7} {'fwd f/s':>8} {'torch f/s':>9} "
        f"{'ratio':>6} | {'f+b ms':>7} {'f+b f/s':>8} {'torch f/s':>9} {'ratio':>6} | "
        f"{'cpu-ms fwd':>10} {'f+b':>6}"
    )
    print(header)
    print("-" * len(header))
    saved_threads = torch.get_num_threads()
    for batch in batches:
        verts = vertices.expand(batch, -1, -1).contiguous()  # (B, N, 3)
        feat = torch.rand(batch, vertices.shape[0], 3, generator=gen)
        for threads in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(threads)
            f_ours, f_cpu = per_frame_ms(forward(ours, verts, tri, feat), args.iters, batch)
            f_base, _ = per_frame_ms(forward(baseline, verts, tri, feat), args.iters, batch)
            b_ours, b_cpu = per_frame_ms(backward(ours, verts, tri, feat), args.iters, batch)
            b_base, _ = per_frame_ms(backward(baseline, verts, tri, feat), args.iters, batch)
            print(
                f"{'cpu':<7} {batch:>5} {threads:>7} | {f_ours:7.2f} {1e3 / f_ours:8.1f} "
                f"{1e3 / f_base:9.1f} {f_base / f_ours:5.1f}x | {b_ours:7.2f} {1e3 / b_ours:8.1f} "
                f"{1e3 / b_base:9.1f} {b_base / b_ours:5.1f}x | {f_cpu:10.2f} {b_cpu:6.2f}"
            )
        torch.set_num_threads(saved_threads)

        if nvdiffrast_available():
            gpu = MeshRenderer(SIZE, backend="cuda")
            args_gpu = (verts.cuda(), tri.cuda(), feat.cuda())
            f_gpu, _ = per_frame_ms(synced(forward(gpu, *args_gpu)), args.iters, batch)
            b_gpu, _ = per_frame_ms(synced(backward(gpu, *args_gpu)), args.iters, batch)
            print(
                f"{'cuda':<7} {batch:>5} {'-':>7} | {f_gpu:7.2f} {1e3 / f_gpu:8.1f} {'':>9} {'':>6} | "
                f"{b_gpu:7.2f} {1e3 / b_gpu:8.1f}"
            )
    if not nvdiffrast_available():
        print("cuda: not measured (no CUDA GPU or nvdiffrast not installed)")
    print(f"targets: forward >= {TARGET_FORWARD_FPS:.0f} f/s, ", end="")
    print(f"forward + backward >= {TARGET_BACKWARD_FPS:.0f} f/s; ratio = torch ms / cpu backend ms; ", end="")
    print("cpu-ms = process CPU time per frame of the cpu backend (all its threads)")
    print(f"# load after: {uptime()}")


def synced(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn`` followed by a CUDA synchronisation, so that wall time covers the GPU work."""

    def run() -> None:
        fn()
        torch.cuda.synchronize()

    return run


if __name__ == "__main__":
    main()
