"""The trained TAFT file (``models/taft.pt``) and resumable training checkpoints.

Both are ``torch.save`` dicts::

    format          "gsmoothface-taft-1"
    config          TaftConfig as a dict
    size            the MAFB/TAFT resolution it was trained at, px
    step, epoch     optimiser steps and epochs done
    generator_ema   EMA generator weights (what inference uses)

plus, for training and resuming, ``generator``, ``ema_updates``, ``discriminator``, ``opt_G``,
``sched_G``, ``opt_D``, ``sched_D`` and, in the rolling checkpoint only, ``fingerprint`` (the config
and data it belongs to). Inference imports this module, never the training loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gsmoothface.atomic import write_torch
from gsmoothface.errors import MissingAssetError
from gsmoothface.model_file import check_model_file
from gsmoothface.taft.config import TaftConfig
from gsmoothface.taft.model import TaftGenerator

FORMAT = "gsmoothface-taft-1"
RETRAIN = "train it with `gsmoothface train-taft` (or `dvc repro train_taft`)"


def build_generator(cfg: TaftConfig) -> TaftGenerator:
    """The generator of ``cfg`` (randomly initialised)."""
    return TaftGenerator(cfg.base_channels, cfg.max_channels, cfg.layers, cfg.residual)


def save(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` atomically (a kill while saving keeps the previous file), reproducibly."""
    write_torch(path, state)


def read(path: Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """A TAFT file's dict, checked to be one.

    Raises
    ------
    MissingAssetError: no file, a corrupt or truncated one, or a file of another kind or format.
    """
    path = check_model_file(Path(path), "TAFT model", RETRAIN)
    state = torch.load(path, map_location=device, weights_only=False)
    found = state.get("format") if isinstance(state, dict) else None
    if found != FORMAT:
        raise MissingAssetError(f"{path}: not a TAFT model file (format {found!r}); {RETRAIN}")
    return state


def load_generator(path: Path, device: str | torch.device = "cpu") -> tuple[TaftGenerator, dict[str, Any]]:
    """The EMA generator of a TAFT file, in eval mode, and the file's metadata (size, step, epoch, config).

    Raises
    ------
    MissingAssetError: as :func:`read`.
    """
    state = read(path, device)
    cfg = TaftConfig(**{k: v for k, v in state["config"].items() if k != "vgg19_weights"})
    generator = build_generator(cfg).to(device)
    generator.load_state_dict(state["generator_ema"])
    meta = {k: state[k] for k in ("size", "step", "epoch", "config")}
    return generator.eval().requires_grad_(False), meta
