"""Configuration of ``gsmoothface generate`` (``generate`` section of ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from gsmoothface.config import ConfigError


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
    chunk: int = 32  # frames rendered, translated and encoded at once (bounds memory)
    crf: int = 18  # H.264 constant rate factor of the output

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise ConfigError(f"generate.chunk must be positive, got {self.chunk}")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"generate.crf must be in [0, 51], got {self.crf}")
