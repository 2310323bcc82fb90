"""A2EP training: vertex loss, learning on held-out clips, exact resume after a kill, NaN stop, stages."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from gsmoothface.a2ep.loss import ExpressionLoss, expression_basis
from gsmoothface.face_model import FaceModelConfig, load_face_model
from tests.launch import kill_after_checkpoint

SR, FPS, SPF = 16000, 25, 640
PARAMS = """\
base: {seed: 3, progress_every: 1000}
face_model: {}
audio: {frontend: logmel, n_mels: 40}
a2ep: {d_model: 48, ffn_dim: 96, encoder_hidden: 48, encoder_ffn: 96, encoder_layers: 1, window: 50,
       batch_size: 6, epochs: EPOCHS, lr: 0.003, val_every: 10, checkpoint_every: 5, predict_window: 50,
       predict_overlap: 10}
"""


# small batched ops are latency-bound: one torch thread, as the stages run them
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def wander(rng: np.random.Generator, n: int, every: int) -> np.ndarray:
    """A random piecewise-linear series in [0, 1] with a knot every ``every`` frames."""
    knots = rng.uniform(0, 1, n // every + 2)
    return np.interp(np.arange(n), np.arange(knots.size) * every, knots)


def write_clip(folder: Path, rng, frames: int, speaker: int, split: str) -> None:
    """Audio whose loudness drives the jaw (exp 0, with a per-speaker gain) and whose formant
    drives exp 1; a per-speaker offset on exp 2 is the speaking style."""
    loud = wander(rng, frames, 4) ** 1.5
    vowel = wander(rng, frames, 6)
    t = np.arange(frames * SPF) / SR
    a, r = np.repeat(loud, SPF), np.repeat(vowel, SPF)
    carrier = (1 - r) * np.sin(2 * np.pi * 600 * t) + r * np.sin(2 * np.pi * 1800 * t)
    audio = 0.4 * a * carrier * (1 + 0.5 * np.sin(2 * np.pi * (110 + 40 * speaker) * t))
    audio += 0.003 * rng.standard_normal(t.size)
    coeff = np.zeros((frames, 257), np.float32)
    coeff[:, 80] = (0.7 + 0.3 * speaker) * loud
    coeff[:, 81] = 0.6 * (vowel - 0.5) * loud
    coeff[:, 82] = 0.2 * (speaker - 1)
    folder.mkdir(parents=True)
    sf.write(folder / "audio.wav", audio.astype(np.float32), SR, subtype="PCM_16")
    np.savez(folder / "truth.npz", coeff=coeff)
    meta = {"speaker": f"spk{speaker}", "split": split, "frames": frames, "fps": FPS, "sample_rate": SR}
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """3 speakers with a training clip and a later held-out clip each, plus an unseen speaker."""
    from stages.cli import app

    root = tmp_path_factory.mktemp("a2ep")
    rng = np.random.default_rng(0)
    for s in range(3):
        write_clip(root / "clips" / f"spk{s}_0", rng, 300, s, "train")
        write_clip(root / "clips" / f"spk{s}_1", rng, 100, s, "val")
    write_clip(root / "clips" / "spk3_0", rng, 100, 3, "test")
    (root / "params.yaml").write_text(PARAMS.replace("EPOCHS", "60"))
    (root / "short.yaml").write_text(PARAMS.replace("EPOCHS", "8"))
    args = ["audio-features", "--clips", str(root / "clips"), "--out", str(root / "audio")]
    result = CliRunner().invoke(app, [*args, "--params", str(root / "params.yaml")])
    assert result.exit_code == 0, result.output
    return root


def train_args(root: Path, run: str, params: str = "params.yaml") -> list[str]:
    return [
        "train-a2ep",
        *("--clips", str(root / "clips"), "--features", str(root / "audio"), "--targets", "truth"),
        *("--model", str(root / run / "a2ep.pt"), "--checkpoint", str(root / run / "a2ep.ckpt")),
        *("--live", str(root / run / "live"), "--params", str(root / params)),
    ]


def loss_curve(run: Path) -> np.ndarray:
    """The per-step training loss DVCLive logged for a run."""
    rows = (run / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    column = rows[0].split("\t").index("loss")
    return np.array([float(row.split("\t")[column]) for row in rows[1:]])


def test_loss_is_the_mouth_weighted_vertex_mse():
    face = load_face_model(FaceModelConfig())
    basis = expression_basis(face)
    loss = ExpressionLoss(basis, face.mouth_mask, mouth_weight=1.8)
    pred, target = 0.3 * torch.randn(2, 5, 64), 0.3 * torch.randn(2, 5, 64)
    diff = face.expression_offsets(pred) - face.expression_offsets(target)  # (2, 5, N, 3)
    weight = torch.where(face.mouth_mask, 1.8, 1.0)
    explicit = (weight * diff.pow(2).sum(-1)).mean()
    assert torch.allclose(loss(pred, target), explicit, rtol=1e-4)
    assert (
        ExpressionLoss(basis, face.mouth_mask, supervise_exp=True)(pred, target)
        == (pred - target).pow(2).mean()
    )


@pytest.fixture(scope="module")
def trained(demo) -> Path:
    """The model of a full training run on the demo clips (trained once per module)."""
    from stages.cli import app

    result = CliRunner().invoke(app, train_args(demo, "full"))
    assert result.exit_code == 0, result.output
    return demo / "full" / "a2ep.pt"


def test_learns_on_held_out_clips(demo, trained):
    metrics = json.loads((demo / "full" / "live" / "metrics.json").read_text())
    # held-out later time range of the training speakers beats each speaker's mean expression
    assert metrics["val"]["lve_reduction"] > 0.3, metrics
    assert metrics["val"]["jaw_pearson"] > 0.75, metrics
    assert (demo / "full" / "live" / "plots" / "metrics" / "val" / "lve.tsv").is_file()
    history = loss_curve(demo / "full")
    assert len(history) == 180 and np.mean(history[-10:]) < 0.3 * np.mean(history[:5])
    assert not (demo / "full" / "a2ep.ckpt").exists(), "a finished run keeps no resume state"


def test_learns_with_the_wav2vec2_front_end(demo, tiny_wav2vec2, tmp_path):
    """The recipe's path: audio-features caches the wav2vec2 CNN output, train-a2ep fine-tunes the
    checkpoint's projection and transformer under the decoder, predict-exp runs the same folder."""
    from transformers import Wav2Vec2Model

    from gsmoothface.audio import n_feature_frames
    from stages.cli import app

    params = tmp_path / "params.yaml"
    audio = f"audio: {{frontend: wav2vec2, wav2vec2_dir: '{tiny_wav2vec2}'}}"
    params.write_text(PARAMS.replace("EPOCHS", "60").replace("audio: {frontend: logmel, n_mels: 40}", audio))
    features, run = tmp_path / "features", tmp_path / "run"
    args = ["audio-features", "--clips", str(demo / "clips"), "--out", str(features), "--params", str(params)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert np.load(features / "spk0_0.npy").shape == (n_feature_frames(300 * SPF), 32)  # 50 Hz CNN output

    args = [
        "train-a2ep",
        *("--clips", str(demo / "clips"), "--features", str(features), "--targets", "truth"),
        *("--model", str(run / "a2ep.pt"), "--checkpoint", str(run / "a2ep.ckpt")),
        *("--live", str(run / "live"), "--params", str(params)),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "live" / "metrics.json").read_text())
    assert metrics["val"]["lve_reduction"] > 0.3, metrics
    assert metrics["val"]["jaw_pearson"] > 0.75, metrics
    history = loss_curve(run)
    assert np.mean(history[-10:]) < 0.3 * np.mean(history[:5])

    # the encoder started from the checkpoint and was fine-tuned: it moved, but far less than the
    # distance between two random initialisations
    pretrained = Wav2Vec2Model.from_pretrained(tiny_wav2vec2)
    trained = torch.load(run / "a2ep.pt", weights_only=False)["state_dict"]
    name = "encoder.layers.0.feed_forward.intermediate_dense.weight"
    start = pretrained.state_dict()[name]
    moved = (trained[f"audio_encoder.wav2vec2.{name}"] - start).norm()
    other = (Wav2Vec2Model(pretrained.config).state_dict()[name] - start).norm()
    assert 0 < moved < 0.5 * other

    out = tmp_path / "exp.npy"
    wav = demo / "clips" / "spk1_1" / "audio.wav"
    args = ["predict-exp", "--audio", str(wav), "--out", str(out), "--speaker", "spk1"]
    result = CliRunner().invoke(app, [*args, "--model", str(run / "a2ep.pt"), "--params", str(params)])
    assert result.exit_code == 0, result.output
    truth = np.load(demo / "clips" / "spk1_1" / "truth.npz")["coeff"][:, 80:144]
    exp = np.load(out)
    assert exp.shape == truth.shape == (100, 64)
    assert np.corrcoef(exp[:, 0], truth[:, 0])[0, 1] > 0.75


