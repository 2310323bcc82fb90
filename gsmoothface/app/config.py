"""Limits and files of ``gsmoothface app`` (command options; not a ``params.yaml`` section)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gsmoothface.config import ConfigError


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """What the page accepts and which figures it shows next to the models."""

    max_upload_mb: int = 200  # larger uploads are refused by the server before they are stored
    max_speech_s: float = 600.0  # longest speech accepted (a CPU renders ~1-10 frames/s)
    max_reference_s: float = 120.0  # longest reference video accepted (only its first clip is used)
    max_queue: int = 16  # visitors waiting beyond this are turned away
    a2ep_metrics: Path = Path("results/a2ep/metrics.json")  # DVCLive figures of train_a2ep
    taft_metrics: Path = Path("results/taft/metrics.json")  # DVCLive figures of train_taft

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_speech_s", "max_reference_s", "max_queue"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"app: {name} must be positive, got {getattr(self, name)}")
