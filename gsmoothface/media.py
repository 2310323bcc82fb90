"""Media I/O through ffmpeg (ffmpeg-python builds the command lines): probe, decode, encode, mux.

Every ffmpeg failure becomes an :class:`~gsmoothface.errors.InputError` naming the file and quoting
the tail of ffmpeg's stderr (the approach of whisper's ``load_audio``), so a user sees what failed
and on which file. Every write is atomic: ffmpeg writes a temporary sibling that is renamed onto the
target only when ffmpeg succeeded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import ffmpeg
import numpy as np

from gsmoothface.atomic import atomic_path
from gsmoothface.errors import InputError

_GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error")
_TAIL_LINES = 3  # stderr lines quoted in an error message


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    """What ``ffprobe`` says about a media file.

    ``width``/``height`` are the displayed size (after rotation metadata). ``n_frames`` is the
    container's frame count when it states one, else ``round(video_duration_s * fps)``. ``fps`` is the
    average frame rate (variable-rate videos have ``fps != nominal_fps``). Stream ends are measured
    from time 0 of the container: ``video_end_s``/``audio_end_s`` = stream start + stream duration.
    """

    path: Path
    duration_s: float
    width: int
    height: int
    fps: float
    nominal_fps: float
    n_frames: int
    has_video: bool
    has_audio: bool
    audio_rate: int
    audio_channels: int
    video_end_s: float
    audio_end_s: float

    @property
    def av_duration_s(self) -> float:
        """Duration covered by both the video and the audio stream (seconds)."""
        return min(self.video_end_s, self.audio_end_s)


def _tail(stderr: bytes | str | None) -> str:
    """The last non-empty lines of ffmpeg's stderr, joined on one line."""
    if stderr is None:
        return "(no ffmpeg output)"
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-_TAIL_LINES:]) or "(no ffmpeg output)"


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")


def _rate(text: str | None) -> float:
    """ffprobe's ``num/den`` rate as a float (0.0 when unknown)."""
    if not text or text in ("0/0", "N/A"):
        return 0.0
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return 0.0


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _rotation(stream: dict[str, Any]) -> int:
    """Rotation in degrees from stream tags or display-matrix side data."""
    rotate = stream.get("tags", {}).get("rotate")
    if rotate is None:
        for side in stream.get("side_data_list", []):
            if "rotation" in side:
                rotate = side["rotation"]
    return int(_float(rotate)) % 360


def probe(path: str | Path) -> MediaInfo:
    """Probe a media file with ffprobe.

    Raises
    ------
    InputError: the file is missing, empty, or ffprobe cannot read it (message names the file and
        quotes ffprobe's stderr).
    """
    path = Path(path)
    _check_exists(path)
    try:
        info = ffmpeg.probe(str(path), hide_banner=None, v="error")
    except ffmpeg.Error as exc:
        raise InputError(f"{path}: not a readable media file: {_tail(exc.stderr)}") from None
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(info.get("format", {}).get("duration"))
    width = height = n_frames = 0
    fps = nominal = video_end = 0.0
    if video is not None:
        width, height = int(video.get("width", 0)), int(video.get("height", 0))
        if _rotation(video) in (90, 270):
            width, height = height, width
        nominal = _rate(video.get("r_frame_rate"))
        fps = _rate(video.get("avg_frame_rate")) or nominal
        v_dur = _float(video.get("duration"), duration)
        video_end = _float(video.get("start_time")) + v_dur
        n_frames = int(_float(video.get("nb_frames"))) or round(v_dur * fps)
    audio_end = 0.0
    if audio is not None:
        audio_end = _float(audio.get("start_time")) + _float(audio.get("duration"), duration)
    return MediaInfo(
        path=path,
        duration_s=duration or max(video_end, audio_end),
        width=width,
        height=height,
        fps=fps,
        nominal_fps=nominal,
        n_frames=n_frames,
        has_video=video is not None,
        has_audio=audio is not None,
        audio_rate=int(_float(audio.get("sample_rate"))) if audio else 0,
        audio_channels=int(audio.get("channels", 0)) if audio else 0,
        video_end_s=video_end,
        audio_end_s=audio_end,
    )