def test_resumes_exactly_after_a_kill(demo):
    from stages.cli import app

    result = CliRunner().invoke(app, train_args(demo, "short", "short.yaml"))
    assert result.exit_code == 0, result.output
    full = loss_curve(demo / "short")
    assert len(full) == 24

    # the same run in another process, killed after its first checkpoint, then resumed
    ckpt = demo / "killed" / "a2ep.ckpt"
    killed_at = kill_after_checkpoint(
        train_args(demo, "killed", "short.yaml"), ckpt, demo / "killed" / "a2ep.pt"
    )
    assert 0 < killed_at < 24
    # DVCLive rewrites its summary every step and appends rows: a kill can cut either short
    summary = demo / "killed" / "live" / "metrics.json"
    summary.write_text(summary.read_text()[:7] if summary.exists() else "{")
    with (demo / "killed" / "live" / "plots" / "metrics" / "train" / "loss.tsv").open("a") as fh:
        fh.write("17642")
    result = CliRunner().invoke(app, train_args(demo, "killed", "short.yaml"))
    assert result.exit_code == 0, result.output
    assert f"resuming from {ckpt} at step {killed_at}" in result.output
    resumed = loss_curve(demo / "killed")
    assert len(resumed) == 24  # one row per step, none duplicated by the resume
    assert np.allclose(resumed, full, rtol=1e-6, atol=1e-12)
    assert (demo / "killed" / "a2ep.pt").read_bytes() == (demo / "short" / "a2ep.pt").read_bytes()


