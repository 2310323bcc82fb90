"""Helpers shared by the stage commands."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import typer
from rich.console import Console

err = Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def stage_errors() -> Iterator[None]:
    """Report expected failures as one line on stderr and exit 1; let genuine bugs raise.

    Also switches the Hugging Face libraries to offline mode: a hub id then fails at once with a
    clear error instead of retrying a network that is not there.
    """
    from gsmoothface.config import ConfigError
    from gsmoothface.errors import GsmoothfaceError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        yield
    except (GsmoothfaceError, ConfigError) as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True)
        raise typer.Exit(code=1) from exc
