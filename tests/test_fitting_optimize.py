"""Optimisation fitter on synthetic problems with known truth (synthetic face model).

The helpers at the top build talking-head sequences (true coefficients -> landmarks with white
jitter and slow drift, renders) and are reused by the clip-level tests.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy import signal

from gsmoothface.face_model import FaceModel, FaceModelConfig, load_face_model
from gsmoothface.face_model.synthetic import EXP_JAW_OPEN
from gsmoothface.fitting import Fit3dmmConfig, fit_optimize
from gsmoothface.fitting.keypoints import KeypointModel, initial_pose
from gsmoothface.fitting.losses import (
    gamma_loss,
    landmark_loss,
    landmark_weights,
    photometric_loss,
    temporal_difference_loss,
)
from gsmoothface.render import MeshRenderer
from gsmoothface.render.cuda import nvdiffrast_available

FPS = 25
JAW = 80 + EXP_JAW_OPEN  # column of the jaw-open coefficient in the 257 vector


def small_model() -> FaceModel:
    """The synthetic model at a coarse grid (fast to render)."""
    return load_face_model(FaceModelConfig(synthetic_spacing=0.05))


def smooth_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    """Unit-variance low-passed white noise (T,)."""
    pad = int(2 * FPS / cutoff_hz)
    b, a = signal.butter(2, cutoff_hz / (FPS / 2))
    smooth = signal.filtfilt(b, a, rng.standard_normal(n + 2 * pad))
    return smooth[pad : pad + n] / smooth.std()


@dataclasses.dataclass
class Problem:
    coeff: torch.Tensor  # (T, 257) truth
    lm_true: torch.Tensor  # (T, 68, 2) noise-free, 224 px y down
    lm_noisy: torch.Tensor  # (T, 68, 2) with white jitter and slow drift


def talking_sequence(model: FaceModel, frames: int, seed: int = 0, noise_px: float = 0.5) -> Problem:
    """A talking head: fixed identity/texture, speech-rate jaw motion, slow head motion and light."""
    rng = np.random.default_rng(seed)
    c = np.zeros((frames, 257))
    c[:, 0:80] = rng.normal(0.0, 0.9, 80)
    c[:, 144:224] = rng.normal(0.0, 0.35, 80)
    c[:, JAW] = 3.0 * np.clip(0.35 + 0.45 * smooth_noise(rng, frames, 4.0), 0.0, 1.0)
    for k in range(81, 144):
        c[:, k] = 0.4 * smooth_noise(rng, frames, 1.0)
    c[:, 224] = 0.04 * smooth_noise(rng, frames, 0.6)
    c[:, 225] = 0.1 + 0.1 * smooth_noise(rng, frames, 0.6)
    c[:, 226] = 0.03 * smooth_noise(rng, frames, 0.4)
    c[:, 227:254] = np.tile(np.r_[0.1, rng.normal(0.0, 0.12, 3), rng.normal(0.0, 0.05, 5)], 3)
    c[:, 254] = 0.02 * smooth_noise(rng, frames, 0.3)
    coeff = torch.tensor(c, dtype=torch.float32)
    with torch.no_grad():
        lm_true = model.landmarks_224(coeff)
    drift = np.stack([smooth_noise(rng, frames, 0.3) for _ in range(136)], 1).reshape(frames, 68, 2)
    noise = noise_px * (rng.standard_normal((frames, 68, 2)) + drift)
    return Problem(coeff, lm_true, lm_true + torch.tensor(noise, dtype=torch.float32))


def render_frames(model: FaceModel, coeff: torch.Tensor, size: int, background: float = 0.35) -> torch.Tensor:
    """(T, size, size, 3) uint8 renders of the full mesh on a grey background, camera at ``size``."""
    with torch.no_grad():
        vertices, _, color, _ = model.compute_for_render(coeff)
        out = MeshRenderer(size=size, backend="cpu")(vertices, model.face_buf, color)
        image = out.image * out.mask + background * (1 - out.mask)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def image_error_against(
    model: FaceModel, truth: torch.Tensor, size: int = 112
) -> Callable[[torch.Tensor], float]:
    """A function of coefficients: mean absolute 8-bit error of their renders against the renders of
    ``truth`` (rendered once here), inside the true face."""
    images = render_frames(model, truth, size).float()
    inside = (render_frames(model, truth, size, background=0.0).float().sum(-1) > 0)[..., None]

    def error(coeff: torch.Tensor) -> float:
        rendered = render_frames(model, coeff, size).float()
        return float(((rendered - images).abs() * inside).sum() / inside.sum() / 3)

    return error


def jitter(x: torch.Tensor) -> float:
    """Mean norm of frame-to-frame differences of a (T, D) sequence."""
    return float(torch.diff(x, dim=0).norm(dim=-1).mean())


# ---------------------------------------------------------------------------------------------- tests


# small batched ops are latency-bound: one torch thread, as the stages run them
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return small_model()


@pytest.fixture(scope="module")
def problem(model) -> Problem:
    return talking_sequence(model, 60, seed=3)


FAST = Fit3dmmConfig(landmark_steps=200, photo_steps=0)


def test_losses_follow_deep3dface_definitions():
    weights = landmark_weights(20.0)
    assert weights.sum() == 68 - 11 + 11 * 20
    assert weights[28] == weights[67] == 20 and weights[27] == weights[59] == 1
    pred, target = torch.zeros(2, 68, 2), torch.zeros(2, 68, 2)
    target[0, 30] = torch.tensor([3.0, 4.0])  # 25 px^2 on an emphasised point
    assert torch.isclose(landmark_loss(pred, target, weights), torch.tensor(20 * 25 / (2 * 68)))
    rendered, image = torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    image[0, :, 0, 0] = torch.tensor([0.3, 0.4, 0.0])  # distance 0.5 on the one masked pixel
    mask = torch.zeros(1, 1, 2, 2)
    mask[0, 0, 0, 0] = 1
    assert torch.isclose(photometric_loss(rendered, image, mask), torch.tensor(0.5), atol=1e-5)
    assert gamma_loss(torch.ones(4, 27)) == 0  # monochromatic light is free
    assert gamma_loss(torch.rand(4, 27)) > 0
    ramp = torch.arange(10.0)[:, None].repeat(1, 3)
    assert temporal_difference_loss(ramp, 2) == 0 and temporal_difference_loss(ramp, 1) == 3


def test_keypoint_projection_matches_the_face_model(model, problem):
    c = model.split_coeff(problem.coeff)
    pred = KeypointModel(model).project(c["id"], c["exp"], c["angle"], c["trans"])
    assert torch.allclose(pred, problem.lm_true, atol=1e-3)


def test_initial_pose_recovers_head_rotation(model):
    coeff = torch.zeros(5, 257)
    coeff[:, 224:227] = torch.tensor(
        [[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, -0.2], [-0.1, -0.2, 0.1]]
    )
    coeff[:, 254:257] = torch.tensor([0.1, -0.05, 0.5])
    with torch.no_grad():
        angle, trans = initial_pose(KeypointModel(model), model.landmarks_224(coeff))
    assert (angle - coeff[:, 224:227]).abs().max() < 0.05
    assert (trans[:, :2] - coeff[:, 254:256]).abs().max() < 0.05


def test_landmark_fit_recovers_the_truth(model, problem):
    result = fit_optimize(model, problem.lm_noisy, FAST)
    with torch.no_grad():
        fitted = model.landmarks_224(result.coeff)
    error = (fitted - problem.lm_true).norm(dim=-1).mean()
    noise = (problem.lm_noisy - problem.lm_true).norm(dim=-1).mean()
    # The trivial baseline: the mean face at the pose guessed from the landmarks.
    baseline = fit_optimize(model, problem.lm_noisy, Fit3dmmConfig(landmark_steps=0, photo_steps=0))
    with torch.no_grad():
        baseline_error = (model.landmarks_224(baseline.coeff) - problem.lm_true).norm(dim=-1).mean()
    assert error < 1.0 and error < noise, (error, noise)
    assert error < 0.3 * baseline_error
    assert torch.allclose(result.residual, (fitted - problem.lm_noisy).norm(dim=-1).mean(-1), atol=1e-3)
    jaw = np.corrcoef(result.coeff[:, JAW].numpy(), problem.coeff[:, JAW].numpy())[0, 1]
    assert jaw > 0.9
    assert (result.coeff[:, 0:80] == result.coeff[:1, 0:80]).all()  # one identity per clip


def test_temporal_terms_reduce_expression_jitter(model, problem):
    smooth = fit_optimize(model, problem.lm_noisy, FAST)
    free = fit_optimize(
        model, problem.lm_noisy, dataclasses.replace(FAST, w_exp_smooth=0.0, w_pose_smooth=0.0)
    )
    true_jitter = jitter(problem.coeff[:, 80:144])
    assert jitter(smooth.coeff[:, 80:144]) <= 1.2 * true_jitter
    assert jitter(smooth.coeff[:, 80:144]) < 0.8 * jitter(free.coeff[:, 80:144])


def test_photometric_stage_fits_texture_and_light(model, problem):
    frames = 12
    truth = problem.coeff[:frames]
    images = render_frames(model, truth, 112)
    cfg = Fit3dmmConfig(landmark_steps=150, photo_steps=40, photo_batch=8, raster_every=5, lr=0.1)
    fitted = fit_optimize(model, problem.lm_true[:frames], cfg, images=images).coeff
    geometry_only = fit_optimize(
        model, problem.lm_true[:frames], dataclasses.replace(cfg, photo_steps=0)
    ).coeff

    image_error = image_error_against(model, truth)
    assert image_error(fitted) < 0.5 * image_error(geometry_only)
    # stage 2 moves texture and lighting only; the geometry is the landmark solution
    assert torch.equal(fitted[:, 80:144], geometry_only[:, 80:144])
    assert torch.equal(fitted[:, 224:227], geometry_only[:, 224:227])
    assert not torch.equal(fitted[:, 227:254], geometry_only[:, 227:254])


@pytest.mark.cuda
@pytest.mark.skipif(
    not nvdiffrast_available(), reason="needs a CUDA GPU and nvdiffrast (pip install 'gsmoothface[gpu]')"
)
def test_photometric_stage_on_cuda_matches_cpu(model, problem):
    frames = 12
    truth = problem.coeff[:frames]
    images = render_frames(model, truth, 112)
    cfg = Fit3dmmConfig(landmark_steps=150, photo_steps=40, photo_batch=8, raster_every=5, lr=0.1)
    cpu = fit_optimize(model, problem.lm_true[:frames], cfg, images=images, render_backend="cpu").coeff
    gpu_model = copy.deepcopy(model).to("cuda")
    gpu = fit_optimize(gpu_model, problem.lm_true[:frames], cfg, images=images, render_backend="cuda").coeff
    assert gpu.device.type == "cuda"
    gpu = gpu.cpu()
    image_error = image_error_against(model, truth)
    errors = {name: image_error(c) for name, c in (("cpu", cpu), ("cuda", gpu))}
    drift = {"exp": (gpu - cpu)[:, 80:144].abs().max(), "tex+light": (gpu - cpu)[:, 144:254].abs().max()}
    print(f"image error {errors}, max |cuda - cpu| {drift}")
    # the same landmark solution, then texture and light fitted through nvdiffrast as well as on CPU
    assert drift["exp"] < 1e-4
    assert errors["cuda"] < 1.1 * errors["cpu"] + 0.1
