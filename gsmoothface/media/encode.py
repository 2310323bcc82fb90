"""Encoding through ffmpeg, atomically: H.264 MP4 with optional AAC audio, WAV, muxing."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import ffmpeg
import numpy as np

from gsmoothface.atomic import atomic_path
from gsmoothface.errors import InputError
from gsmoothface.media.ffmpeg_io import GLOBAL_ARGS, check_file, read_tail, stderr_tail

# libx264's bitstream depends on its thread count, which by default is 1.5x the CPU cores: pinned, the
# same frames give the same bytes on every machine. 3 is the default of the 2-core machines that made
# the committed dvc.lock, so their outputs keep their hashes.
X264_THREADS = 3


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = 16000) -> None:
    """Write mono audio ``(S,)`` float in [-1, 1] as 16-bit PCM WAV, atomically."""
    import soundfile as sf

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise InputError(f"{path}: write_wav expects mono audio (S,), got shape {audio.shape}")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


class VideoWriter:
    """Encode RGB frames to an H.264 (yuv420p, ``+faststart``) MP4, optionally muxing AAC audio.

    Browsers need even dimensions for yuv420p, so an odd width or height is padded by one black
    pixel. The file appears at ``path`` only when the context exits without error. ``crf`` and
    ``preset`` are x264's quality and speed settings.

    Example
    -------
    >>> with VideoWriter("out.mp4", 512, 512, fps=25, audio_path="a.wav") as writer:
    ...     writer.write(frames)  # (n, 512, 512, 3) uint8, any number of calls
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float = 25,
        crf: int = 18,
        audio_path: str | Path | None = None,
        preset: str = "medium",
    ) -> None:
        self.path = Path(path)
        self.width, self.height, self.fps, self.crf = int(width), int(height), fps, crf
        self.preset = preset
        self.audio_path = Path(audio_path) if audio_path is not None else None
        self.n_frames = 0
        self._atomic: contextlib.AbstractContextManager[Path] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._err: IO[bytes] | None = None

    def __enter__(self) -> VideoWriter:
        if self.audio_path is not None:
            check_file(self.audio_path)
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        video = ffmpeg.input(
            "pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{self.width}x{self.height}", r=self.fps
        ).video
        if self.width % 2 or self.height % 2:
            video = video.filter("pad", w="ceil(iw/2)*2", h="ceil(ih/2)*2")
        streams = [video]
        audio_kwargs: dict[str, Any] = {}
        if self.audio_path is not None:
            streams.append(ffmpeg.input(str(self.audio_path)).audio)
            audio_kwargs = {"acodec": "aac", "audio_bitrate": "128k"}
        args = (
            ffmpeg.output(
                *streams,
                str(tmp),
                vcodec="libx264",
                pix_fmt="yuv420p",
                crf=self.crf,
                preset=self.preset,
                threads=X264_THREADS,
                movflags="+faststart",
                r=self.fps,
                **audio_kwargs,
            )
            .global_args(*GLOBAL_ARGS, "-y")
            .compile()
        )
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=self._err)
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append frames: ``(n, H, W, 3)`` or one ``(H, W, 3)`` uint8 RGB image."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("VideoWriter.write called outside its `with` block")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.shape[1:] != (self.height, self.width, 3) or frames.dtype != np.uint8:
            raise InputError(
                f"{self.path}: frames must be uint8 (n, {self.height}, {self.width}, 3), "
                f"got {frames.dtype} {frames.shape}"
            )
        try:
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frames)).cast("B"))  # no copy
        except BrokenPipeError:
            self._proc.wait()
            raise InputError(f"{self.path}: ffmpeg stopped encoding: {self._tail()}") from None
        self.n_frames += len(frames)

    def _tail(self) -> str:
        assert self._err is not None
        return read_tail(self._err)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._proc is not None and self._proc.stdin is not None and self._atomic is not None
        try:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
            if exc_type is not None:
                self._proc.kill()
            code = self._proc.wait()
            if exc_type is None and code != 0:
                raise InputError(f"{self.path}: ffmpeg could not encode the video: {self._tail()}")
            if exc_type is None and self.n_frames == 0:
                raise InputError(f"{self.path}: no frames were written")
        except BaseException as error:
            self._atomic.__exit__(type(error), error, error.__traceback__)
            raise
        else:
            self._atomic.__exit__(exc_type, exc, tb)
        finally:
            if self._err is not None:
                self._err.close()


def mux_audio(video_path: str | Path, audio_path: str | Path, out_path: str | Path) -> None:
    """Copy the video stream of ``video_path`` and add ``audio_path`` as AAC, into ``out_path``.

    The output ends with the shorter stream. ``out_path`` may equal ``video_path`` (atomic replace).
    """
    video_path, audio_path, out_path = Path(video_path), Path(audio_path), Path(out_path)
    check_file(video_path)
    check_file(audio_path)
    with atomic_path(out_path) as tmp:
        args = (
            ffmpeg.output(
                ffmpeg.input(str(video_path)).video,
                ffmpeg.input(str(audio_path)).audio,
                str(tmp),
                vcodec="copy",
                acodec="aac",
                audio_bitrate="128k",
                movflags="+faststart",
                shortest=None,
            )
            .global_args(*GLOBAL_ARGS, "-y")
            .compile()
        )
        proc = subprocess.run(args, capture_output=True, check=False)
        if proc.returncode != 0:
            raise InputError(
                f"{out_path}: ffmpeg could not mux {video_path} + {audio_path}: {stderr_tail(proc.stderr)}"
            )
