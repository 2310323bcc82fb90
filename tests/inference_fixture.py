"""Tiny inference assets made by the tests: untrained A2EP and TAFT model files, and a demo clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def write_tiny_models(root: Path, size: int, speakers: tuple[str, ...] = ("spkA",)) -> tuple[Path, Path]:
    """Write ``root/a2ep.pt`` and ``root/taft.pt`` in the formats ``train-a2ep`` and ``train-taft``
    write: an untrained A2EP trained on ``speakers`` (its zero-initialised output layer predicts the
    neutral face) on log-mel features, and an untrained TAFT at ``size`` px. Both load through the
    same code as trained models (``generate``, ``evaluate``, the app)."""
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


def write_demo_clip(root: Path, side: int) -> Path:
    """A clip of the embedded demo under ``root/clips``: one synthetic utterance (``synth``), cut by
    ``slice``, with its ground-truth coefficients as its fit in ``root/3dmm``. The head is held still
    so that only the mouth moves. Returns the clip folder."""
    from gsmoothface.config import BaseConfig
    from gsmoothface.face_model import FaceModelConfig
    from gsmoothface.slicing import SliceConfig, slice_folder
    from gsmoothface.synth.config import SynthConfig
    from gsmoothface.synth.corpus import build_corpus

    synth = SynthConfig(
        n_speakers=1,
        utterances_per_speaker=1,
        test_speakers=0,
        val_utterances=0,
        words_per_utterance=(2, 3),
        size=side,
        face_size_px=70.0 * side / 128,
        head_yaw_rad=(0.0, 0.0),
        head_pitch_rad=0.0,
        head_roll_rad=0.0,
        blink_rate_hz=1e-3,  # (0 divides by zero in synth.motion.blinks)
        gaze_rate_hz=1e-3,
        light_change=0.0,
        speech_utterances=1,
    )
    build_corpus(root / "raw", None, synth, BaseConfig(), FaceModelConfig())
    report = slice_folder(
        SliceConfig(input_dir=root / "raw", output_dir=root / "clips", size=side, min_seconds=0.5),
        log=lambda line: None,
    )
    assert len(report.clips) == 1, report.failures
    clip = next((root / "clips").iterdir())
    (root / "3dmm").mkdir(exist_ok=True)
    with np.load(clip / "truth.npz") as truth:
        np.savez(root / "3dmm" / f"{clip.name}.npz", coeff=truth["coeff"], trans_params=truth["trans_params"])
    return clip


def write_inference_setup(root: Path, size: int = 64, clip_side: int = 128) -> Path:
    """Tiny models, a demo clip and a ``params.yaml`` whose ``generate`` section finds them, under
    ``root``; returns the params file."""
    import yaml

    write_tiny_models(root, size)
    write_demo_clip(root, clip_side)
    params = {
        "base": {"device": "cpu"},
        "audio": {},
        "face_model": {},
        "render": {"backend": "cpu"},
        "blend": {"size": size},
        "slice": {"min_seconds": 0.5},
        "fit_3dmm": {"landmark_steps": 40, "photo_steps": 0},
        "adapt": {"out_dir": str(root / "people")},
        "generate": {
            "a2ep_model": str(root / "a2ep.pt"),
            "taft_model": str(root / "taft.pt"),
            "clips_dir": str(root / "clips"),
            "fit_dir": str(root / "3dmm"),
            "cache_dir": str(root / "cache"),
            "chunk": 16,
        },
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root / "params.yaml"
