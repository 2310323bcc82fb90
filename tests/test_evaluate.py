"""The ``evaluate`` stage end to end on a tiny held-out set made here, checked against independent sums."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from tests.inference_fixture import write_tiny_models

N_FRAMES = 12
EVAL_FRAMES = 10  # evaluate.max_frames: the first 10 frames of each clip
CLIP_SIDE = 64  # clip frame side, px
SIZE = 32  # MAFB/TAFT resolution, px
FULL_CROP = np.array([CLIP_SIDE, CLIP_SIDE, 224 / CLIP_SIDE, CLIP_SIDE / 2, CLIP_SIDE / 2])  # crop = frame


def _jaw_direction(face_model) -> np.ndarray:
    """(64,) unit expression direction that moves the lower inner lip (66) down from the upper one (62)."""
    kp = face_model.keypoints.numpy()
    basis = face_model.exp_base.numpy().reshape(-1, 3, 64)
    jaw = -(basis[kp[66], 1] - basis[kp[62], 1])
    return jaw / np.linalg.norm(jaw)


def _write_clip(root: Path, name: str, split: str, speaker: str, coeff: np.ndarray, blender) -> None:
    from gsmoothface.atomic import write_npz
    from gsmoothface.blend.mafb import composite
    from gsmoothface.landmarks.align import points_from_crop
    from gsmoothface.media import VideoWriter, write_wav

    clip = root / "clips" / name
    clip.mkdir(parents=True)
    n = len(coeff)
    tp = np.tile(FULL_CROP, (n, 1))
    background = torch.full((n, 3, CLIP_SIDE, CLIP_SIDE), 0.4)
    image, mask = blender.render_crop(torch.from_numpy(coeff))
    frames = composite(background, image, mask, tp, blender.cfg).blended
    with VideoWriter(clip / "video.mp4", CLIP_SIDE, CLIP_SIDE, crf=8) as writer:
        writer.write((frames.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy())
    rng = np.random.default_rng(len(name))
    write_wav(clip / "audio.wav", rng.normal(0, 0.1, n * 640).astype(np.float32), 16000)
    lm = points_from_crop(blender.face_model.landmarks_224(torch.from_numpy(coeff)).numpy(), tp)
    write_npz(clip / "landmarks.npz", lm68=lm.astype(np.float32), valid=np.ones(n, bool))
    meta = {"clip": name, "frames": n, "fps": 25, "size": CLIP_SIDE, "speaker": speaker, "split": split}
    (clip / "meta.json").write_text(json.dumps(meta))
    write_npz(root / "3dmm" / f"{name}.npz", coeff=coeff, trans_params=tp)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    from gsmoothface.blend.config import BlendConfig
    from gsmoothface.blend.mafb import MafbBlender
    from gsmoothface.face_model import FaceModelConfig, load_face_model
    from stages.evaluate import app

    root = tmp_path_factory.mktemp("eval")
    face_model = load_face_model(FaceModelConfig())
    blender = MafbBlender(face_model, BlendConfig(size=SIZE), backend="cpu")
    jaw = _jaw_direction(face_model)
    t = np.arange(N_FRAMES)
    truths = {}
    for k, (name, split, speaker) in enumerate(
        [("a_train", "train", "spkA"), ("a_val", "val", "spkA"), ("b_test", "test", "spkB")]
    ):
        coeff = np.zeros((N_FRAMES, 257), np.float32)
        coeff[:, 80:144] = (1.5 + np.sin(t / 2 + k))[:, None] * jaw * 2.0  # an opening and closing mouth
        coeff[:, 224] = 0.03 * k  # a different pitch per clip
        _write_clip(root, name, split, speaker, coeff, blender)
        truths[name] = coeff
    write_tiny_models(root, SIZE)
    params = {
        "base": {"seed": 0, "fps": 25, "sample_rate": 16000, "device": "cpu", "progress_every": 50},
        "face_model": {},
        "render": {"backend": "cpu"},
        "blend": {"size": SIZE},
        "audio": {},
        "evaluate": {
            "clips_dir": str(root / "clips"),
            "fit_dir": str(root / "3dmm"),
            "a2ep_model": str(root / "a2ep.pt"),
            "taft_model": str(root / "taft.pt"),
            "n_videos": 1,
            "chunk": 8,
            "max_frames": EVAL_FRAMES,
        },
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    out = root / "results"
    args = ["--out-dir", str(out), "--cache-dir", str(root / "cache"), "--params", str(root / "params.yaml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, truths, face_model, result.output


def _lve_mm(face_model, exp_pred: np.ndarray, exp_true: np.ndarray) -> float:
    """FaceFormer LVE through the face model's own torch path, in mm."""
    diff = face_model.expression_offsets(torch.from_numpy(exp_pred - exp_true))  # (T, N, 3)
    lips = face_model.mouth_mask
    return float(diff[:, lips].norm(dim=-1).amax(dim=1).mean()) * 100.0


