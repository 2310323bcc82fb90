"""Configuration of the ``evaluate`` stage (``evaluate`` section of ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from gsmoothface.config import check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """Which clips are evaluated, how landmarks are found, and what is written besides metrics."""

    splits: tuple[str, ...] = ("val", "test")  # clips whose meta.json split is one of these
    clips_dir: Path = Path("data/clips")  # `slice` output
    fit_dir: Path = Path("data/3dmm")  # `fit_3dmm` output: the pseudo ground-truth coefficients
    a2ep_model: Path = Path("models/a2ep.pt")  # trained A2EP
    taft_model: Path = Path("models/taft.pt")  # trained TAFT
    max_frames: int = ranged(0, low=0)  # evaluate at most this many frames per clip (0: all)
    landmark_source: Literal["sidecar", "fan", "dlib"] = "sidecar"  # for LMD, see evaluate.py
    fan_weights: Path | None = None  # FAN checkpoint for landmark_source fan
    lmd_center: bool = False  # mean-centre each mouth before the distance (ER-NeRF style)
    ssim_gaussian: bool = False  # SSIM with the 11x11 Gaussian window instead of 7x7 uniform
    n_videos: int = ranged(3, low=0)  # side-by-side mp4s (truth | blended | generated) for the first clips
    syncnet_weights: Path | None = None  # local syncnet_v2.model; None: LSE-C/LSE-D not computed
    syncnet_vshift: int = ranged(15, low=1)  # SyncNet offset search range, frames
    chunk: int = ranged(32, low=1)  # frames driven at once
    precision: Literal["auto", "float32", "bfloat16"] = (
        "auto"  # TAFT at inference: auto = bfloat16 where native
    )

    def __post_init__(self) -> None:
        check_ranges(self, "evaluate")
