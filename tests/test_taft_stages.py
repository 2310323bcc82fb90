"""blend -> train-taft -> translate end to end on two tiny generated clips (CPU, synthetic face model)."""

import json

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from gsmoothface.blend import BlendedClip
from gsmoothface.media import VideoWriter, probe, read_frames
from stages.cli import app
from tests.launch import needs_torchrun, run_stage, torchrun

FRAMES = 8
SIZE = 32


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("taft_stages")
    rng = np.random.default_rng(0)
    tp = np.array([256.0, 256.0, 0.9, 128.0, 128.0])
    for k, split in enumerate(("train", "val")):
        clip = root / "clips" / f"c{k}"
        clip.mkdir(parents=True)
        # smooth colour fields: H.264 keeps them within a level or two, so pixels can be compared
        coarse = torch.from_numpy(rng.uniform(0, 255, (1, 3, 8, 8)).astype(np.float32))
        field = torch.nn.functional.interpolate(coarse, size=256, mode="bicubic").clamp(0, 255)
        frames = np.repeat(field.round().byte().permute(0, 2, 3, 1).numpy(), FRAMES, 0)
        with VideoWriter(clip / "video.mp4", 256, 256, fps=25) as writer:
            writer.write(frames)
        meta = {"clip": f"c{k}", "split": split, "speaker": "s", "frames": FRAMES, "size": 256}
        (clip / "meta.json").write_text(json.dumps(meta))
        coeff = np.zeros((FRAMES, 257), np.float32)
        coeff[:, 80] = np.linspace(-1, 1, FRAMES)
        (root / "3dmm").mkdir(exist_ok=True)
        np.savez(
            root / "3dmm" / f"c{k}.npz",
            coeff=coeff,
            trans_params=np.tile(tp, (FRAMES, 1)),
            valid=np.ones(FRAMES, bool),
        )
    params = {
        "base": {"seed": 0, "device": "cpu", "progress_every": 100},
        "face_model": {},
        "render": {"backend": "cpu"},
        "blend": {"size": SIZE, "batch_size": 4},
        "taft": {
            "base_channels": 8,
            "max_channels": 16,
            "batch_size": 4,
            "patch": 16,
            "epochs": 2,
            "steps_per_epoch": 2,
            "eval_frames": 4,
            "grid_frames": 2,
            "log_every": 1,
            "translate_batch": 4,
            "threads": 1,
        },
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def _run(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def blended(workspace):
    """The workspace's clips through the `blend` stage."""
    w = workspace
    args = ["blend", "--clips", str(w / "clips"), "--fits", str(w / "3dmm"), "--out", str(w / "blended")]
    _run([*args, "--params", str(w / "params.yaml")])
    return w / "blended"


def test_blend_train_translate(workspace, blended):
    w = workspace
    p = ["--params", str(w / "params.yaml")]
    clip = BlendedClip.open(blended / "c0")
    assert clip.blended.shape == (FRAMES, SIZE, SIZE, 3) and clip.meta["split"] == "train"
    np.testing.assert_array_equal(clip.frame, read_frames(w / "clips" / "c0" / "video.mp4", size=SIZE))
    outside = clip.mask == 0
    assert 0.2 < outside.mean() < 0.95
    np.testing.assert_array_equal(clip.blended[outside], clip.frame[outside])

    model = w / "models" / "taft.pt"
    _run(
        [
            "train-taft",
            "--blended",
            str(blended),
            "--model",
            str(model),
            "--checkpoint",
            str(w / "models" / "taft.ckpt"),
            "--live",
            str(w / "results" / "taft"),
            *p,
        ]
    )
    metrics = json.loads((w / "results" / "taft" / "metrics.json").read_text())
    assert {"psnr", "psnr_blended", "psnr_reference", "ssim"} <= set(metrics["eval"])
    assert model.is_file() and not (w / "models" / "taft.ckpt").exists()

    outputs = []
    for jaw in (0.0, 1.5):
        exp = np.zeros((FRAMES + 3, 64), np.float32)  # longer than the clip: ping-pong
        exp[:, 0] = jaw
        np.save(w / "exp.npy", exp)
        outputs.append(w / f"out_{jaw}.mp4")
        args = ["translate", "--clip", str(w / "clips" / "c1"), "--fit", str(w / "3dmm" / "c1.npz")]
        args += ["--expression", str(w / "exp.npy"), "--model", str(model), "--out", str(outputs[-1])]
        _run([*args, *p])
    info = probe(outputs[0])
    assert (info.width, info.height, info.n_frames) == (256, 256, FRAMES + 3)  # the clip's frames
    closed, opened = (read_frames(o).astype(np.float32) for o in outputs)
    truth = read_frames(w / "clips" / "c1" / "video.mp4").astype(np.float32)[[*range(FRAMES), 6, 5, 4]]
    mask = BlendedClip.open(blended / "c1").mask.astype(np.float32)  # (T, S, S) MAFB mask at SIZE
    mask = torch.nn.functional.interpolate(torch.from_numpy(mask)[:, None], size=256, mode="nearest")
    near = torch.nn.functional.max_pool2d(mask, 33, stride=1, padding=16)[:, 0].numpy() > 0  # + 16 px
    near = near[[*range(FRAMES), 6, 5, 4]]
    outside = ~near
    assert 0.2 < outside.mean() < 0.95
    for frames in (closed, opened):  # far from the face the frame is the clip's own
        assert np.abs(frames - truth).max(axis=-1)[outside].mean() < 3.0  # H.264 twice: 2 levels
    mouth_change = np.abs(opened - closed).max(axis=-1)
    assert mouth_change[near].mean() > 4 * mouth_change[outside].mean()  # the jaw moved the mouth


def test_blend_reports_missing_fit(workspace):
    w = workspace
    args = ["blend", "--clips", str(w / "clips"), "--fits", str(w / "none"), "--clip", "c0", "--out"]
    args += [str(w / "x"), "--params", str(w / "params.yaml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "missing" in result.output


@needs_torchrun
def test_train_taft_under_torchrun(workspace, blended):
    """Two processes (gloo on CPU) train the DDP-wrapped generator and discriminator; rank 0 alone
    evaluates, logs and writes the model."""
    w = workspace
    run = w / "ddp"
    run.mkdir()
    params = yaml.safe_load((w / "params.yaml").read_text())
    params["taft"] |= {"gan_weight": 0.5, "disc_channels": 8, "disc_layers": 2}  # the discriminator too
    (run / "params.yaml").write_text(yaml.safe_dump(params))
    args = [
        *("train-taft", "--blended", str(blended), "--model", str(run / "taft.pt")),
        *("--checkpoint", str(run / "taft.ckpt"), "--live", str(run / "live")),
        *("--params", str(run / "params.yaml")),
    ]
    output = run_stage(args, torchrun(2))
    assert output.count("epoch 2/2 step 4:") == 1  # one process reports
    model = torch.load(run / "taft.pt", map_location="cpu", weights_only=False)
    assert model["step"] == 4 and model["discriminator"] is not None
    rows = (run / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert len(rows) == 1 + 4  # header + one row per step, logged once
    metrics = json.loads((run / "live" / "metrics.json").read_text())
    assert np.isfinite(metrics["eval"]["psnr"])
    assert not (run / "taft.ckpt").exists()
