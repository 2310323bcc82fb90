"""Metric implementations against known values: scikit-image, hand-computed examples, orderings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gsmoothface.evaluation.cpbd import cpbd, cpbd_frames
from gsmoothface.evaluation.image_metrics import mean_finite, psnr, ssim
from gsmoothface.evaluation.motion_metrics import (
    expression_error,
    expression_vertices,
    jaw_open,
    landmark_distance,
    lip_vertex_error,
    lmd,
)


@pytest.fixture(scope="module")
def image_pair() -> tuple[np.ndarray, np.ndarray]:
    """A real photograph and a noisy, slightly blurred copy (both uint8, 160x200x3)."""
    rng = np.random.default_rng(0)
    sharp = data.astronaut()[40:200, 150:350]
    noisy = ndimage.gaussian_filter(sharp.astype(np.float64), sigma=(0.8, 0.8, 0))
    noisy = np.clip(noisy + rng.normal(0, 6, noisy.shape), 0, 255).astype(np.uint8)
    return sharp, noisy


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    out = ndimage.gaussian_filter(img.astype(np.float64), sigma=(sigma, sigma, 0))
    return np.clip(out, 0, 255).astype(np.uint8)


def test_psnr_matches_skimage(image_pair):
    a, b = image_pair
    expected = peak_signal_noise_ratio(a, b, data_range=255)
    assert psnr(b, a)[0] == pytest.approx(expected, abs=1e-9)
    batch = psnr(np.stack([b, a]), np.stack([a, a]))
    assert batch[0] == pytest.approx(expected, abs=1e-9)
    assert np.isinf(batch[1])
    assert mean_finite(batch) == pytest.approx(expected)


def test_ssim_matches_skimage_uniform_window(image_pair):
    a, b = image_pair
    expected = structural_similarity(a, b, channel_axis=2, data_range=255)
    assert 0.3 < expected < 0.99  # a non-trivial pair
    assert ssim(b, a)[0] == pytest.approx(expected, abs=1e-9)
    expected_9 = structural_similarity(a, b, channel_axis=2, data_range=255, win_size=9)
    assert ssim(b, a, win_size=9)[0] == pytest.approx(expected_9, abs=1e-9)


def test_ssim_matches_skimage_gaussian_window(image_pair):
    a, b = image_pair
    expected = structural_similarity(
        a, b, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(b, a, gaussian_weights=True)[0] == pytest.approx(expected, abs=1e-9)


def test_ssim_batch_and_identity(image_pair):
    a, b = image_pair
    values = ssim(np.stack([a, b, _blur(a, 3.0), a, b]), np.stack([a, a, a, a, a]))  # > SSIM_BATCH frames
    assert values[0] == pytest.approx(1.0, abs=1e-12)
    assert values[1] > values[2]  # mild noise is closer than a heavy blur
    np.testing.assert_array_equal(values[3:], values[:2])  # batches of frames split and rejoined


def test_cpbd_orders_sharp_above_blurred():
    sharp = data.astronaut()
    scores = cpbd_frames(np.stack([sharp, _blur(sharp, 0.7), _blur(sharp, 1.5), _blur(sharp, 3.0)]))
    assert np.all(np.diff(scores) < 0), scores
    assert scores[0] > 0.2
    assert cpbd(np.full((128, 128, 3), 90, np.uint8)) == 0.0  # no edge at all


def test_lmd_zero_for_identical_and_shift_distance():
    rng = np.random.default_rng(1)
    lm = rng.uniform(0, 512, size=(10, 68, 2)).astype(np.float32)
    assert lmd(lm, lm) == 0.0
    shifted = lm + np.array([3.0, 4.0], np.float32)  # a 5 px shift of every point
    assert lmd(shifted, lm) == pytest.approx(5.0, abs=1e-4)
    assert lmd(shifted, lm, center=True) == pytest.approx(0.0, abs=1e-4)
    # only the mouth counts: moving the eyes changes nothing
    eyes_moved = lm.copy()
    eyes_moved[:, 36:48] += 50.0
    assert lmd(eyes_moved, lm) == 0.0
    # one mouth point moved by 20 px in frame 0 only: (20 / 20 points) / 10 frames
    one = lm.copy()
    one[0, 50, 0] += 20.0
    per_frame = landmark_distance(one, lm)
    assert per_frame[0] == pytest.approx(1.0, abs=1e-4)
    assert lmd(one, lm) == pytest.approx(0.1, abs=1e-5)


def test_lip_vertex_error_hand_computed():
    true = np.zeros((2, 3, 3))
    pred = np.zeros((2, 3, 3))
    pred[0, 0] = [3.0, 4.0, 0.0]  # frame 0: errors 5, 0, 1 -> max 5
    pred[0, 2] = [0.0, 0.0, 1.0]
    pred[1, 1] = [1.0, 2.0, 2.0]  # frame 1: errors 0, 3, 0 -> max 3
    assert lip_vertex_error(pred, true) == pytest.approx(4.0)  # (5 + 3) / 2


def test_expression_error_and_vertices():
    pred = np.array([[3.0, 4.0], [0.0, 0.0]])
    true = np.zeros((2, 2))
    assert expression_error(pred, true) == pytest.approx(2.5)
    # 2 vertices, 2 coefficients: vertex 1 moves along y with coefficient 0, along z with 1
    exp_base = np.zeros((6, 2))
    exp_base[4, 0] = 2.0
    exp_base[5, 1] = -1.0
    offsets = expression_vertices(exp_base, np.array([[1.0, 3.0]]), np.array([1]))
    np.testing.assert_allclose(offsets, [[[0.0, 2.0, -3.0]]])


def test_jaw_open_grows_with_lower_lip_drop():
    mean_points = np.array([[0.0, 0.1, 1.0], [0.0, 0.0, 1.0]])  # upper inner lip above the lower one
    offsets = np.zeros((3, 2, 3))
    offsets[1, 1, 1] = -0.2
    offsets[2, 1, 1] = -0.5
    np.testing.assert_allclose(jaw_open(offsets, mean_points), [0.1, 0.3, 0.6])


def test_syncnet_matches_syncnet_v2_layout(tmp_path):
    import torch

    from gsmoothface.errors import MissingAssetError
    from gsmoothface.evaluation.syncnet import SyncNet, load_syncnet

    torch.manual_seed(0)
    state = SyncNet().state_dict()
    # a few entries of the public syncnet_v2.model state dict and their shapes
    expected = {
        "netcnnaud.0.weight": (64, 1, 3, 3),
        "netcnnaud.18.weight": (512, 256, 5, 4),
        "netcnnaud.19.running_var": (512,),
        "netfcaud.3.weight": (1024, 512),
        "netcnnlip.0.weight": (96, 3, 5, 7, 7),
        "netcnnlip.4.weight": (256, 96, 1, 5, 5),
        "netcnnlip.18.weight": (512, 256, 1, 6, 6),
        "netfclip.1.running_mean": (512,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    path = tmp_path / "syncnet_v2.model"
    torch.save(state, path)
    model = load_syncnet(path)
    with torch.no_grad():
        assert model.forward_aud(torch.randn(2, 1, 13, 20)).shape == (2, 1024)
        assert model.forward_lip(torch.rand(1, 3, 5, 224, 224) * 255).shape == (1, 1024)
    del state["netfclip.3.bias"]
    torch.save(state, path)
    with pytest.raises(MissingAssetError, match="syncnet_v2"):
        load_syncnet(path)
    with pytest.raises(MissingAssetError, match=r"evaluate\.syncnet_weights"):
        load_syncnet(None)


def test_sync_scores_find_a_known_offset():
    import torch

    from gsmoothface.evaluation.syncnet import sync_scores

    torch.manual_seed(0)
    audio = torch.randn(80, 16)
    video = torch.roll(audio, shifts=-3, dims=0)  # video window i matches audio window i + 3
    scores = sync_scores(video[:70], audio[:70], vshift=5)
    assert scores.offset == -3
    assert scores.lse_d < 0.05 * scores.lse_c  # only the 3 edge windows that fall off the end differ


def test_mfcc_frames_and_energy():
    from gsmoothface.evaluation.syncnet import mfcc

    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, 16000)
    ceps = mfcc(audio)
    assert ceps.shape == (99, 13)  # 1 + ceil((16000 - 400) / 160) frames of 25 ms every 10 ms
    emphasised = np.append(audio[0], audio[1:] - 0.97 * audio[:-1])
    frame = emphasised[160:560]
    energy = (np.abs(np.fft.rfft(frame, 512)) ** 2 / 512).sum()
    assert ceps[1, 0] == pytest.approx(np.log(energy))
    loud = mfcc(audio * 10)
    np.testing.assert_allclose(loud[:, 0] - ceps[:, 0], 2 * np.log(10), atol=1e-9)


def test_evaluate_sync_runs_on_frames_and_audio():
    import torch

    from gsmoothface.evaluation.syncnet import SyncNet, evaluate_sync

    torch.manual_seed(0)
    model = SyncNet().eval()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(14, 48, 48, 3), dtype=np.uint8)
    audio = rng.normal(0, 0.1, 14 * 640).astype(np.float32)
    scores = evaluate_sync(model, frames, audio, vshift=2, batch=4)  # 9 windows of 5 frames
    assert np.isfinite(scores.lse_d) and scores.lse_c >= 0 and -2 <= scores.offset <= 2
    with pytest.raises(ValueError, match="too short"):
        evaluate_sync(model, frames[:8], audio, vshift=2)


class _LoudnessSyncNet(torch.nn.Module):
    """A stand-in SyncNet whose lip embedding is each window's frame brightness and whose audio
    embedding is its loudness (MFCC c0, 4 per video frame), both standardised: aligned windows agree."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives evaluate_sync a device

    @staticmethod
    def _standardise(x: torch.Tensor) -> torch.Tensor:
        return (x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True)

    def forward_lip(self, clips: torch.Tensor) -> torch.Tensor:  # (b, 3, 5, H, W) -> (b, 5)
        return self._standardise(clips.mean(dim=(1, 3, 4)))

    def forward_aud(self, mf: torch.Tensor) -> torch.Tensor:  # (b, 1, 13, 20) -> (b, 5)
        return self._standardise(mf[:, 0, 0].reshape(len(mf), 5, 4).mean(dim=2))


