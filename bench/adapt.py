"""Person adaptation on real videos: time against video length, quality against the unadapted model.

For each real video (default: video06, video07 and video08 of ``../shared/testdata/real``):

1. the first 75% is the person's adaptation video and the last 25% the held-out part;
2. ``gsmoothface adapt`` runs on the first part (budget ``--minutes``), timed;
3. the held-out part is driven by its own audio twice, with the held-out part as the reference:
   by the embedded (unadapted) model and by the person model (``generate --person``), timed;
4. ``gsmoothface score`` compares both with the true held-out frames;
5. a contact sheet (truth | unadapted | adapted; the two most open and the two most closed true
   mouths) is written to ``bench/out/adapt/<video>.png``.

It prints one table and writes ``bench/out/adapt/results.json``. Run from the project root with the
venv active: ``python bench/adapt.py [--minutes 10] [--videos ...] [--reuse]`` (``--reuse`` keeps
person models already adapted and times and scores ``generate`` alone).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "testdata" / "real"
DEFAULT_VIDEOS = (
    "video06_young_man_seated_portrait_hevc_30fps_20s.mp4",
    "video07_woman_seated_portrait_hevc_10s.mp4",
    "video08_hill_hdtf_mpeg4_8s.mp4",
)
HEAD_SHARE = 0.75
SHEET_HEIGHT = 256  # px of each contact-sheet tile


def run(args: list[str]) -> float:
    """Run a command from the project root; return its wall time (s); fail loudly."""
    started = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def split_video(video: Path, out: Path) -> tuple[Path, Path, float]:
    """The first 75% and the last 25% of ``video`` (H.264 crf 14 + AAC) and its duration."""
    from gsmoothface.media import probe

    duration = probe(video).duration_s
    cut = round(duration * HEAD_SHARE, 2)
    head, tail = out / f"{video.stem}.head.mp4", out / f"{video.stem}.tail.mp4"
    codec = ["-c:v", "libx264", "-crf", "14", "-c:a", "aac"]
    if not head.is_file():
        run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-t", str(cut), *codec, str(head)])
    if not tail.is_file():
        run(["ffmpeg", "-v", "error", "-y", "-ss", str(cut), "-i", str(video), *codec, str(tail)])
    return head, tail, duration


def score(truth: Path, generated: Path, out: Path) -> dict:
    run([sys.executable, "-m", "stages", "score", str(truth), str(generated), "--json", str(out)])
    return json.loads(out.read_text())


def contact_sheet(truth: Path, unadapted: Path, adapted: Path, out: Path) -> None:
    """truth | unadapted | adapted rows for the 2 most open and the 2 most closed true mouths."""
    from gsmoothface.evaluation.score import mouth_opening
    from gsmoothface.landmarks.dlib68 import DlibSource
    from gsmoothface.media import read_frames

    videos = [read_frames(p, fps=25) for p in (truth, unadapted, adapted)]
    n = min(len(v) for v in videos)
    lm, valid = DlibSource().detect(videos[0][:n])
    opening = np.where(valid, mouth_opening(np.nan_to_num(lm)), np.nan)
    order = np.argsort(np.nan_to_num(opening, nan=np.nanmedian(opening)))
    frames = [int(order[-1]), int(order[-2]), int(order[0]), int(order[1])]
    box = face_crop(lm[valid], videos[0].shape[1:3])
    rows = []
    for t in frames:
        tiles = [Image.fromarray(v[t][box[1] : box[3], box[0] : box[2]]) for v in videos]
        tiles = [tile.resize((SHEET_HEIGHT, SHEET_HEIGHT)) for tile in tiles]
        rows.append(np.concatenate([np.asarray(tile) for tile in tiles], axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(out)


def face_crop(lm: np.ndarray, hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """A square box around every detected landmark, grown by 30%."""
    lo, hi = np.nanmin(lm.reshape(-1, 2), 0), np.nanmax(lm.reshape(-1, 2), 0)
    centre, side = (lo + hi) / 2, (hi - lo).max() * 1.3
    x0, y0 = (int(max(v, 0)) for v in centre - side / 2)
    return x0, y0, int(min(x0 + side, hw[1])), int(min(y0 + side, hw[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", nargs="*", type=Path, default=[REAL / v for v in DEFAULT_VIDEOS])
    parser.add_argument("--minutes", type=float, default=10.0, help="adapt budget per person")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "adapt")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the person models already adapted (time generate only)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for video in args.videos:
        head, tail, duration = split_video(video, args.out)
        name = f"bench_{video.stem.split('_')[0]}"
        card_path = ROOT / "models" / "people" / name / "card.json"
        if args.reuse and card_path.is_file():
            adapt_s = json.loads(card_path.read_text()).get("seconds", float("nan"))
        else:
            adapt = [sys.executable, "-m", "stages", "adapt", str(head), "--name", name]
            adapt_s = run([*adapt, "--minutes", str(args.minutes)])
        card = json.loads(card_path.read_text())
        outputs = {}
        for kind, extra in (("unadapted", []), ("adapted", ["--person", name])):
            outputs[kind] = args.out / f"{video.stem}.{kind}.mp4"
            gen = [sys.executable, "-m", "stages", "generate", "--audio", str(tail), "--reference", str(tail)]
            gen_s = run([*gen, "--out", str(outputs[kind]), *extra])
            scores = score(tail, outputs[kind], args.out / f"{video.stem}.{kind}.json")
            results.append(
                {
                    "video": video.stem,
                    "model": kind,
                    "seconds_adapted_on": round(duration * HEAD_SHARE, 2),
                    "adapt_s": round(adapt_s, 1) if kind == "adapted" else None,
                    "adapt_steps": card["figures"].get("steps") if kind == "adapted" else None,
                    "generate_s": round(gen_s, 1),
                    "generate_fps": round(scores["frames_compared"] / gen_s, 2),
                    **{k: scores.get(k) for k in ("face_psnr_db", "face_ssim", "jaw_band_psnr_db")},
                    "mouth_lmd_pct_iod": scores.get("mouth_lmd_pct_iod"),
                    "mouth_open_r": scores.get("mouth_open_r"),
                    "cpbd_ratio": scores.get("cpbd_ratio"),
                }
            )
        contact_sheet(tail, outputs["unadapted"], outputs["adapted"], args.out / f"{video.stem}.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    columns = list(results[0])
    print(" | ".join(columns))
    for row in results:
        print(" | ".join("" if row[c] is None else str(row[c]) for c in columns))


if __name__ == "__main__":
    main()
