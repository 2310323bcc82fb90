import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gsmoothface.blend import list_blended
from gsmoothface.config import BaseConfig
from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.taft.checkpoint import load_generator
from gsmoothface.taft.config import TaftConfig
from gsmoothface.taft.data import TaftBatches, eval_batch
from gsmoothface.taft.losses import TaftLoss, build_loss, gram
from gsmoothface.taft.model import MultiScaleDiscriminator, TaftGenerator
from gsmoothface.taft.ssim import ssim
from gsmoothface.taft.train import evaluate, train_taft
from gsmoothface.taft.vgg import VGG19_LAYOUT, load_vgg19
from tests.taft_fixture import make_clips

TINY = {"base_channels": 8, "max_channels": 16, "batch_size": 8, "patch": 0, "lr": 2e-3, "ema_decay": 0.99}
TINY |= {"epochs": 4, "eval_frames": 16, "log_every": 5, "grid_frames": 2}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("blended")
    make_clips(root)
    return list_blended(root, "train"), list_blended(root, "val")


def _train(clips, tmp: Path, **overrides):
    cfg = TaftConfig(**(TINY | overrides))
    torch.set_num_threads(1)
    metrics = train_taft(
        clips[0],
        clips[1],
        cfg,
        BaseConfig(),
        tmp / "taft.pt",
        tmp / "live",
        tmp / "taft.ckpt",
        torch.device("cpu"),
    )
    return cfg, metrics


@pytest.mark.parametrize("residual", [False, True])
def test_generator_shapes(residual):
    gen = TaftGenerator(8, 16, 3, residual=residual)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = gen(x, x)
    assert out.shape == (2, 3, 32, 32)
    if not residual:
        assert out.abs().max() <= 1
    with pytest.raises(ValueError, match="divisible"):
        gen(torch.zeros(1, 3, 36, 36), torch.zeros(1, 3, 36, 36))
    feats = MultiScaleDiscriminator(8, 2, 2)(x, out)
    assert len(feats) == 2 and feats[0][-1].shape[1] == 1


def _torchvision_layout_state(wrong: bool = False) -> dict[str, torch.Tensor]:
    """A random state dict with torchvision VGG19's keys and shapes (tiny classifier stand-ins)."""
    state, index, c_in = {}, 0, 3
    for item in VGG19_LAYOUT:
        if item == "M":
            index += 1
            continue
        c_out = int(item) // 2 if wrong and index == 0 else int(item)
        state[f"features.{index}.weight"] = torch.randn(c_out, c_in, 3, 3) * 0.05
        state[f"features.{index}.bias"] = torch.zeros(c_out)
        index, c_in = index + 2, c_out
    state["classifier.0.weight"] = torch.zeros(4, 4)  # the classifier is ignored
    return state


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.manual_seed(0)
    state = _torchvision_layout_state()
    torch.save(state, path)
    return path, state


