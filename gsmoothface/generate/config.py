"""Configuration of ``gsmoothface generate`` (``generate`` section of ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from gsmoothface.config import check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """Models, reference handling and encoding of ``gsmoothface generate``."""

    speaker: str | None = (
        None  # A2EP style: a training speaker or mean; None: the reference's speaker if trained
    )
    a2ep_model: Path = Path("models/a2ep.pt")  # trained A2EP
    taft_model: Path = Path("models/taft.pt")  # trained TAFT
    clips_dir: Path = Path("data/clips")  # where a reference given by clip name is looked up
    fit_dir: Path = Path("data/3dmm")  # each clip's 3DMM fit
    cache_dir: Path = Path("data/cache")  # decoded references and raw-video slices/fits, by content hash
    loop: Literal["pingpong", "loop"] = "pingpong"  # how a reference shorter than the audio repeats
    precision: Literal["auto", "float32", "bfloat16"] = (
        "auto"  # TAFT at inference: auto = bfloat16 where native
    )
    chunk: int = ranged(32, low=1)  # frames rendered, translated and encoded at once (bounds memory)
    crf: int = ranged(18, low=0, high=51)  # H.264 constant rate factor of the output
    preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
    ] = "veryfast"  # x264 speed preset: veryfast encodes 1080x1920 2x faster than medium, as small

    def __post_init__(self) -> None:
        check_ranges(self, "generate")
