"""The BFM09-style morphable face model (Deep3DFace layout), its loader and the synthetic default."""

from __future__ import annotations

from gsmoothface.face_model.bfm_io import load_model_arrays
from gsmoothface.face_model.config import FaceModelConfig
from gsmoothface.face_model.model import FaceModel
from gsmoothface.face_model.synthetic import generate_synthetic_model

__all__ = ["FaceModel", "FaceModelConfig", "load_face_model"]


def load_face_model(cfg: FaceModelConfig) -> FaceModel:
    """The configured face model on the CPU: the file at ``cfg.path``, or the synthetic model when None.

    Raises
    ------
    MissingAssetError when ``cfg.path`` does not exist (names ``face_model.path`` and
    ``gsmoothface convert-bfm``); InputError when the file is not a valid front model.
    """
    if cfg.path is None:
        arrays = generate_synthetic_model(seed=cfg.synthetic_seed, spacing=cfg.synthetic_spacing)
    else:
        arrays = load_model_arrays(cfg.path)
    return FaceModel(arrays)
