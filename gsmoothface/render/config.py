"""Config of the renderer (``render`` section of ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class RenderConfig:
    """Which rasterizer backend renders meshes.

    ``auto`` uses nvdiffrast when the tensors are on a CUDA device and nvdiffrast is installed, the
    CPU backend otherwise; ``cpu`` and ``cuda`` force one.
    """

    backend: Literal["auto", "cpu", "cuda"] = "auto"
