"""A2EP speed: training windows/s (faithful vs fixed) and inference real-time factor (KV cache on/off).

Two model sizes, both with random weights (speed does not depend on the weights):

- ``embedded``: the tiny default of ``params.yaml`` (log-mel front end, 2-layer 64-d encoder,
  64-d decoder);
- ``base``: the GSmoothFace recipe's size: the wav2vec2-base encoder (768-d, 12 layers, over
  512-d CNN features) and the 1024-d / 4-head / FFN 2048 decoder.

Training: the same batch of 100-frame windows is trained on in both modes; faithful mode is the
released loop (T unmasked autoregressive passes per window), fixed mode one teacher-forced causal
pass. Inference: the prediction path over 600 and 6000 frames (24 s and 4 min of audio), with and
without the key/value cache, in windows of the training length (100 frames, 20 cross-faded) and in
the recipe's 24 s chunks (600 frames, 25 cross-faded); 16 windows per batch. The real-time factor is
compute time / audio duration (< 1 is faster than real time) and includes the front end (log-mel,
or the wav2vec2 CNN with random weights). Uncached decoding re-runs the whole prefix at every frame,
so its cost per frame grows with the window while the cached cost does not; the audio encoder costs
the same in both.

Usage: ``python bench/a2ep.py [--device cpu|cuda] [--threads 2] [--configs embedded base]
[--frames 600 6000] [--windows 100:20 600:25] [--batch B]``
Targets: fixed >= 10x faithful windows/s; cached >= 5x uncached at 6000 frames; base faster than
real time. Timings on a shared machine are noisy: the load (``uptime``) is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
import torch

from gsmoothface.a2ep.config import A2EPConfig
from gsmoothface.a2ep.loss import ExpressionLoss
from gsmoothface.a2ep.model import A2EP, tiny_encoder_config
from gsmoothface.a2ep.predict import predict_expressions
from gsmoothface.audio import AudioConfig, open_frontend, to_frame_rate

WINDOW = 100


def build(name: str, faithful: bool) -> tuple[A2EP, object]:
    """(model, front end) of a configuration; the front end maps audio (S,) -> 50 Hz features."""
    torch.manual_seed(0)
    if name == "embedded":
        cfg = dataclasses.replace(A2EPConfig(), faithful=faithful, window=WINDOW)
        frontend = open_frontend(AudioConfig())
        return A2EP(cfg, tiny_encoder_config(frontend.dim, cfg), 8), frontend
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    cfg = A2EPConfig(faithful=faithful, d_model=1024, n_heads=4, ffn_dim=2048, encoder_layerdrop=0.0)
    cfg = dataclasses.replace(cfg, window=WINDOW)
    w2v = Wav2Vec2Model(Wav2Vec2Config()).eval()  # wav2vec2-base sizes
    encoder_config = {**w2v.config.to_dict(), "layerdrop": 0.0}
    frontend = open_frontend(AudioConfig())
    frontend.model = w2v  # the CNN of wav2vec2-base as the front end
    return A2EP(cfg, encoder_config, 8), frontend


def synchronize() -> None:
    """Wait for queued GPU work, so that wall time covers it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_seconds(run, steps: int) -> float:
    """Median wall time of ``run()`` over ``steps`` calls after one warm-up call."""
    times = []
    for _ in range(steps + 1):
        synchronize()
        start = time.perf_counter()
        run()
        synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def train_step_seconds(model: A2EP, feats: torch.Tensor, exp: torch.Tensor, steps: int) -> float:
    """Seconds per optimiser step on one fixed batch."""
    speaker = torch.eye(model.n_speakers)[torch.arange(feats.shape[0]) % model.n_speakers].to(feats.device)
    loss_fn = ExpressionLoss(torch.randn(64, 50, 3), torch.ones(50, dtype=torch.bool)).to(feats.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        loss = loss_fn(model(feats, speaker, exp), exp)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return median_seconds(step, steps)


def encoder_seconds(model: A2EP, feats: torch.Tensor, steps: int) -> float:
    """Seconds of the audio encoder's forward and backward on the batch (the same in both modes)."""
    model.train()

    def step() -> None:
        model.memory(feats).square().mean().backward()
        model.zero_grad(set_to_none=True)

    return median_seconds(step, steps)


def audio_of(frames: int) -> np.ndarray:
    rng = np.random.default_rng(frames)
    return (0.1 * rng.standard_normal(frames * 640)).astype(np.float32)


def front_end(frontend, frames: int) -> tuple[np.ndarray, float]:
    """(features at 25 fps, seconds) of ``frames`` frames of noise audio."""
    audio = audio_of(frames)
    start = time.perf_counter()
    with torch.no_grad():
        feats = to_frame_rate(frontend(audio), frames)
    return feats, time.perf_counter() - start


def model_seconds(model: A2EP, feats: np.ndarray, window: int, overlap: int, use_cache: bool) -> float:
    """Seconds of the prediction path (windows, decoding, cross-fade) over the given features."""
    code = np.eye(model.n_speakers, dtype=np.float32)[0]
    synchronize()
    start = time.perf_counter()
    predict_expressions(model, feats, code, window, overlap, 16, use_cache)
    synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="where the model runs (the front end stays on CPU)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=["embedded", "base"])
    parser.add_argument("--frames", nargs="+", type=int, default=[600, 6000])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per mode")
    parser.add_argument("--batch", type=int, default=0, help="windows per step (0: 8 embedded, 2 base)")
    parser.add_argument(
        "--windows", nargs="+", default=["100:20", "600:25"], help="prediction window:overlap, frames"
    )
    parser.add_argument("--parts", nargs="+", default=["train", "predict"], help="tables to measure")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"load average: {os.getloadavg()}, torch threads: {args.threads}, device: {name}")

    if "train" in args.parts:
        train_table(args, device)
    if "predict" in args.parts:
        predict_table(args, device)


