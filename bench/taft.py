"""TAFT and MAFB speed: generator frames/s at 256 and 512, training steps/s, blend frames/s.

Prints a table for the recipe generator (64/256 channels) and the embedded default's
(``taft`` params defaults); training steps/s at the embedded default (its face crops, batch, L1 + SSIM)
and, with ``--vgg``, with a randomly initialised VGG19 perceptual/style loss; MAFB blend frames/s
(render at 224 + morphology + un-crop + blend) at blend.size and 512 with the configured face model.
The machine's load (``uptime``) is printed before and after: figures on a shared machine are only as
quiet as it is.

Usage: ``python bench/taft.py [--device cpu|cuda] [--threads 1] [--iters 5] [--vgg]``
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import time
from collections.abc import Callable

import numpy as np
import torch

from gsmoothface.blend import BlendConfig, MafbBlender
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.taft.config import TaftConfig
from gsmoothface.taft.losses import TaftLoss
from gsmoothface.taft.model import TaftGenerator
from gsmoothface.taft.vgg import Vgg19Features


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def rate(fn: Callable[[], None], items: int, iters: int, device: torch.device) -> float:
    """Items per second of ``fn`` (one warm-up call, then the median of ``iters`` timed calls)."""
    fn()
    _sync(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return items / float(np.median(times))


def generator_rate(cfg: TaftConfig, size: int, batch: int, iters: int, device: torch.device) -> float:
    gen = TaftGenerator(cfg.base_channels, cfg.max_channels, cfg.layers, cfg.residual).to(device).eval()
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1

    @torch.no_grad()
    def run() -> None:
        gen(x, x)

    return rate(run, batch, iters, device)


def train_rate(cfg: TaftConfig, size: int, iters: int, device: torch.device, vgg: bool) -> float:
    gen = TaftGenerator(cfg.base_channels, cfg.max_channels, cfg.layers, cfg.residual).to(device)
    opt = torch.optim.Adam(gen.parameters(), lr=cfg.lr)
    loss_fn = TaftLoss(cfg, Vgg19Features().to(device).eval().requires_grad_(False) if vgg else None)
    x = torch.rand(cfg.batch_size, 3, size, size, device=device) * 2 - 1

    def step() -> None:
        loss, _ = loss_fn(gen(x, x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return rate(step, 1, iters, device)


def blend_rate(size: int, batch: int, iters: int, device: torch.device) -> float:
    blender = MafbBlender(load_face_model(FaceModelConfig()), BlendConfig(size=size), device=str(device))
    frames = torch.rand(batch, 3, size, size, device=device)
    coeff = torch.zeros(batch, 257, device=device)
    tp = np.tile([512.0, 512.0, 0.45, 256.0, 256.0], (batch, 1))
    return rate(lambda: blender(frames, coeff, tp), batch, iters, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--vgg", action="store_true", help="also time training with the VGG19 loss")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    embedded = TaftConfig()
    recipe = dataclasses.replace(embedded, base_channels=64, max_channels=256, residual=False)
    size = BlendConfig().size
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"device {device}, {args.threads} threads, median of {args.iters} runs\n")
    rows = []
    for name, cfg in (
        ("recipe 64/256", recipe),
        (f"embedded {embedded.base_channels}/{embedded.max_channels}", embedded),
    ):
        for side in (256, 512):
            rows.append(
                (f"generator {name}, {side} px", "frames/s", generator_rate(cfg, side, 2, args.iters, device))
            )
    crop = embedded.patch or size
    what = f"train step embedded, {crop} px crops, batch {embedded.batch_size}"
    rows.append((f"{what}, L1+SSIM", "steps/s", train_rate(embedded, crop, args.iters, device, False)))
    if args.vgg:
        rows.append((f"{what}, VGG19", "steps/s", train_rate(embedded, crop, args.iters, device, True)))
    for side in (size, 512):
        rows.append(
            (
                f"MAFB blend (render 224 + mask + un-crop), {side} px, batch 16",
                "frames/s",
                blend_rate(side, 16, args.iters, device),
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"| {'what':<{width}} | unit     | value   |")
    print(f"|{'-' * (width + 2)}|----------|---------|")
    for what, unit, value in rows:
        print(f"| {what:<{width}} | {unit:<8} | {value:7.2f} |")
    print("\nload after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
