"""Memory and speed of ``gsmoothface generate`` against the audio's length.

Each row runs the inference path (A2EP prediction, MAFB, TAFT, paste-back, H.264/AAC encoding) in
a fresh process on a 2 s synthetic reference clip driven by audio of the given length (the
reference ping-pongs), and prints the wall time, frames/s and the process's peak resident memory.
Memory must not grow with the audio: frames stream in chunks through memory-mapped references, so
the peak of a long run should equal a short run's, and a 10-minute audio fits the same bound.
The last row predicts expressions only for 10 minutes of audio (A2EP's windowed prediction).
The models are untrained, sized as the embedded default (speed and memory do not depend on the
weights). The machine's load (``uptime``) is printed: timings on a shared machine are noisy.

Usage: ``python bench/generate.py [--seconds 5 20 60] [--size 128]``
Target: peak memory of the longest run within 10 % (+50 MB) of the shortest run's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

CLIP_SIDE = 256  # reference clip frame side, px
REF_FRAMES = 50  # reference clip length, frames (2 s)


def _reference(root: Path, blender) -> Path:
    """A still synthetic face on a textured background: clip folder + fit, as `slice`/`fit_3dmm` write."""
    from gsmoothface.blend.mafb import composite
    from gsmoothface.media import VideoWriter

    clip = root / "clips" / "bench"
    clip.mkdir(parents=True)
    tp = np.tile([CLIP_SIDE, CLIP_SIDE, 224 / CLIP_SIDE, CLIP_SIDE / 2, CLIP_SIDE / 2], (REF_FRAMES, 1))
    coeff = np.zeros((REF_FRAMES, 257), np.float32)
    coeff[:, 224] = 0.05 * np.sin(np.arange(REF_FRAMES) / 8)  # a slow nod
    rng = np.random.default_rng(0)
    background = torch.nn.functional.interpolate(
        torch.from_numpy(rng.uniform(0.2, 0.8, (1, 3, 16, 16)).astype(np.float32)), size=CLIP_SIDE
    )
    with VideoWriter(clip / "video.mp4", CLIP_SIDE, CLIP_SIDE) as writer:
        for start in range(0, REF_FRAMES, 10):
            image, mask = blender.render_crop(torch.from_numpy(coeff[start : start + 10]))
            n = len(image)
            frames = composite(
                background.expand(n, -1, -1, -1), image, mask, tp[start : start + n], blender.cfg
            )
            writer.write((frames.blended * 255).round().byte().permute(0, 2, 3, 1).numpy())
    meta = {"clip": "bench", "frames": REF_FRAMES, "size": CLIP_SIDE, "speaker": None, "split": "test"}
    (clip / "meta.json").write_text(json.dumps(meta))
    (root / "3dmm").mkdir()
    np.savez(root / "3dmm" / "bench.npz", coeff=coeff, trans_params=tp)
    return clip


def _models(size: int):
    """Untrained A2EP (embedded-default sizes, log-mel front end) and TAFT at ``size``."""
    from gsmoothface.a2ep.config import A2EPConfig
    from gsmoothface.a2ep.model import A2EP, tiny_encoder_config
    from gsmoothface.a2ep.predict import predict_expressions
    from gsmoothface.audio import AudioConfig, open_frontend, to_frame_rate
    from gsmoothface.generate import taft_translator
    from gsmoothface.taft.checkpoint import build_generator
    from gsmoothface.taft.config import TaftConfig

    torch.manual_seed(0)
    cfg = A2EPConfig()
    audio_cfg = AudioConfig()
    a2ep = A2EP(cfg, tiny_encoder_config(audio_cfg.n_mels, cfg), n_speakers=4).eval()
    torch.nn.init.normal_(a2ep.vertice_map_r.weight, std=0.01)  # non-zero output, as a trained model
    frontend = open_frontend(audio_cfg)

    def predict(audio: np.ndarray, n_frames: int, speaker: str | None) -> np.ndarray:
        features = to_frame_rate(frontend(audio), n_frames)
        code = np.full(4, 0.25, np.float32)
        return predict_expressions(
            a2ep, features, code, cfg.predict_window, cfg.predict_overlap, cfg.predict_batch
        )

    translator = taft_translator(build_generator(TaftConfig()).eval())
    assert size % 8 == 0
    return predict, translator


def _speech(seconds: float) -> np.ndarray:
    """Speech-like audio: syllable-rate modulated harmonics with pauses, 16 kHz."""
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) * (np.sin(2 * np.pi * 0.3 * t) > -0.5)
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 560, 1100), start=1))
    return (0.2 * envelope * voice).astype(np.float32)


def _run(seconds: float, size: int, predict_only: bool, queue: mp.Queue) -> None:
    from gsmoothface.blend import BlendConfig, MafbBlender
    from gsmoothface.face_model import FaceModelConfig, load_face_model
    from gsmoothface.generate import GenerateConfig, generate_video, open_reference

    torch.set_num_threads(2)
    predict, translator = _models(size)
    audio = _speech(seconds)
    start = time.perf_counter()
    if predict_only:
        frames = len(predict(audio, round(seconds * 25), None))
    else:
        blender = MafbBlender(load_face_model(FaceModelConfig()), BlendConfig(size=size), backend="cpu")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _reference(root, blender)
            cfg = GenerateConfig(clips_dir=root / "clips", fit_dir=root / "3dmm", cache_dir=root / "cache")
            reference = open_reference(root / "clips" / "bench", cfg)
            start = time.perf_counter()
            summary = generate_video(
                audio,
                reference,
                predict,
                blender,
                translator,
                root / "out.mp4",
                cfg,
                size,
                progress_every=10**9,
            )
            frames = int(summary["frames"])  # type: ignore[call-overload]
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, frames, wall, peak_mb))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[5.0, 20.0, 60.0])
    parser.add_argument("--size", type=int, default=128, help="MAFB/TAFT resolution (blend.size)")
    args = parser.parse_args()
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"{'run':<16}{'audio s':>9}{'frames':>8}{'wall s':>9}{'frames/s':>10}{'peak RSS MB':>13}")
    ctx = mp.get_context("spawn")  # a fresh process per row: ru_maxrss is that row's peak
    peaks = []
    rows = [(s, False) for s in args.seconds] + [(600.0, True)]
    for seconds, predict_only in rows:
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(seconds, args.size, predict_only, queue))
        proc.start()
        audio_s, frames, wall, peak = queue.get()
        proc.join()
        name = "A2EP only" if predict_only else "generate"
        print(f"{name:<16}{audio_s:>9.0f}{frames:>8}{wall:>9.1f}{frames / wall:>10.1f}{peak:>13.0f}")
        if not predict_only:
            peaks.append(peak)
    bound = peaks[0] * 1.1 + 50
    verdict = "PASS" if max(peaks) <= bound else "FAIL"
    print(
        f"peak memory: longest {max(peaks):.0f} MB vs bound {bound:.0f} MB (shortest x 1.1 + 50) -> {verdict}"
    )
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
