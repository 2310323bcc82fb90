"""Progress reporting: a rich bar on a terminal, a plain line every N items otherwise (CI, DVC logs)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(
    items: Iterable[T],
    description: str,
    total: int | None = None,
    every: int = 50,
) -> Iterator[T]:
    """Iterate over ``items`` while reporting progress.

    On an interactive terminal a rich progress bar is shown. Otherwise (stdout piped, as under
    ``dvc repro`` or CI) a line ``description: i/total (rate/s)`` is printed every ``every`` items
    and at the end, because rich only prints the final bar when not interactive.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if sys.stdout.isatty():
        from rich.progress import track

        yield from track(items, description=description, total=total)
        return
    start = time.perf_counter()
    count = 0
    for count, item in enumerate(items, start=1):
        yield item
        if count % max(every, 1) == 0:
            _print_line(description, count, total, start)
    if count % max(every, 1) != 0:
        _print_line(description, count, total, start)


def _print_line(description: str, count: int, total: int | None, start: float) -> None:
    elapsed = max(time.perf_counter() - start, 1e-9)
    of_total = f"/{total}" if total is not None else ""
    rate = count / elapsed
    eta = f", ETA {_clock((total - count) / rate)}" if total is not None and count < total else ""
    print(f"{description}: {count}{of_total} ({rate:.1f}/s{eta})", flush=True)


def _clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a duration."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
