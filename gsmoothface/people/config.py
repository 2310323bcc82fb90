"""Configuration of person adaptation (``gsmoothface adapt``), params section ``adapt``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gsmoothface.config import check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """Fine-tuning TAFT on one person's own video (``adapt`` section).

    The generator's architecture is the base model's; these keys set the fine-tuning run.
    """

    base_model: Path = Path("models/taft.pt")  # the TAFT model adaptation starts from
    out_dir: Path = Path("models/people")  # person models: <out_dir>/<name>/
    work_dir: Path = Path("data/cache/adapt")  # sliced, fitted and blended frames, resume checkpoints
    minutes: float = ranged(10.0, low=0.1)  # wall-clock budget of the whole command, minutes
    steps: int = ranged(0, low=0)  # optimiser steps; 0 = as many as the budget allows (measured once)
    epochs: int = ranged(6, low=1)  # held-out evaluations over the run; the best epoch is kept
    holdout: float = ranged(0.15, low=0.0, high=0.5)  # tail of each clip held out for scoring
    batch_size: int = ranged(4, low=1)  # frames per optimiser step
    patch: int = ranged(128, low=0)  # side of the face-centred training crops, px; 0 = whole frames
    lr: float = ranged(0.0005, low=0.0)  # Adam learning rate
    ema_decay: float = ranged(0.95, low=0.0, high=1.0, high_open=True)  # EMA decay of the kept generator
    eval_frames: int = ranged(16, low=1)  # held-out frames scored per epoch
    max_identity_distance: float = ranged(0.6, low=0.0)  # dlib face-descriptor distance: same person
    seed: int = 0  # added to base.seed

    def __post_init__(self) -> None:
        check_ranges(self, "adapt")