def train_table(args: argparse.Namespace, device: torch.device) -> None:
    """Training windows/s, faithful vs fixed, on the same batch."""
    print("\ntraining (same batch of 100-frame windows); the audio encoder's forward + backward runs once")
    print("per window in both modes: 'beyond encoder' compares the rest of the two steps")
    header = f"{'config':<10}{'batch':>6}{'faithful win/s':>16}{'fixed win/s':>13}{'ratio':>8}"
    print(header + f"{'encoder s/step':>16}{'beyond encoder':>16}")
    for name in args.configs:
        batch = args.batch or (8 if name == "embedded" else 2)
        seconds = {}
        for faithful in (True, False):
            model, frontend = build(name, faithful)
            model.to(device)
            feats = torch.randn(batch, WINDOW, frontend.dim).to(device)
            exp = (0.1 * torch.randn(batch, WINDOW, 64)).to(device)
            steps = args.steps if not faithful else max(1, args.steps // 2)
            seconds[faithful] = train_step_seconds(model, feats, exp, steps)
        encoder = encoder_seconds(model, feats, args.steps)
        beyond = (seconds[True] - encoder) / (seconds[False] - encoder)
        print(
            f"{name:<10}{batch:>6}{batch / seconds[True]:>16.2f}{batch / seconds[False]:>13.2f}"
            f"{seconds[True] / seconds[False]:>7.1f}x{encoder:>16.3f}{beyond:>15.1f}x"
        )


def predict_table(args: argparse.Namespace, device: torch.device) -> None:
    """Real-time factor of the prediction path with and without the KV cache."""
    print("\ninference, prediction path (16 windows per batch)")
    print("RTF = (front end + model) / audio duration; speed-up of the model part")
    header = f"{'config':<10}{'window':>8}{'frames':>7}{'front s':>9}{'model s cached':>16}{'uncached':>10}"
    print(header + f"{'RTF cached':>12}{'RTF uncached':>14}{'speed-up':>10}")
    windows = [tuple(int(v) for v in w.split(":")) for w in args.windows]
    for name in args.configs:
        model, frontend = build(name, False)
        model.to(device).eval()
        model_seconds(model, front_end(frontend, 120)[0], 100, 20, True)  # warm-up
        for frames in args.frames:
            feats, front = front_end(frontend, frames)
            for window, overlap in windows:
                cached = model_seconds(model, feats, window, overlap, True)
                uncached = model_seconds(model, feats, window, overlap, False)
                duration = frames / 25
                print(
                    f"{name:<10}{f'{window}:{overlap}':>8}{frames:>7}{front:>9.2f}{cached:>16.2f}"
                    f"{uncached:>10.2f}{(front + cached) / duration:>12.4f}"
                    f"{(front + uncached) / duration:>14.4f}{uncached / cached:>9.1f}x"
                )


if __name__ == "__main__":
    main()
