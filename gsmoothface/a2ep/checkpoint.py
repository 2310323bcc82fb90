"""The trained A2EP file (``models/a2ep.pt``) and resumable training checkpoints.

``models/a2ep.pt`` is a ``torch.save`` dict::

    format          "gsmoothface-a2ep/2" (version 1: absolute positional codes in fixed mode)
    config          A2EPConfig as a dict
    encoder_config  Wav2Vec2Config keyword arguments of the audio encoder
    speakers        training speakers, in one-hot order
    audio           AudioConfig of the front end the model was trained on (as a dict)
    feature_dim     channels of the cached 50 Hz features
    fps, sample_rate
    state_dict      A2EP weights
    metrics         final validation metrics

A training checkpoint holds the same plus ``optimizer`` (Adam state), ``step`` (optimiser steps
done), ``history`` (per-step training loss) and ``fingerprint`` (config and data it belongs to).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from gsmoothface.a2ep.config import A2EPConfig
from gsmoothface.a2ep.model import A2EP
from gsmoothface.atomic import write_torch
from gsmoothface.audio.config import AudioConfig
from gsmoothface.config import load_section
from gsmoothface.errors import MissingAssetError

FORMAT = "gsmoothface-a2ep/2"
OLDER_FORMATS = {"gsmoothface-a2ep/1": "its fixed mode used absolute positional codes, now periodic"}


def fingerprint(*parts: Any) -> str:
    """A short hash of JSON-serialisable parts (config, clip list) that a checkpoint belongs to."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` atomically (a crash while saving keeps the previous file), reproducibly."""
    write_torch(path, payload)


def build_model(info: dict[str, Any]) -> A2EP:
    """An A2EP with the architecture described by a model file's or checkpoint's ``info``."""
    return A2EP(A2EPConfig(**info["config"]), info["encoder_config"], len(info["speakers"]))


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[A2EP, dict[str, Any]]:
    """Load ``models/a2ep.pt`` in eval mode; returns the model and the file's dict (minus weights).

    Raises
    ------
    MissingAssetError: no file at ``path`` (train it with ``gsmoothface train-a2ep``).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"{path}: A2EP model not found; train it with `gsmoothface train-a2ep`")
    info = torch.load(path, map_location="cpu", weights_only=False)
    found = info.get("format")
    if found in OLDER_FORMATS:
        raise MissingAssetError(
            f"{path}: A2EP model of an older format ({found}: {OLDER_FORMATS[found]}); "
            "retrain it with `gsmoothface train-a2ep`"
        )
    if found != FORMAT:
        raise MissingAssetError(f"{path}: not an A2EP model file (format {found!r}, want {FORMAT})")
    model = build_model(info)
    model.load_state_dict(info.pop("state_dict"))
    return model.to(device).eval(), info


def trained_audio_config(info: dict[str, Any], local: AudioConfig | None = None) -> AudioConfig:
    """The ``AudioConfig`` a model was trained with (stored in its file), with the wav2vec2 weights
    folder of this machine's ``audio`` section (``local``) when that names one."""
    trained = load_section(AudioConfig, "audio", {"audio": info["audio"]})
    weights = (local.wav2vec2_dir if local is not None else None) or trained.wav2vec2_dir
    return dataclasses.replace(trained, wav2vec2_dir=weights)