def test_vgg_loads_torchvision_layout_and_refuses_others(vgg_file, tmp_path):
    path, state = vgg_file
    vgg = load_vgg19(path)
    assert torch.equal(vgg.features[34].weight, state["features.34.weight"])
    feats = vgg(torch.rand(1, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    assert not any(p.requires_grad for p in vgg.parameters())

    bad = tmp_path / "bad.pth"
    torch.save(_torchvision_layout_state(wrong=True), bad)
    with pytest.raises(InputError, match=re.escape("mis-shaped key 'features.0.weight'")):
        load_vgg19(bad)
    truncated = {k: v for k, v in state.items() if not k.startswith("features.34")}
    torch.save(truncated, bad)
    with pytest.raises(InputError, match=re.escape("missing key 'features.34.bias'")):
        load_vgg19(bad)
    with pytest.raises(MissingAssetError, match=re.escape("vgg19-dcbb9e9d.pth")):
        load_vgg19(tmp_path / "absent.pth")


def test_perceptual_loss_with_vgg(vgg_file):
    path, _ = vgg_file
    loss = build_loss(TaftConfig(vgg19_weights=path, perceptual_scales=2))
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    fake = (real + 0.3 * torch.randn_like(real)).clamp(-1, 1).requires_grad_(True)
    total, parts = loss(fake, real)
    assert set(parts) == {"l1", "perceptual", "style"} and parts["perceptual"] > 0
    total.backward()
    assert fake.grad.abs().sum() > 0
    same, parts = loss(real, real)
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    feats = torch.randn(2, 4, 5, 6)
    g = gram(feats)
    np.testing.assert_allclose(
        g[0].numpy(), (feats[0].reshape(4, 30) @ feats[0].reshape(4, 30).T / 120).numpy(), rtol=1e-5
    )


def test_perceptual_pyramid_stops_at_the_smallest_vgg_input(vgg_file):
    """Training crops of 64 px with the recipe's 4 scales: the 8 px scale is left out, not a crash."""
    path, _ = vgg_file
    real = torch.rand(1, 3, 64, 64) * 2 - 1
    fake = (real + 0.3 * torch.randn_like(real)).clamp(-1, 1)
    loss = {n: build_loss(TaftConfig(vgg19_weights=path, perceptual_scales=n)) for n in (2, 3, 4)}
    perceptual = {n: loss[n](fake, real)[1]["perceptual"] for n in (2, 3, 4)}
    assert perceptual[4] == perceptual[3] > perceptual[2]


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    a = rng.random((40, 36, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    ref = metrics.structural_similarity(
        a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    ours = ssim(torch.from_numpy(b).permute(2, 0, 1)[None], torch.from_numpy(a).permute(2, 0, 1)[None])
    assert float(ours) == pytest.approx(ref, abs=1e-6)
    assert float(ssim(torch.ones(1, 3, 16, 16) * 0.3, torch.ones(1, 3, 16, 16) * 0.3)) == pytest.approx(1.0)


def test_batches_are_deterministic_and_use_other_frames(clips):
    data = TaftBatches(clips[0], batch_size=6, seed=3)
    a, b = data[5], data[5]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(data[6]["target"], a["target"])
    assert a["target"].shape == (6, 3, 32, 32) and a["target"].min() >= -1
    assert not any(torch.equal(r, t) for r, t in zip(a["reference"], a["target"], strict=True))
    held = eval_batch(clips[1], 8)
    assert held["reference"].shape[0] == 8
    patches = TaftBatches(clips[0], batch_size=6, seed=3, patch=16)[0]
    assert patches["target"].shape == (6, 3, 16, 16)
    # face-centred crops: the blended image differs from the target (the face) in every crop
    assert ((patches["blended"] - patches["target"]).abs().flatten(1).amax(1) > 0.1).all()


def test_taft_learns_and_beats_baselines(clips, tmp_path):
    cfg, metrics = _train(clips, tmp_path, epochs=4, steps_per_epoch=25)
    # on the held-out clip, the EMA generator beats both the blended input and the reference copy
    assert metrics["psnr"] > max(metrics["psnr_blended"], metrics["psnr_reference"]) + 1.5
    assert metrics["ssim"] > max(metrics["ssim_blended"], metrics["ssim_reference"])
    rows = (tmp_path / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()[1:]
    values = [float(r.split("\t")[-1]) for r in rows]
    assert np.mean(values[-3:]) < 0.5 * np.mean(values[:3])  # the loss falls
    assert len(list((tmp_path / "live" / "plots" / "images" / "samples").glob("epoch_*.png"))) == 4
    assert json.loads((tmp_path / "live" / "metrics.json").read_text())["eval"]["psnr"] == pytest.approx(
        metrics["psnr"]
    )
    generator, meta = load_generator(tmp_path / "taft.pt")
    assert meta["size"] == 32 and meta["step"] == 100
    assert evaluate(generator, eval_batch(clips[1], cfg.eval_frames))["psnr"] == pytest.approx(
        metrics["psnr"]
    )
    assert not (tmp_path / "taft.ckpt").exists()


def test_resume_after_interruption_gives_the_same_model(clips, tmp_path, monkeypatch):
    overrides = {"epochs": 2, "steps_per_epoch": 6, "checkpoint_every": 4, "gan_weight": 0.5, "batch_size": 4}
    _train(clips, tmp_path / "straight", **overrides)

    original = TaftBatches.__getitem__

    def interrupted(self, step):
        if step == 9:
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(TaftBatches, "__getitem__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _train(clips, tmp_path / "resumed", **overrides)
    state = torch.load(tmp_path / "resumed" / "taft.ckpt", weights_only=False)
    assert state["step"] == 8 and state["discriminator"] is not None
    monkeypatch.setattr(TaftBatches, "__getitem__", original)
    _train(clips, tmp_path / "resumed", **overrides)

    a = torch.load(tmp_path / "straight" / "taft.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "taft.pt", weights_only=False)
    for key in ("generator", "generator_ema", "discriminator"):
        for name, value in a[key].items():
            torch.testing.assert_close(b[key][name], value, rtol=0, atol=1e-6, msg=f"{key}.{name}")
    assert a["step"] == b["step"] == 12


def test_loss_without_vgg_is_l1_plus_ssim():
    loss = TaftLoss(TaftConfig(), None)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    _, parts = loss(x, -x)
    assert set(parts) == {"l1", "ssim"} and parts["l1"] > 0


@pytest.mark.parametrize("kind", ["missing", "corrupt", "truncated", "other format"])
def test_a_bad_taft_file_gives_one_line_naming_it(tmp_path, kind):
    path = tmp_path / "taft.pt"
    if kind == "corrupt":
        path.write_bytes(np.random.default_rng(0).bytes(2000))
    elif kind == "truncated":
        torch.save({"format": "gsmoothface-taft-1", "weights": torch.zeros(1000)}, path)
        path.write_bytes(path.read_bytes()[:3000])
    elif kind == "other format":
        torch.save({"format": "gsmoothface-a2ep/2"}, path)
    with pytest.raises(MissingAssetError) as caught:
        load_generator(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)) and "train-taft" in message


KILL_PARAMS = {
    "base": {"seed": 0, "progress_every": 1000},
    "taft": TINY | {"epochs": 3, "steps_per_epoch": 10, "checkpoint_every": 3, "log_every": 1, "threads": 1},
}


def _train_taft_args(root: Path, run: str) -> list[str]:
    return [
        *("train-taft", "--blended", str(root / "blended"), "--model", str(root / run / "taft.pt")),
        *("--checkpoint", str(root / run / "taft.ckpt"), "--live", str(root / run / "live")),
        *("--params", str(root / "params.yaml")),
    ]


def _loss_rows(live: Path) -> list[str]:
    return (live / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()


def test_train_taft_resumes_exactly_after_a_kill(tmp_path):
    """A real SIGKILL mid-run, then the same command again: the same weights, metrics and rows."""

    import yaml
    from typer.testing import CliRunner

    from stages.cli import app
    from tests.launch import kill_after_checkpoint

    make_clips(tmp_path / "blended")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(KILL_PARAMS))
    result = CliRunner().invoke(app, _train_taft_args(tmp_path, "straight"))
    assert result.exit_code == 0, result.output

    killed = tmp_path / "killed"
    args = _train_taft_args(tmp_path, "killed")
    killed_at = kill_after_checkpoint(args, killed / "taft.ckpt", killed / "taft.pt")
    assert 0 < killed_at < 30
    live = tmp_path / "killed" / "live"
    # a kill can cut DVCLive's summary and its last row short
    (live / "metrics.json").write_text("{")
    with (live / "plots" / "metrics" / "train" / "loss.tsv").open("a") as fh:
        fh.write("17\t0.3")
    result = CliRunner().invoke(app, _train_taft_args(tmp_path, "killed"))
    assert result.exit_code == 0, result.output
    assert f"resuming TAFT from step {killed_at}" in result.output

    straight = torch.load(tmp_path / "straight" / "taft.pt", weights_only=False)
    resumed = torch.load(tmp_path / "killed" / "taft.pt", weights_only=False)
    for key in ("generator", "generator_ema"):
        for name, value in straight[key].items():
            torch.testing.assert_close(resumed[key][name], value, rtol=0, atol=0, msg=f"{key}.{name}")
    summary = {
        run: json.loads((tmp_path / run / "live" / "metrics.json").read_text())
        for run in ("straight", "killed")
    }
    assert summary["killed"]["eval"] == summary["straight"]["eval"]
    rows = _loss_rows(live)
    assert len(rows) == 31 and rows == _loss_rows(tmp_path / "straight" / "live")  # header + one per step
