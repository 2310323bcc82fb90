"""fit_3dmm speed: optimisation fitter, R-Net inference and the whole per-clip fit, on CPU.

Two model sizes:

- ``embedded``: the synthetic default of ``params.yaml`` (4,287 vertices);
- ``BFM-size``: exactly 35,709 vertices like BFM09's front model: the synthetic model at its finest
  grid plus a hidden copy of part of its mesh behind the face to reach the vertex count (the
  fitter's cost depends on the vertex and triangle counts, not on what the bases look like).

For each, a talking-head sequence with known coefficients is rendered at 512 x 512 and written as a
clip (video.mp4 + landmark sidecar); then it times (1) the optimisation fitter on landmarks only,
(2) the full fitter (landmarks + photometric stage) on ready 112 px crops, (3) ``fit_clip``: decode,
landmarks, alignment, crops, full fitter, i.e. the whole ``fit_3dmm`` work for one clip, reported
as seconds per minute of video. R-Net inference (random weights, batch 16) is timed separately.

Usage: ``python bench/fit.py [--frames 250] [--threads 1]``
Target on a 2-core CPU: the full fitter >= 25 frames/s (real time) on the embedded model. The
machine's load (``uptime``) is printed before and after: timings on a shared machine are noisy, so
each rate is given by wall clock and by this process's CPU time (what one idle core would do; it
leaves out the ffmpeg decoder, a separate process).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gsmoothface.face_model import FaceModel, FaceModelConfig, load_face_model
from gsmoothface.face_model.synthetic import SPACING_RANGE, generate_synthetic_model
from gsmoothface.fitting import Fit3dmmConfig, ReconNet, fit_clip, fit_optimize, predict_coeff
from gsmoothface.media import VideoWriter
from gsmoothface.render import MeshRenderer

BFM_VERTICES = 35_709  # BFM09 front model
FRAME_SIZE = 512  # clip frame side, as `slice` writes
FPS = 25
TARGET_FULL_FPS = 25.0


def bfm_size_model() -> FaceModel:
    """The finest synthetic model padded to 35,709 vertices by a copy of its first vertices and their
    faces, 0.5 dm behind the face (hidden)."""
    arrays = generate_synthetic_model(spacing=SPACING_RANGE[0])
    shape = arrays["meanshape"].reshape(-1, 3)
    n = len(shape)
    extra = BFM_VERTICES - n
    tri = arrays["tri"] - 1  # (F, 3) 0-based
    kept = tri[(tri < extra).all(1)] + n  # faces among the first `extra` vertices, re-indexed to the copy
    copy = shape[:extra] - np.array([0.0, 0.0, 0.5], np.float32)
    new_tri = np.concatenate([tri, kept])

    def rows(key: str) -> np.ndarray:  # (3N, K) -> (3(N + extra), K): copy the first `extra` vertices' rows
        base = arrays[key]
        return np.concatenate([base, base[: 3 * extra]])

    arrays = dict(arrays)
    arrays["meanshape"] = np.concatenate([shape, copy]).reshape(1, -1)
    arrays["meantex"] = np.concatenate(
        [arrays["meantex"].reshape(-1), arrays["meantex"].reshape(-1)[: 3 * extra]]
    )
    for key in ("idBase", "exBase", "texBase"):
        arrays[key] = rows(key)
    arrays["tri"] = (new_tri + 1).astype(np.int32)
    arrays["point_buf"] = point_buf(new_tri, BFM_VERTICES) + 1
    arrays["skinmask"] = np.concatenate(
        [arrays["skinmask"].reshape(-1), np.zeros(extra, np.float32)]
    ).reshape(1, -1)
    return FaceModel(arrays)


def point_buf(tri: np.ndarray, n_vertices: int, width: int = 8) -> np.ndarray:
    """(N, width) incident faces per vertex, padded with F (0-based)."""
    faces = np.repeat(np.arange(len(tri)), 3)
    vertex = tri.reshape(-1)
    order = np.argsort(vertex, kind="stable")
    vertex, faces = vertex[order], faces[order]
    rank = np.arange(len(vertex)) - np.searchsorted(vertex, vertex)  # position among a vertex's faces
    out = np.full((n_vertices, width), len(tri), np.int64)
    keep = rank < width
    out[vertex[keep], rank[keep]] = faces[keep]
    return out.astype(np.int32)


def talking_head(model: FaceModel, frames: int, seed: int = 0) -> torch.Tensor:
    """(T, 257) coefficients: fixed identity, speech-rate jaw, slow head motion."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames) / FPS
    coeff = torch.zeros(frames, 257)
    coeff[:, 0:80] = 0.9 * torch.randn(1, 80, generator=g)
    coeff[:, 144:224] = 0.35 * torch.randn(1, 80, generator=g)
    coeff[:, 80] = 1.5 + 1.2 * torch.sin(2 * torch.pi * 3.0 * t)
    coeff[:, 81:144] = 0.3 * torch.sin(2 * torch.pi * 0.5 * t[:, None] + torch.rand(1, 63, generator=g) * 6)
    coeff[:, 225] = 0.15 * torch.sin(2 * torch.pi * 0.3 * t)
    coeff[:, 227] = 0.1
    return coeff