def test_nan_loss_stops_with_a_clear_message(demo):
    from gsmoothface.a2ep.config import A2EPConfig
    from gsmoothface.a2ep.data import load_clips
    from gsmoothface.a2ep.model import tiny_encoder_config
    from gsmoothface.a2ep.train import TrainingDiverged, train_a2ep

    clips = load_clips(demo / "clips", demo / "audio", demo / "3dmm", "truth")
    cfg = A2EPConfig(window=50, epochs=1, encoder_layers=1)
    info = {
        "encoder_config": tiny_encoder_config(40, cfg),
        "audio": {},
        "feature_dim": 40,
        "fps": 25,
        "sample_rate": 16000,
    }
    basis = torch.full((64, 10, 3), 1e30)
    out = demo / "nan"
    with pytest.raises(TrainingDiverged, match=r"a2ep\.lr"):
        train_a2ep(
            clips,
            basis,
            torch.ones(10, dtype=torch.bool),
            cfg,
            info,
            0,
            out / "m.pt",
            out / "c",
            out / "l",
            torch.device("cpu"),
        )
    assert not (out / "m.pt").exists()


def test_predict_exp_stage_writes_expressions_and_video(demo, trained, tmp_path):
    from gsmoothface.media import probe
    from stages.cli import app

    model = trained
    wav = demo / "clips" / "spk1_1" / "audio.wav"
    args = ["predict-exp", "--audio", str(wav), "--out", str(tmp_path / "exp.npy"), "--speaker", "spk1"]
    args += [
        "--model",
        str(model),
        "--video",
        str(tmp_path / "exp.mp4"),
        "--params",
        str(demo / "params.yaml"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    exp = np.load(tmp_path / "exp.npy")
    truth = np.load(demo / "clips" / "spk1_1" / "truth.npz")["coeff"][:, 80:144]
    assert exp.shape == truth.shape == (100, 64)
    assert np.corrcoef(exp[:, 0], truth[:, 0])[0, 1] > 0.8
    info = probe(tmp_path / "exp.mp4")
    assert info.has_audio and info.n_frames == 100 and info.width == 224
    bad = CliRunner().invoke(app, [*args[:-2], "--params", str(demo / "params.yaml"), "--speaker", "nobody"])
    assert bad.exit_code == 1 and "training speaker" in bad.output