def _is_cover(stream: dict[str, Any]) -> bool:
    """Attached pictures (album art) are 'video' streams that are not video."""
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _input(path: Path, start_s: float | None, duration_s: float | None) -> Any:
    kwargs: dict[str, Any] = {}
    if start_s:
        kwargs["ss"] = f"{start_s:.6f}"
    if duration_s is not None:
        kwargs["t"] = f"{duration_s:.6f}"
    return ffmpeg.input(str(path), **kwargs)


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
    stream = _input(path, start_s, duration_s).video
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
    args = stream.output("pipe:", **out_kwargs).global_args(*_GLOBAL_ARGS).compile()
    frame_bytes = out_w * out_h * 3
    with _stderr_file() as err, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err) as proc:
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
            raise InputError(f"{path}: ffmpeg could not decode the video: {_read_tail(err)}")
        if total == 0:
            raise InputError(f"{path}: no video frames decoded {_span(start_s, duration_s)}".rstrip())


def read_frames(path: str | Path, **kwargs: Any) -> np.ndarray:
    """All frames of :func:`iter_frames` as one ``(T, H, W, 3)`` uint8 array."""
    return np.concatenate(list(iter_frames(path, **kwargs)), axis=0)


def _span(start_s: float | None, duration_s: float | None) -> str:
    if start_s is None and duration_s is None:
        return ""
    return f"(span start {start_s or 0.0:.3f} s, duration {duration_s})"


@contextlib.contextmanager
def _stderr_file() -> Iterator[IO[bytes]]:
    """A temporary file for ffmpeg's stderr (a pipe could fill up and block ffmpeg)."""
    with tempfile.TemporaryFile() as fh:
        yield fh


def _read_tail(fh: IO[bytes]) -> str:
    fh.seek(0)
    return _tail(fh.read()[-4000:])


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
    _check_exists(path)
    args = (
        _input(path, start_s, duration_s)
        .audio.filter("aresample", first_pts=0)  # silence before a late-starting stream keeps A/V sync
        .output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=sample_rate)
        .global_args(*_GLOBAL_ARGS)
        .compile()
    )
    proc = subprocess.run(args, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = _tail(proc.stderr)
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
    pixel. The file appears at ``path`` only when the context exits without error.

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
    ) -> None:
        self.path = Path(path)
        self.width, self.height, self.fps, self.crf = int(width), int(height), fps, crf
        self.audio_path = Path(audio_path) if audio_path is not None else None
        self.n_frames = 0
        self._atomic: contextlib.AbstractContextManager[Path] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._err: IO[bytes] | None = None

    def __enter__(self) -> VideoWriter:
        if self.audio_path is not None:
            _check_exists(self.audio_path)
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
                preset="medium",
                movflags="+faststart",
                r=self.fps,
                **audio_kwargs,
            )
            .global_args(*_GLOBAL_ARGS, "-y")
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
            self._proc.stdin.write(np.ascontiguousarray(frames).tobytes())
        except BrokenPipeError:
            self._proc.wait()
            raise InputError(f"{self.path}: ffmpeg stopped encoding: {self._tail()}") from None
        self.n_frames += len(frames)

    def _tail(self) -> str:
        assert self._err is not None
        return _read_tail(self._err)

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
    _check_exists(video_path)
    _check_exists(audio_path)
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
            .global_args(*_GLOBAL_ARGS, "-y")
            .compile()
        )
        proc = subprocess.run(args, capture_output=True, check=False)
        if proc.returncode != 0:
            raise InputError(
                f"{out_path}: ffmpeg could not mux {video_path} + {audio_path}: {_tail(proc.stderr)}"
            )
