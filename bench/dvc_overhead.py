"""DVC's own overhead with a manifest of HDTF's size: status, no-op repro, adding one video.

Builds a throwaway git + DVC project in a temporary folder with the same shape as the pipeline:
a clip manifest loaded through ``vars``, two per-clip ``foreach`` stages (``slice@<clip>`` ->
``data/clips/<clip>``, ``fit@<clip>`` -> ``data/3dmm/<clip>.npz``) whose commands are trivial file
copies, and one ``train`` stage depending on the parent folder. The stage work is negligible, so the
times are DVC's: parsing, hashing, lock handling and process starts.

The project's outputs are made by file copies and recorded with ``dvc commit`` (running 801 stages
one by one takes tens of minutes, mostly DVC rewriting dvc.lock after each). Re-running everything
is estimated from ``--sample`` clips' forced stages (time beyond a no-op repro, per stage, times all
stages), or measured with ``--full``.

Usage: ``python bench/dvc_overhead.py [--videos 400] [--kb 16] [--sample 10] [--full]``.
Target: no-op ``dvc repro`` < 10 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

DVC = str(Path(sys.executable).parent / "dvc")
DVC_YAML = """\
vars:
  - manifest.yaml
stages:
  slice:
    foreach: ${clips}
    do:
      cmd: mkdir -p data/clips/${key} && cp ${item.video} data/clips/${key}/video.bin
      deps:
        - ${item.video}
      outs:
        - data/clips/${key}
  fit:
    foreach: ${clips}
    do:
      cmd: mkdir -p data/3dmm && cp data/clips/${key}/video.bin data/3dmm/${key}.npz
      deps:
        - data/clips/${key}
      outs:
        - data/3dmm/${key}.npz
  train:
    cmd: ls data/3dmm | wc -l > model.txt
    deps: [data/3dmm]
    outs: [model.txt]
"""


def run(repo: Path, *args: str) -> tuple[float, str]:
    """Seconds a command takes in ``repo``, and its output; fails loudly."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    start = time.perf_counter()
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds, result.stdout


def write_manifest(repo: Path, n: int) -> None:
    clips = {f"vid{i:04d}": {"video": f"raw/vid{i:04d}.bin"} for i in range(n)}
    (repo / "manifest.yaml").write_text(yaml.safe_dump({"clips": clips}))


def add_video(repo: Path, i: int, kb: int) -> None:
    (repo / "raw" / f"vid{i:04d}.bin").write_bytes(os.urandom(kb * 1024))


def make_outputs(repo: Path, n: int) -> None:
    """What the stages would write, made directly: clip folders, fits and the model file."""
    (repo / "data" / "3dmm").mkdir(parents=True)
    for i in range(n):
        clip = repo / "data" / "clips" / f"vid{i:04d}"
        clip.mkdir(parents=True)
        shutil.copy(repo / "raw" / f"vid{i:04d}.bin", clip / "video.bin")
        shutil.copy(clip / "video.bin", repo / "data" / "3dmm" / f"vid{i:04d}.npz")
    (repo / "model.txt").write_text(f"{n}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=400, help="clips in the manifest")
    parser.add_argument("--kb", type=int, default=16, help="size of each fake video (KiB)")
    parser.add_argument("--sample", type=int, default=10, help="clips whose stages are re-run and timed")
    parser.add_argument("--full", action="store_true", help="also time dvc repro --force of everything")
    args = parser.parse_args()
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="dvc-overhead-") as tmp:
        repo = Path(tmp)
        run(repo, "git", "init", "-q")
        run(repo, DVC, "init", "-q")
        run(repo, DVC, "config", "core.analytics", "false")
        (repo / "raw").mkdir()
        for i in range(args.videos):
            add_video(repo, i, args.kb)
        write_manifest(repo, args.videos)
        (repo / "dvc.yaml").write_text(DVC_YAML)
        n_stages = 2 * args.videos + 1
        make_outputs(repo, args.videos)
        seconds, _ = run(repo, DVC, "commit", "--force")
        rows.append(("dvc commit of every stage (setup)", seconds, f"{n_stages} stages"))
        seconds, out = run(repo, DVC, "status")
        rows.append(("dvc status, nothing changed", seconds, out.strip().splitlines()[-1][:40]))
        noop, out = run(repo, DVC, "repro")
        ran = out.count("Running stage")
        rows.append(("dvc repro, nothing changed (no-op)", noop, f"{ran} stages ran"))
        add_video(repo, args.videos, args.kb)
        write_manifest(repo, args.videos + 1)
        seconds, out = run(repo, DVC, "status")
        rows.append(("dvc status after adding 1 video", seconds, ""))
        seconds, out = run(repo, DVC, "repro")
        ran = out.count("Running stage")
        rows.append(("dvc repro after adding 1 video", seconds, f"{ran} stages ran"))
        targets = [f"{stage}@vid{i:04d}" for i in range(args.sample) for stage in ("slice", "fit")]
        seconds, out = run(repo, DVC, "repro", "--force", "--single-item", *targets, "train")
        ran = out.count("Running stage")
        per_stage = (seconds - noop) / ran  # beyond the fixed cost of a no-op repro
        rows.append((f"dvc repro --force of {ran} stages", seconds, f"no-op + {per_stage:.2f} s per stage"))
        everything = noop + per_stage * (n_stages + 2)
        rows.append(("re-run everything (estimate)", everything, f"no-op + {n_stages + 2} stages"))
        if args.full:
            seconds, out = run(repo, DVC, "repro", "--force")
            ran = out.count("Running stage")
            rows.append(("dvc repro --force (re-run everything)", seconds, f"{ran} stages ran"))
    load = os.getloadavg()[0]
    print(f"dvc overhead, {args.videos} videos ({args.kb} KiB each), load average {load:.1f}")
    print(f"{'measurement':<40} {'seconds':>8}  note")
    for name, seconds, note in rows:
        print(f"{name:<40} {seconds:>8.2f}  {note}")


if __name__ == "__main__":
    main()
