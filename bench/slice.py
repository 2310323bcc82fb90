"""Speed of the ``slice`` stage on an HDTF-like source: 1280x720, 25 fps, AAC 44.1 kHz stereo.

The source is the real HDTF test clip (a 590 px face crop) padded into a 720p frame and looped to
``--seconds``. Rows: audio decode to 16 kHz mono, crop-box landmarks (dlib on frames sampled at
``slice.detect_fps``), frame decode + crop + resize to ``--size``, and the whole per-video slice
(decode, H.264 encode with the audio muxed, WAV, meta) as seconds per minute of source video. The
machine's load (``uptime``) is printed: timings on a shared machine are noisy.

Usage: ``python bench/slice.py [--seconds 30] [--size 512]``
Target: the whole slice faster than real time (under 60 s per minute of video) on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import ffmpeg

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
HDTF = REAL / "video02_ocasio-cortez_hdtf_25fps.mp4"


def make_source(path: Path, seconds: float) -> None:
    """Loop the HDTF clip, pad it into a 1280x720 frame, keep its 44.1 kHz stereo AAC."""
    source = ffmpeg.input(str(HDTF), stream_loop=-1, t=seconds)
    video = source.video.filter("pad", w=1280, h=720, x=345, y=65)
    ffmpeg.output(
        video, source.audio, str(path), vcodec="libx264", preset="veryfast", acodec="aac"
    ).global_args("-loglevel", "error", "-y").run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    if not HDTF.is_file():
        raise SystemExit(f"real test media not found at {REAL}")

    from gsmoothface import media
    from gsmoothface.landmarks import open_landmark_source
    from gsmoothface.slicing import SliceConfig, slice_folder
    from gsmoothface.slicing.geometry import crop_box_from_landmarks

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        src = raw / "hdtf720.mp4"
        make_source(src, args.seconds)
        info = media.probe(src)
        minutes = info.av_duration_s / 60
        rows = []

        start = time.perf_counter()
        media.load_audio(src, 16000)
        rows.append(("audio decode -> 16 kHz mono", time.perf_counter() - start))

        cfg = SliceConfig(input_dir=raw, output_dir=Path(tmp) / "clips", size=args.size)
        detector = open_landmark_source("dlib")
        start = time.perf_counter()
        frames = media.read_frames(src, fps=cfg.detect_fps)
        lm, valid = detector.detect(frames)
        box = crop_box_from_landmarks(lm, valid, info.width, info.height, cfg.crop_scale, cfg.crop_shift)
        rows.append(
            (f"crop box: dlib on {len(frames)} frames ({cfg.detect_fps:g} fps)", time.perf_counter() - start)
        )

        start = time.perf_counter()
        n = sum(
            len(c) for c in media.iter_frames(src, fps=25, crop=(*box[:2], box[2], box[2]), size=args.size)
        )
        rows.append((f"decode + crop + resize to {args.size} ({n} frames)", time.perf_counter() - start))

        start = time.perf_counter()
        report = slice_folder(cfg, log=lambda _: None)
        rows.append(("whole slice (decode, encode, audio, meta)", time.perf_counter() - start))
        assert not report.failures, report.failures

    print(f"source: {info.width}x{info.height}, {info.av_duration_s:.1f} s; load: {os.getloadavg()[0]:.2f}")
    print(f"{'step':<52} {'s':>7} {'s / min of video':>17}")
    for name, seconds in rows:
        print(f"{name:<52} {seconds:7.2f} {seconds / minutes:17.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
