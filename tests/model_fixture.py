"""Tiny untrained A2EP and TAFT model files, in the formats ``train-a2ep`` and ``train-taft`` write.

The A2EP's zero-initialised output layer predicts the neutral face; the TAFT generator is random.
Both load through the same code as trained models (``generate``, ``evaluate``).
"""

from __future__ import annotations

from pathlib import Path

import torch


def write_tiny_models(root: Path, size: int, speakers: tuple[str, ...] = ("spkA",)) -> tuple[Path, Path]:
    """Write ``root/a2ep.pt`` (trained on ``speakers``) and ``root/taft.pt`` (at ``size`` px)."""
    from gsmoothface.a2ep import checkpoint as a2ep_ckpt
    from gsmoothface.a2ep.config import A2EPConfig
    from gsmoothface.a2ep.model import tiny_encoder_config
    from gsmoothface.audio import AudioConfig
    from gsmoothface.config import config_to_dict
    from gsmoothface.taft.checkpoint import FORMAT, build_generator
    from gsmoothface.taft.config import TaftConfig

    cfg = A2EPConfig(
        d_model=16, ffn_dim=32, encoder_hidden=16, encoder_ffn=32, predict_window=8, predict_overlap=2
    )
    info = {
        "format": a2ep_ckpt.FORMAT,
        "config": config_to_dict(cfg),
        "encoder_config": tiny_encoder_config(80, cfg),
        "speakers": list(speakers),
        "audio": config_to_dict(AudioConfig(frontend="logmel")),  # the 80 log-mel features below
        "feature_dim": 80,
        "fps": 25,
        "sample_rate": 16000,
    }
    torch.manual_seed(0)
    model = a2ep_ckpt.build_model(info)
    a2ep_ckpt.save(root / "a2ep.pt", {**info, "state_dict": model.state_dict()})
    taft_cfg = TaftConfig(base_channels=8, max_channels=16, layers=2)
    generator = build_generator(taft_cfg)
    state = {
        "format": FORMAT,
        "config": config_to_dict(taft_cfg),
        "size": size,
        "step": 0,
        "epoch": 0,
        "generator_ema": generator.state_dict(),
    }
    torch.save(state, root / "taft.pt")
    return root / "a2ep.pt", root / "taft.pt"
