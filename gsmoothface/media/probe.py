"""``ffprobe`` of a media file: sizes, rates, stream ends (:class:`MediaInfo`)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from gsmoothface.errors import InputError
from gsmoothface.media.ffmpeg_io import check_file, stderr_tail


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
    check_file(path)
    try:
        info = ffmpeg.probe(str(path), hide_banner=None, v="error")
    except ffmpeg.Error as exc:
        raise InputError(f"{path}: not a readable media file: {stderr_tail(exc.stderr)}") from None
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
