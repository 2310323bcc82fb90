"""Decoding through ffmpeg: video frames in chunks (crop, resize, rate) and mono audio."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gsmoothface.errors import InputError
from gsmoothface.media.ffmpeg_io import (
    GLOBAL_ARGS,
    check_file,
    ffmpeg_input,
    read_tail,
    stderr_file,
    stderr_tail,
)
from gsmoothface.media.probe import probe


def _as_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int):
        return size, size
    width, height = size
    return int(width), int(height)


def iter_frames(
    path: str | Path,
    chunk: int = 64,
    size: int | Sequence[int] | None = None,
    fps: float | None = None,
    start_s: float | None = None,
    duration_s: float | None = None,
    crop: Sequence[int] | None = None,
) -> Iterator[np.ndarray]:
    """Decode a video into chunks of RGB frames.

    Parameters
    ----------
    path: any video ffmpeg reads.
    chunk: frames per yielded array.
    size: output size, an int (square) or ``(width, height)``; ``None`` keeps the (cropped) size.
    fps: resample to this constant rate (frames are picked at times ``k / fps`` from the start of
        the decoded span, the first frame repeated if the stream starts late); ``None`` passes the
        source frames through.
    start_s, duration_s: decode only this time span (seconds).
    crop: ``(x0, y0, width, height)`` in source pixels, applied before resizing; parts outside the
        frame are black.

    Yields
    ------
    (n, H, W, 3) uint8 arrays, n <= chunk.
    """
    path = Path(path)
    info = probe(path)
    if not info.has_video:
        raise InputError(f"{path}: no video stream")
    stream = ffmpeg_input(path, start_s, duration_s).video
    out_w, out_h = info.width, info.height
    if fps is not None:
        stream = stream.filter("fps", fps=fps, start_time=0)
    if crop is not None:
        x0, y0, cw, ch = (int(v) for v in crop)
        left, top = max(0, -x0), max(0, -y0)
        right, bottom = max(0, x0 + cw - info.width), max(0, y0 + ch - info.height)
        if left or top or right or bottom:
            # in RGB, pad offsets are exact (on yuv420p they snap to the chroma grid)
            stream = stream.filter("format", "rgb24").filter(
                "pad", w=info.width + left + right, h=info.height + top + bottom, x=left, y=top
            )
        # exact: without it ffmpeg rounds odd offsets down to the chroma grid (a one-pixel shift)
        stream = stream.filter("crop", w=cw, h=ch, x=x0 + left, y=y0 + top, exact=1)
        out_w, out_h = cw, ch
    target = _as_size(size)
    if target is not None and target != (out_w, out_h):
        stream = stream.filter("scale", w=target[0], h=target[1], flags="bicubic")
        out_w, out_h = target
    out_kwargs: dict[str, Any] = {"format": "rawvideo", "pix_fmt": "rgb24"}
    if fps is None:
        out_kwargs["fps_mode"] = "passthrough"
    args = stream.output("pipe:", **out_kwargs).global_args(*GLOBAL_ARGS).compile()
    frame_bytes = out_w * out_h * 3
    with stderr_file() as err, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err) as proc:
        assert proc.stdout is not None
        total = 0
        try:
            while True:
                data = proc.stdout.read(frame_bytes * chunk)
                n = len(data) // frame_bytes
                if n:
                    total += n
                    yield np.frombuffer(data[: n * frame_bytes], np.uint8).reshape(n, out_h, out_w, 3)
                if len(data) < frame_bytes * chunk:
                    break
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            raise InputError(f"{path}: ffmpeg could not decode the video: {read_tail(err)}")
        if total == 0:
            raise InputError(f"{path}: no video frames decoded {_span(start_s, duration_s)}".rstrip())


def read_frames(path: str | Path, **kwargs: Any) -> np.ndarray:
    """All frames of :func:`iter_frames` as one ``(T, H, W, 3)`` uint8 array."""
    return np.concatenate(list(iter_frames(path, **kwargs)), axis=0)


def _span(start_s: float | None, duration_s: float | None) -> str:
    if start_s is None and duration_s is None:
        return ""
    return f"(span start {start_s or 0.0:.3f} s, duration {duration_s})"


def load_audio(
    path: str | Path,
    sample_rate: int = 16000,
    start_s: float | None = None,
    duration_s: float | None = None,
) -> np.ndarray:
    """Decode the first audio stream of any media file to mono float32 at ``sample_rate``.

    Returns
    -------
    (S,) float32 in [-1, 1] from time ``start_s`` (or 0) of the file: an audio stream that starts
    late is preceded by silence; channels are averaged by ffmpeg's down-mix; decoder padding past
    the stream's stated duration is cut.
    """
    path = Path(path)
    check_file(path)
    args = (
        ffmpeg_input(path, start_s, duration_s)
        .audio.filter("aresample", first_pts=0)  # silence before a late-starting stream keeps A/V sync
        .output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=sample_rate)
        .global_args(*GLOBAL_ARGS)
        .compile()
    )
    proc = subprocess.run(args, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = stderr_tail(proc.stderr)
        if "matches no streams" in tail:
            raise InputError(f"{path}: no audio stream")
        raise InputError(f"{path}: ffmpeg could not decode the audio: {tail}")
    audio = np.frombuffer(proc.stdout, np.float32).copy()
    # AAC decoders emit the encoder's end padding; keep only the stream's stated duration
    end_s = probe(path).audio_end_s - (start_s or 0.0)
    if duration_s is not None:
        end_s = min(end_s, duration_s)
    n_stated = round(end_s * sample_rate)
    return audio[:n_stated] if 0 < n_stated < len(audio) else audio
