"""Speed and memory of ``gsmoothface generate``.

``speed`` (the default): the whole command, model loading included, on real references whose
slicing and fitting are cached (a first, untimed run caches them), driven by 20 s of speech. Each
reference runs with the current code and, side by side, with a baseline revision (``--baseline``,
checked out in a temporary git worktree, run on its own ``params.yaml`` and the same models). It
prints the wall time, frames/s and the ratio, then the current code's per-step seconds (decode,
A2EP, render + MAFB, TAFT, colour match, paste-back, encode) as ``generate`` reports them.

``memory``: each row runs the inference path in a fresh process on a 2 s synthetic reference clip
driven by audio of the given length (the reference ping-pongs), and prints the wall time, frames/s
and the process's peak resident memory. Memory must not grow with the audio: frames stream in
chunks through memory-mapped references, so the peak of a 10-minute run should equal a short one's.
The last row predicts expressions only for 10 minutes of audio (A2EP's windowed prediction). The
models are untrained, sized as the embedded default (speed and memory do not depend on weights).

The machine's load (``uptime``) is printed: timings on a shared machine are noisy.

Usage (project root, venv active)::

    python bench/generate.py speed --reference VIDEO_OR_CLIP ... [--audio SPEECH] [--baseline REV]
    python bench/generate.py memory [--seconds 5 600] [--size 256]

Targets: speed >= 25 frames/s on a 2-core CPU (issue: fast enough to use); memory: peak of the
longest run within 10 % (+50 MB) of the shortest run's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

CLIP_SIDE = 256  # reference clip frame side, px
REF_FRAMES = 50  # reference clip length, frames (2 s)
ROOT = Path(__file__).resolve().parents[1]
SPEECH_S = 20.0  # seconds of speech driving each speed run
STEPS = re.compile(r"generate: ([\d.]+) s in all, .*?; (.*)$", re.M)


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


def _speech_file(audio: Path | None, reference: Path, folder: Path) -> Path:
    """``SPEECH_S`` seconds of the given speech, or of the reference's own sound track (a clip's
    ``audio.wav``), looped when shorter, as a 16 kHz wav."""
    source = audio if audio is not None else reference
    if source.is_dir():
        source = source / "audio.wav"
    out = folder / f"{reference.name}_{SPEECH_S:.0f}s.wav"
    args = ["ffmpeg", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(source), "-vn"]
    args += ["-ac", "1", "-ar", "16000"]
    subprocess.run([*args, "-t", str(SPEECH_S), str(out)], check=True)
    return out


def _generate(code: Path, params: Path, reference: Path, audio: Path, out: Path) -> tuple[float, str]:
    """Run ``gsmoothface generate`` of the checkout ``code`` from the project root; wall s, output."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-P", "-c", "from stages.cli import app; app()", "generate"]  # -P: not cwd
    command += ["--audio", str(audio), "--reference", str(reference), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--params", str(params)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"generate failed ({code}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return wall, done.stdout


def speed(references: list[Path], audio: Path | None, baseline: str | None) -> None:
    """Whole-command wall time per reference, current code and ``baseline`` side by side."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        codes = {"current": (ROOT, ROOT / "params.yaml")}
        if baseline:
            worktree = folder / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "-q", "--detach", str(worktree), baseline], cwd=ROOT, check=True
            )
            codes = {f"baseline {baseline}": (worktree, worktree / "params.yaml"), **codes}
        try:
            rows, steps = [], {}
            for reference in references:
                speech = _speech_file(audio, reference, folder)
                _generate(ROOT, ROOT / "params.yaml", reference, speech, folder / "warm.mp4")  # caches
                walls = {}
                for name, (code, params) in codes.items():
                    walls[name], output = _generate(code, params, reference, speech, folder / "out.mp4")
                    found = STEPS.search(output)
                    if name == "current" and found:
                        steps[reference.name] = found.group(2)
                frames = round(SPEECH_S * 25)
                rows.append((reference.name, frames, walls))
        finally:
            if baseline:
                subprocess.run(["git", "worktree", "remove", "--force", str(folder / "baseline")], cwd=ROOT)
    names = list(codes)
    print(f"{'reference':<48}{'frames':>7}" + "".join(f"{n[:22]:>24}" for n in names) + f"{'speed-up':>10}")
    for reference, frames, walls in rows:
        cells = "".join(f"{walls[n]:>9.1f} s {frames / walls[n]:>5.1f} fps{'':>3}" for n in names)
        ratio = walls[names[0]] / walls["current"]
        print(f"{reference[:47]:<48}{frames:>7}{cells}{ratio:>9.2f}x")
    print("\nper step (current code, s):")
    for reference, table in steps.items():
        print(f"  {reference[:46]:<46} {table}")


def memory(seconds: list[float], size: int) -> None:
    """Peak RSS and speed of the inference path in a fresh process per audio length."""
    print(f"{'run':<16}{'audio s':>9}{'frames':>8}{'wall s':>9}{'frames/s':>10}{'peak RSS MB':>13}")
    ctx = mp.get_context("spawn")  # a fresh process per row: ru_maxrss is that row's peak
    peaks = []
    rows = [(s, False) for s in seconds] + [(600.0, True)]
    for length, predict_only in rows:
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(length, size, predict_only, queue))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="bench")
    fast = sub.add_parser("speed", help="whole-command wall time, current vs baseline, per-step table")
    fast.add_argument("--reference", type=Path, nargs="+", default=[Path("data/clips/spk03_u04")])
    fast.add_argument("--audio", type=Path, help="speech (default: each reference's own sound track)")
    fast.add_argument("--baseline", help="git revision to compare with (e.g. a tag or commit)")
    mem = sub.add_parser("memory", help="peak RSS against the audio's length (10 minutes included)")
    mem.add_argument("--seconds", type=float, nargs="+", default=[5.0, 600.0])
    mem.add_argument("--size", type=int, default=256, help="MAFB/TAFT resolution (blend.size)")
    args = parser.parse_args(sys.argv[1:] or ["speed"])
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    if args.bench == "memory":
        memory(args.seconds, args.size)
    else:
        speed(args.reference, args.audio, args.baseline)
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
