"""Shared ffmpeg plumbing: command-line flags, input checks, and the stderr quoted in errors."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ffmpeg

from gsmoothface.errors import InputError

GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error")
TAIL_LINES = 3  # stderr lines quoted in an error message


def stderr_tail(stderr: bytes | str | None) -> str:
    """The last non-empty lines of ffmpeg's stderr, joined on one line."""
    if stderr is None:
        return "(no ffmpeg output)"
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-TAIL_LINES:]) or "(no ffmpeg output)"


def check_file(path: Path) -> None:
    """Raise :class:`InputError` when ``path`` is missing or empty (before ffmpeg says it less clearly)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")


def ffmpeg_input(path: Path, start_s: float | None, duration_s: float | None) -> Any:
    """An ffmpeg-python input of ``path``, seeking to ``start_s`` and reading ``duration_s`` seconds."""
    kwargs: dict[str, Any] = {}
    if start_s:
        kwargs["ss"] = f"{start_s:.6f}"
    if duration_s is not None:
        kwargs["t"] = f"{duration_s:.6f}"
    return ffmpeg.input(str(path), **kwargs)


@contextlib.contextmanager
def stderr_file() -> Iterator[IO[bytes]]:
    """A temporary file for ffmpeg's stderr (a pipe could fill up and block ffmpeg)."""
    with tempfile.TemporaryFile() as fh:
        yield fh


def read_tail(fh: IO[bytes]) -> str:
    """:func:`stderr_tail` of an ffmpeg stderr file written by :func:`stderr_file`."""
    fh.seek(0)
    return stderr_tail(fh.read()[-4000:])
