"""Helpers shared by the stage commands: the one error path and the one prologue."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    import torch

    from gsmoothface.config import BaseConfig

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


@dataclasses.dataclass(frozen=True)
class Stage:
    """What every stage starts from: the read params and its sections as typed configs."""

    params: dict[str, Any]  # the whole params file, for what a stage passes on unread
    configs: dict[str, Any]  # section -> frozen config, ``base`` first

    @property
    def base(self) -> BaseConfig:
        """The ``base`` section."""
        return self.configs["base"]

    def __getitem__(self, section: str) -> Any:
        return self.configs[section]

    def device(self) -> torch.device:
        """The torch device ``base.device`` selects (a clear error for ``cuda`` without a GPU)."""
        from gsmoothface.device import resolve_device

        return resolve_device(self.base.device)


def open_stage(
    params: Path, sections: tuple[str, ...], threads: int | None = None, pin_kernels: bool = True
) -> Stage:
    """Read ``params``, load ``base`` and ``sections`` into their typed configs (every section is
    validated before any work starts), pin the CPU kernels to ``base.cpu_kernels`` (pipeline stages:
    the same bytes on any CPU; interactive commands pass ``pin_kernels=False`` and run this CPU's
    fastest) and, when ``threads`` is given, run torch on that many CPU threads, at most the
    machine's cores."""
    from gsmoothface.config import read_params
    from gsmoothface.sections import load_sections

    raw = read_params(params)
    configs = load_sections(raw, ("base", *(s for s in sections if s != "base")))
    if pin_kernels:
        from gsmoothface.cpu_kernels import pin_cpu_kernels

        pin_cpu_kernels(configs["base"].cpu_kernels)
    if threads is not None:
        use_threads(threads)
    return Stage(raw, configs)


def use_threads(threads: int) -> None:
    """The one rule for CPU threads: torch runs on ``threads`` of them, at most the machine's cores."""
    import torch

    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
