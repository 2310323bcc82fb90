"""Checks of what a visitor uploads, before any decoding: type by suffix and content, size, length."""

from __future__ import annotations

from pathlib import Path

from gsmoothface.app.config import AppConfig
from gsmoothface.errors import InputError
from gsmoothface.generate.still import IMAGE_SUFFIXES

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".webm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
SPEECH_SUFFIXES = AUDIO_SUFFIXES | VIDEO_SUFFIXES  # the speech of a video is taken too
REFERENCE_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES


def _check_file(path: Path, name: str, what: str, suffixes: frozenset[str], cfg: AppConfig) -> None:
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{name}: not a {what} file; accepted: {' '.join(sorted(suffixes))}")
    size_mb = path.stat().st_size / 2**20
    if size_mb > cfg.max_upload_mb:
        raise InputError(
            f"{name}: {size_mb:.0f} MB, larger than the {cfg.max_upload_mb} MB this page accepts"
        )


def check_speech(path: Path, name: str, cfg: AppConfig) -> None:
    """Raise :class:`InputError` unless ``path`` (shown as ``name``) is a media file with an audio
    stream no longer than ``cfg.max_speech_s``."""
    from gsmoothface.media import probe

    _check_file(path, name, "speech", SPEECH_SUFFIXES, cfg)
    info = probe(path)
    if not info.has_audio:
        raise InputError(f"{name}: no audio stream")
    if info.duration_s > cfg.max_speech_s:
        raise InputError(
            f"{name}: {info.duration_s / 60:.1f} min of speech; this page takes at most "
            f"{cfg.max_speech_s / 60:.0f} min (use `gsmoothface generate` for longer recordings)"
        )


def check_reference(path: Path, name: str, cfg: AppConfig) -> None:
    """Raise :class:`InputError` unless ``path`` is a still photo, or a video no longer than
    ``cfg.max_reference_s``."""
    from gsmoothface.media import probe

    _check_file(path, name, "video or photo", REFERENCE_SUFFIXES, cfg)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return  # decoded (and checked) by the still-photo path
    info = probe(path)
    if not info.has_video:
        raise InputError(f"{name}: no video stream")
    if info.duration_s > cfg.max_reference_s:
        raise InputError(
            f"{name}: a {info.duration_s:.0f} s video; this page takes references up to "
            f"{cfg.max_reference_s:.0f} s"
        )