def render(model: FaceModel, coeff: torch.Tensor, size: int) -> torch.Tensor:
    """(T, size, size, 3) uint8 renders on grey, in batches."""
    renderer = MeshRenderer(size=size)
    out = []
    with torch.no_grad():
        for start in range(0, len(coeff), 32):
            vertices, _, color, _ = model.compute_for_render(coeff[start : start + 32])
            result = renderer(vertices, model.face_buf, color)
            image = result.image * result.mask + 0.35 * (1 - result.mask)
            out.append((image.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1))
    return torch.cat(out)


def write_clip(folder: Path, model: FaceModel, coeff: torch.Tensor) -> None:
    """A clip folder: video.mp4 at FRAME_SIZE and a landmark sidecar in its pixels."""
    folder.mkdir(parents=True)
    with VideoWriter(folder / "video.mp4", FRAME_SIZE, FRAME_SIZE, fps=FPS) as writer:
        writer.write(render(model, coeff, FRAME_SIZE).numpy())
    with torch.no_grad():
        lm = model.landmarks_224(coeff)
    scale = FRAME_SIZE / 224
    u = (lm[..., 0] - 112) * scale + FRAME_SIZE / 2
    v_up = (223 - lm[..., 1] - 112) * scale + FRAME_SIZE / 2
    lm68 = torch.stack([u, FRAME_SIZE - 1 - v_up], -1).numpy().astype(np.float32)
    np.savez(folder / "landmarks.npz", lm68=lm68, valid=np.ones(len(lm68), bool))


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``fn()``; on a loaded machine wall > CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=250, help="frames of the benchmark clip (25 fps)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the stage's default is 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load before: {os.getloadavg()}; torch threads {args.threads}; {args.frames} frames per clip")
    cfg = Fit3dmmConfig()
    lm_only = Fit3dmmConfig(photo_steps=0)
    rows = []
    models = {
        "embedded": load_face_model(FaceModelConfig()),
        "BFM-size": bfm_size_model(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            coeff = talking_head(model, args.frames)
            with torch.no_grad():
                lm224 = model.landmarks_224(coeff)
            crops = render(model, coeff, cfg.photo_size)
            fit_optimize(model, lm224[:8], lm_only)  # warm-up (lazy initialisation, JIT caches)
            t_lm = timed(lambda m=model, lm=lm224: fit_optimize(m, lm, lm_only))
            t_full = timed(lambda m=model, lm=lm224, c=crops: fit_optimize(m, lm, cfg, images=c))
            clip = Path(tmp) / name
            write_clip(clip, model, coeff)
            t_clip = timed(lambda m=model, c=clip: fit_clip(c, cfg, m))
            rows.append((name, model.n_vertices, t_lm, t_full, t_clip))
    net = ReconNet().eval()
    crops224 = torch.randint(0, 256, (32, 224, 224, 3), dtype=torch.uint8)
    predict_coeff(net, crops224[:2], batch_size=2)
    t_rnet = timed(lambda: predict_coeff(net, crops224, batch_size=16))

    n = args.frames

    def rate(t: tuple[float, float], frames: int = n) -> str:
        return f"{frames / t[0]:.1f} ({frames / t[1]:.1f})"

    print("\nframes/s by wall clock (and by this process's CPU time: the rate of an idle machine)")
    print(
        "| model | vertices | optimisation, landmarks only | full fitter: landmarks + photometric "
        "| whole fit_3dmm per clip | fit_3dmm s per minute of video |"
    )
    print("|---|---|---|---|---|---|")
    for name, n_vertices, t_lm, t_full, t_clip in rows:
        per_minute = f"{t_clip[0] / n * 60 * FPS:.0f} ({t_clip[1] / n * 60 * FPS:.0f})"
        print(f"| {name} | {n_vertices:,} | {rate(t_lm)} | {rate(t_full)} | {rate(t_clip)} | {per_minute} |")
    print(f"| R-Net inference (ResNet-50, batch 16, random weights) | - | - | - | {rate(t_rnet, 32)} | - |")
    full_wall, full_cpu = n / rows[0][3][0], n / rows[0][3][1]
    verdict = "meets" if full_cpu >= TARGET_FULL_FPS else "misses"
    print(
        f"\nfull fitter, embedded model: {full_wall:.1f} frames/s wall, {full_cpu:.1f} frames/s CPU time "
        f"({verdict} the {TARGET_FULL_FPS:.0f} frames/s target on an idle core)"
    )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
