"""A clip of the embedded demo for the generation tests: one synthetic utterance cut by ``slice``."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_demo_clip(root: Path, side: int) -> Path:
    """Write ``root/raw`` (the synthetic video), ``root/clips/<clip>`` and its fit ``root/3dmm/<clip>.npz``.

    The fit is the synthetic ground truth. The head is held still so that only the mouth moves.
    Returns the clip folder.
    """
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
    )
    build_corpus(root / "raw", None, synth, BaseConfig(), FaceModelConfig())
    report = slice_folder(
        SliceConfig(input_dir=root / "raw", output_dir=root / "clips", size=side, min_seconds=0.5),
        log=lambda line: None,
    )
    assert len(report.clips) == 1, report.failures
    clip = next((root / "clips").iterdir())
    (root / "3dmm").mkdir()
    with np.load(clip / "truth.npz") as truth:
        np.savez(root / "3dmm" / f"{clip.name}.npz", coeff=truth["coeff"], trans_params=truth["trans_params"])
    return clip
