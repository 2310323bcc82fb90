"""A2EP under ``torchrun --nproc_per_node 2`` (gloo on CPU) matches one process with the same global batch."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from tests.launch import needs_torchrun, run_stage, torchrun
from tests.test_a2ep_train import write_clip

# Dropout, SpecAugment and scheduled sampling draw from per-rank generators, so they are off here:
# the comparison is then exact up to the order of floating-point sums.
PARAMS = """\
base: {seed: 5, progress_every: 1000}
face_model: {}
audio: {frontend: logmel, n_mels: 40}
a2ep: {d_model: 32, ffn_dim: 64, encoder_hidden: 32, encoder_ffn: 64, encoder_layers: 1, window: 40,
       batch_size: 4, epochs: 6, lr: 0.003, dropout: 0.0, mask_time_prob: 0.0, scheduled_sampling: 0.0,
       val_every: 6, checkpoint_every: 1000, predict_window: 40, predict_overlap: 8}
"""


def _train(root: Path, run: str, launcher: list[str] | None) -> tuple[np.ndarray, dict[str, float]]:
    """Train with ``launcher`` (None: plain python; or torchrun); (per-step loss, final metrics)."""
    args = [
        *("train-a2ep", "--clips", str(root / "clips"), "--features", str(root / "audio")),
        *("--targets", "truth", "--model", str(root / run / "a2ep.pt")),
        *("--checkpoint", str(root / run / "a2ep.ckpt"), "--live", str(root / run / "live")),
        *("--params", str(root / "params.yaml")),
    ]
    run_stage(args, launcher)
    with (root / run / "live" / "plots" / "metrics" / "train" / "loss.tsv").open() as fh:
        losses = np.array([float(row["loss"]) for row in csv.DictReader(fh, delimiter="\t")])
    metrics = torch.load(root / run / "a2ep.pt", map_location="cpu", weights_only=False)["metrics"]
    return losses, metrics


@needs_torchrun
def test_two_processes_give_the_single_process_losses(tmp_path):
    from stages.cli import app

    rng = np.random.default_rng(1)
    for s in range(2):
        write_clip(tmp_path / "clips" / f"spk{s}_0", rng, 160, s, "train")
        write_clip(tmp_path / "clips" / f"spk{s}_1", rng, 60, s, "val")
    (tmp_path / "params.yaml").write_text(PARAMS)
    args = ["audio-features", "--clips", str(tmp_path / "clips"), "--out", str(tmp_path / "audio")]
    result = CliRunner().invoke(app, [*args, "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 0, result.output

    single, single_metrics = _train(tmp_path, "one", None)
    double, double_metrics = _train(tmp_path, "two", torchrun(2))

    assert len(single) == len(double) >= 12
    assert single[-1] < 0.7 * single[0]  # it trained
    np.testing.assert_allclose(double, single, rtol=1e-3, atol=1e-7)
    for key in ("val/lve", "final_train_loss"):
        assert double_metrics[key] == pytest.approx(single_metrics[key], rel=1e-3), key


TAFT_PARAMS = {
    "base": {"seed": 3, "progress_every": 1000},
    "taft": {
        "base_channels": 8,
        "max_channels": 16,
        "batch_size": 4,
        "patch": 16,
        "lr": 2e-3,
        "epochs": 3,
        "steps_per_epoch": 4,
        "eval_frames": 8,
        "grid_frames": 2,
        "log_every": 1,
        "threads": 1,
        "gan_weight": 0.5,
        "disc_channels": 8,
        "disc_layers": 2,
    },
}


def _train_taft(root: Path, run: str, launcher: list[str] | None) -> tuple[np.ndarray, dict]:
    """Train TAFT with ``launcher``; (per-step loss, final held-out metrics)."""
    args = [
        *("train-taft", "--blended", str(root / "blended"), "--model", str(root / run / "taft.pt")),
        *("--checkpoint", str(root / run / "taft.ckpt"), "--live", str(root / run / "live")),
        *("--params", str(root / "params.yaml")),
    ]
    run_stage(args, launcher)
    with (root / run / "live" / "plots" / "metrics" / "train" / "loss.tsv").open() as fh:
        losses = np.array([float(row["loss"]) for row in csv.DictReader(fh, delimiter="\t")])
    return losses, json.loads((root / run / "live" / "metrics.json").read_text())["eval"]


@needs_torchrun
def test_taft_two_processes_give_the_single_process_losses(tmp_path):
    from tests.taft_fixture import make_clips

    make_clips(tmp_path / "blended")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TAFT_PARAMS))
    single, single_eval = _train_taft(tmp_path, "one", None)
    double, double_eval = _train_taft(tmp_path, "two", torchrun(2))
    assert len(single) == len(double) == 12
    np.testing.assert_allclose(double, single, rtol=1e-3, atol=1e-6)
    for key in ("psnr", "ssim"):
        assert double_eval[key] == pytest.approx(single_eval[key], rel=1e-3), key
