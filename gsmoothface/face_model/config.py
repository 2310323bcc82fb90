"""Config of the face model (``face_model`` section of ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class FaceModelConfig:
    """Which morphable model the pipeline uses.

    ``path`` is a BFM09 front model (``BFM_model_front.mat`` as Deep3DFace writes it, or ``.npz``
    with the same keys, e.g. from ``gsmoothface convert-bfm``); ``None`` selects the synthetic
    model, generated in memory from ``synthetic_seed`` and ``synthetic_spacing``.
    """

    path: Path | None = None
    synthetic_seed: int = 0  # seed of the synthetic model's random identity/texture/extra bases
    synthetic_spacing: float = 0.025  # decimetres between neighbouring synthetic mesh vertices
