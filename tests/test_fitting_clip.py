"""fit_clip and the fit-3dmm stage on a small rendered clip with a landmark sidecar."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from test_fitting_optimize import render_frames, small_model, talking_sequence
from typer.testing import CliRunner

from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.fitting import Fit3dmmConfig, ReconNet, fit_clip, load_fitter_net, save_rnet_checkpoint
from gsmoothface.fitting.overlay import DETECTED_RGB, FITTED_RGB
from gsmoothface.fitting.truth import similarity_align, truth_metrics
from gsmoothface.media import VideoWriter

SIZE = 256  # clip frame side (px)
FRAMES = 30
TINY = Fit3dmmConfig(landmark_steps=200, photo_steps=5, photo_batch=16, frame_chunk=16, rnet_batch=8)


def to_frame_px(lm224: torch.Tensor, size: int) -> np.ndarray:
    """Landmarks of the 224 camera -> the same camera rendered at ``size`` (same field of view)."""
    u = (lm224[..., 0] - 112.0) * size / 224 + size / 2
    v_up = ((223.0 - lm224[..., 1]) - 112.0) * size / 224 + size / 2
    return torch.stack([u, (size - 1) - v_up], -1).numpy().astype(np.float32)


# small batched ops are latency-bound: one torch thread, as the stages run them
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory, model) -> Path:
    """data/clips/<clip>/ with video.mp4 and a landmarks.npz sidecar (frames 7 and 8 missed)."""
    folder = tmp_path_factory.mktemp("clips") / "speaker0_utt0"
    folder.mkdir()
    problem = talking_sequence(model, FRAMES, seed=5, noise_px=0.6)
    frames = render_frames(model, problem.coeff, SIZE).numpy()
    with VideoWriter(folder / "video.mp4", SIZE, SIZE, fps=25) as writer:
        writer.write(frames)
    lm68 = to_frame_px(problem.lm_noisy, SIZE)
    valid = np.ones(FRAMES, bool)
    valid[[7, 8]] = False
    lm68[~valid] = np.nan
    np.savez(folder / "landmarks.npz", lm68=lm68, valid=valid)
    np.savez(folder / "truth.npz", coeff=problem.coeff.numpy(), lm68=to_frame_px(problem.lm_true, SIZE))
    return folder


def test_fit_clip_outputs(clip_dir, model, tmp_path):
    fit = fit_clip(clip_dir, TINY, model, model_name="synthetic")
    assert fit.coeff.shape == (FRAMES, 257) and fit.coeff.dtype == np.float32
    assert fit.trans_params.shape == (FRAMES, 5) and (fit.trans_params[:, :2] == SIZE).all()
    assert fit.valid.sum() == FRAMES - 2 and not fit.valid[7] and not fit.valid[8]
    assert np.isfinite(fit.lm68).all()  # missed frames are interpolated, never dropped
    assert fit.residual.shape == (FRAMES,) and fit.residual[fit.valid].mean() < 1.5
    scores = truth_metrics(fit, clip_dir / "truth.npz", model)
    assert scores["lm_error_px"] < min(1.0, scores["detected_error_px"])
    assert scores["jaw_pearson"] > 0.9
    assert scores["mouth_dynamic_error_mm"] < 0.5 * scores["mouth_motion_mm"]
    assert (fit.fitter, fit.detector, fit.model) == ("optimize", "sidecar", "synthetic")
    fit.save(tmp_path / "clip.npz")
    with np.load(tmp_path / "clip.npz") as saved:
        assert saved["coeff"].dtype == np.float32 and saved["trans_params"].dtype == np.float64
        assert saved["valid"].dtype == bool and str(saved["fitter"]) == "optimize"
        assert set(saved) == {
            "coeff",
            "lm68",
            "trans_params",
            "valid",
            "residual",
            "fitter",
            "detector",
            "model",
        }


def test_similarity_align_removes_a_similarity():
    torch.manual_seed(0)
    points = torch.randn(2, 50, 3)
    q, _ = torch.linalg.qr(torch.randn(2, 3, 3))
    q = q * torch.linalg.det(q).sign()[:, None, None]  # proper rotations
    moved = 1.7 * points @ q + torch.tensor([0.3, -1.0, 2.0])
    assert torch.allclose(similarity_align(moved, points), points, atol=1e-4)


def test_random_rnet_checkpoint_runs_end_to_end(clip_dir, model, tmp_path):
    torch.manual_seed(0)
    net = ReconNet()
    for layer in net.final_layers:  # small non-zero heads: predictions depend on the crops
        torch.nn.init.normal_(layer.weight, std=1e-3)
    checkpoint = tmp_path / "epoch_20.pth"
    save_rnet_checkpoint(net, checkpoint)

    rnet_only = dataclasses.replace(TINY, fitter="rnet", rnet_checkpoint=checkpoint)
    fit = fit_clip(clip_dir, rnet_only, model, net=load_fitter_net(rnet_only, torch.device("cpu")))
    assert fit.fitter == "rnet" and fit.coeff.shape == (FRAMES, 257) and fit.coeff.std(0).max() > 0
    assert np.isfinite(fit.residual).all()

    refined = dataclasses.replace(TINY, fitter="auto", rnet_checkpoint=checkpoint)
    fit2 = fit_clip(clip_dir, refined, model, net=load_fitter_net(refined, torch.device("cpu")))
    assert fit2.fitter == "rnet+optimize"
    assert fit2.residual.mean() < fit.residual.mean()  # the optimisation refines the R-Net's guess

    bad = tmp_path / "bad.pth"
    torch.save({"net_recon": {"fc.weight": torch.zeros(3)}}, bad)
    with pytest.raises(InputError, match=r"missing keys.*backbone.*unexpected keys.*fc\.weight"):
        load_fitter_net(dataclasses.replace(refined, rnet_checkpoint=bad), torch.device("cpu"))
    with pytest.raises(MissingAssetError, match=r"fit_3dmm\.rnet_checkpoint"):
        load_fitter_net(dataclasses.replace(TINY, fitter="rnet"), torch.device("cpu"))
    assert load_fitter_net(TINY, torch.device("cpu")) is None  # no checkpoint: pure optimisation


def test_clip_without_any_face_is_an_input_error(clip_dir, model, tmp_path):
    folder = tmp_path / "noface"
    folder.mkdir()
    (folder / "video.mp4").write_bytes((clip_dir / "video.mp4").read_bytes())
    np.savez(
        folder / "landmarks.npz",
        lm68=np.full((FRAMES, 68, 2), np.nan, np.float32),
        valid=np.zeros(FRAMES, bool),
    )
    with pytest.raises(InputError, match="no face"):
        fit_clip(folder, TINY, model)
    with pytest.raises(InputError, match=r"no video\.mp4"):
        fit_clip(tmp_path / "empty", TINY, model)


def test_stage_command(clip_dir, tmp_path):
    from stages.cli import app

    params = {
        "base": {"seed": 0, "fps": 25, "sample_rate": 16000, "device": "cpu", "progress_every": 50},
        "face_model": {"path": None, "synthetic_seed": 0, "synthetic_spacing": 0.05},
        "render": {"backend": "cpu"},
        "fit_3dmm": {"landmark_steps": 60, "photo_steps": 2, "frame_chunk": 16},
    }
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    out = tmp_path / "3dmm"
    runner = CliRunner()
    args = ["fit-3dmm", "--clips", str(clip_dir.parent), "--out", str(out), "--params", str(params_file)]
    result = runner.invoke(app, [*args, "--clip", clip_dir.name, "--overlays", str(tmp_path / "overlays")])
    assert result.exit_code == 0, result.output
    sheet = np.asarray(Image.open(tmp_path / "overlays" / f"{clip_dir.name}.png"))
    assert sheet.shape == (384, 4 * 384, 3)
    assert ((sheet == DETECTED_RGB).all(-1).sum() > 100) and ((sheet == FITTED_RGB).all(-1).sum() > 100)
    with np.load(out / f"{clip_dir.name}.npz") as saved:
        assert saved["coeff"].shape == (FRAMES, 257)
    report = yaml.safe_load((out / f"{clip_dir.name}.json").read_text())
    assert report["fit"]["frames"] == FRAMES and report["config"]["fit_3dmm"]["landmark_steps"] == 60
    assert report["truth"]["jaw_pearson"] > 0.5  # the clip carries truth.npz: the fit is scored

    result = runner.invoke(app, [*args, "--clip", "nope"])
    assert result.exit_code == 1 and "clip folder(s) not found" in result.output


REAL_VIDEO = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "testdata"
    / "real"
    / "video02_ocasio-cortez_hdtf_25fps.mp4"
)


@pytest.mark.skipif(not REAL_VIDEO.is_file(), reason=f"real test media absent ({REAL_VIDEO})")
def test_real_hdtf_clip_with_the_no_download_detector(tmp_path):
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    clip = tmp_path / "hdtf"
    clip.mkdir()
    (clip / "video.mp4").symlink_to(REAL_VIDEO)  # a 25 fps HDTF clip, used in place (never copied)
    cfg = dataclasses.replace(TINY, landmarks="dlib", photo_steps=0)
    fit = fit_clip(clip, cfg, load_face_model(FaceModelConfig()))
    assert fit.detector == "dlib" and len(fit.valid) >= 120
    assert fit.valid.mean() >= 0.95
    assert fit.residual[fit.valid].mean() < 5.0  # px at 224 with the embedded synthetic model