def _mouth_distance_224(face_model, pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over frames and mouth landmarks (iBUG 49-68) of the distance between the projections
    of two coefficient sequences, in px of the 224 crop."""
    with torch.no_grad():
        lm_pred = face_model.landmarks_224(torch.from_numpy(pred)).numpy()[:, 48:68]
        lm_true = face_model.landmarks_224(torch.from_numpy(true)).numpy()[:, 48:68]
    return float(np.linalg.norm(lm_pred - lm_true, axis=-1).mean())


def test_evaluate_writes_metrics_and_baselines(evaluated):
    from gsmoothface.media import read_frames

    out, truths, face_model, output = evaluated
    assert "metrics.json" in output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_clips"] == 2 and metrics["n_frames"] == 2 * EVAL_FRAMES
    sync = metrics["syncnet"]
    assert sync["computed"] is False and sync["lse_c"] is None and "syncnet_weights" in sync["reason"]
    rows = list(csv.DictReader((out / "per_clip.csv").open()))
    assert [r["clip"] for r in rows] == ["a_val", "b_test"]  # held-out splits only
    by_clip = {r["clip"]: r for r in rows}
    # the untrained A2EP predicts the neutral face: its LVE is that of all-zero expressions
    for name in ("a_val", "b_test"):
        exp_true = truths[name][:EVAL_FRAMES, 80:144]
        expected = _lve_mm(face_model, np.zeros_like(exp_true), exp_true)
        assert float(by_clip[name]["lve_mm_a2ep"]) == pytest.approx(expected, rel=1e-4)
        # speaker-mean baseline: spkA's training mean for a_val; all training clips for the unseen spkB
        mean = truths["a_train"][:, 80:144].mean(axis=0, keepdims=True)
        expected_mean = _lve_mm(face_model, np.repeat(mean, EVAL_FRAMES, axis=0), exp_true)
        assert float(by_clip[name]["lve_mm_speaker_mean"]) == pytest.approx(expected_mean, rel=1e-4)
        # the sidecar holds the true coefficients' projection, so the fit's LMD is ~0; the driven face
        # is the neutral expression in the true pose: its LMD is that of the neutral mouth, at the
        # clip's scale (the 224 crop is the whole 64 px frame)
        coeff = truths[name][:EVAL_FRAMES]
        neutral = coeff.copy()
        neutral[:, 80:144] = 0.0
        expected_lmd = _mouth_distance_224(face_model, neutral, coeff) * CLIP_SIDE / 224
        assert float(by_clip[name]["lmd_generated"]) == pytest.approx(expected_lmd, rel=1e-3)
        assert float(by_clip[name]["lmd_fit"]) < 1e-3
    # PSNR of the generated frames against the truth, recomputed from the side-by-side video's panels
    # (truth | blended | generated, H.264 at crf 18: within 0.5 dB of the metric on the raw frames)
    panels = read_frames(out / "videos" / "a_val.mp4").astype(np.float64)
    truth, generated = panels[..., :CLIP_SIDE, :], panels[..., 2 * CLIP_SIDE :, :]
    mse = ((truth - generated) ** 2).mean(axis=(1, 2, 3))
    expected_psnr = float(np.mean(10 * np.log10(255.0**2 / mse)))
    assert float(by_clip["a_val"]["psnr_generated"]) == pytest.approx(expected_psnr, abs=0.5)
    assert metrics["beats_baselines"]["lve_vs_speaker_mean"] is False  # a neutral face is no predictor


def test_evaluate_writes_plots_and_videos(evaluated):
    from gsmoothface.media import probe

    out, truths, face_model, _ = evaluated
    series = list(csv.DictReader((out / "plots" / "jaw_open" / "a_val.csv").open()))
    assert len(series) == EVAL_FRAMES
    exp = truths["a_val"][:EVAL_FRAMES, 80:144]
    offsets = face_model.expression_offsets(torch.from_numpy(exp)).numpy()  # (T, N, 3)
    kp = face_model.keypoints.numpy()
    mean = face_model.mean_shape.numpy().reshape(-1, 3)
    gap = (mean[kp[66]] + offsets[:, kp[66]]) - (mean[kp[62]] + offsets[:, kp[62]])
    np.testing.assert_allclose(
        [float(r["true"]) for r in series], np.linalg.norm(gap, axis=1) * 100, rtol=1e-4
    )
    assert all(abs(float(r["predicted"])) < 1e-6 for r in series)
    plot_rows = list(csv.DictReader((out / "plots" / "per_clip.csv").open()))
    assert {"clip", "psnr_generated", "psnr_reference_copy"} <= set(plot_rows[0])
    videos = sorted((out / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["a_val.mp4"]  # n_videos: 1
    info = probe(videos[0])
    assert (info.width, info.height, info.has_audio) == (3 * CLIP_SIDE, CLIP_SIDE, True)
    assert info.duration_s == pytest.approx(EVAL_FRAMES / 25, abs=0.04)  # video and audio of the span
    assert json.loads((out / "config.json").read_text())["evaluate"]["n_videos"] == 1