@pytest.mark.parametrize("lag", [3, -2, 0])
def test_evaluate_sync_finds_the_offset_of_shifted_audio(lag):
    from gsmoothface.evaluation.syncnet import evaluate_sync

    rng = np.random.default_rng(1)
    n_frames = 60
    loudness = rng.uniform(-3.0, 0.0, n_frames + 10)  # log10 amplitude per video frame
    noise = rng.normal(0, 1, (n_frames, 640))
    # the audio of frame t is as loud as the face of frame t + lag is bright: audio leads by `lag`
    audio = (10 ** loudness[5 + lag : 5 + lag + n_frames, None] * noise).reshape(-1).astype(np.float32)
    brightness = (255 * (loudness[5 : 5 + n_frames] + 3.0) / 3.0).round().astype(np.uint8)
    frames = np.broadcast_to(brightness[:, None, None, None], (n_frames, 8, 8, 3)).copy()
    scores = evaluate_sync(_LoudnessSyncNet(), frames, audio, vshift=5, batch=16)
    assert scores.offset == lag
    assert scores.lse_c > 0.5


@pytest.mark.parametrize("gaussian", [False, True])
def test_ssim_against_one_truth_matches_ssim_in_float64(gaussian):
    from gsmoothface.evaluation.image_metrics import ssim, ssim_against

    rng = np.random.default_rng(3)
    true = rng.integers(0, 256, (5, 40, 48, 3), dtype=np.uint8)
    flat = np.full_like(true, 200)  # flat frames: variances near zero, the float32 danger zone
    noisy = np.clip(true.astype(int) + rng.integers(-30, 31, true.shape), 0, 255).astype(np.uint8)
    result = ssim_against({"noisy": noisy, "flat": flat, "same": true}, true, gaussian_weights=gaussian)
    for name, frames in (("noisy", noisy), ("flat", flat), ("same", true)):
        expected = ssim(frames, true, gaussian_weights=gaussian)
        np.testing.assert_allclose(result[name], expected, rtol=0, atol=1e-4, err_msg=name)
    assert result["same"].min() > 0.9999 and result["noisy"].max() < 0.99
