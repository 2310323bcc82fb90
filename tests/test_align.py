from pathlib import Path

import numpy as np
import pytest
import torch

from gsmoothface.face_model.camera import LM3D_5
from gsmoothface.landmarks.align import (
    align_image,
    estimate_trans_params,
    estimate_trans_params_batch,
    extract_5p,
    points_from_crop,
    points_to_crop,
)

LM3D = np.array(LM3D_5)


def orthographic_5p(scale, t0, t1, height):
    """The five standard 3D points seen orthographically: y-down frame pixels (5, 2)."""
    x = scale * LM3D[:, 0] + t0
    y_up = scale * LM3D[:, 1] + t1
    return np.stack([x, (height - 1) - y_up], 1)


def reference_pos(lm5_yup):
    """POS as Deep3DFace writes it: per-point rows of A, lstsq, s = mean of the two row norms."""
    rows, rhs = [], []
    for (x, y), (big_x, big_y, big_z) in zip(lm5_yup, LM3D, strict=True):
        rows += [[big_x, big_y, big_z, 1, 0, 0, 0, 0], [0, 0, 0, 0, big_x, big_y, big_z, 1]]
        rhs += [x, y]
    k = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return (np.linalg.norm(k[0:3]) + np.linalg.norm(k[4:7])) / 2, k[3], k[7]


def test_extract_5p_order():
    lm = np.arange(68 * 2, dtype=np.float64).reshape(68, 2)
    five = extract_5p(np.stack([lm, lm + 1]))
    assert five.shape == (2, 5, 2)
    np.testing.assert_allclose(five[0, 0], (lm[36] + lm[39]) / 2)
    np.testing.assert_allclose(five[0, 1], (lm[42] + lm[45]) / 2)
    np.testing.assert_allclose(five[1, 2:], lm[[30, 48, 54]] + 1)


def test_pos_recovers_an_orthographic_projection():
    lm5 = orthographic_5p(scale=230.0, t0=260.0, t1=300.0, height=480)
    params = estimate_trans_params(lm5, 640, 480)
    np.testing.assert_allclose(params, [640, 480, 102 / 230, 260, 300], rtol=1e-9)
    assert params.dtype == np.float64
    # the five points land on their standard crop positions 112 + 102 * (X, Y), y flipped
    crop = points_to_crop(lm5, params)
    expected = np.stack([112 + 102 * LM3D[:, 0], 223 - (112 + 102 * LM3D[:, 1])], 1)
    np.testing.assert_allclose(crop, expected, atol=1.0)


def test_pos_matches_the_reference_least_squares_on_noisy_68_points():
    rng = np.random.default_rng(0)
    lm68 = rng.uniform(100, 400, size=(68, 2))
    params = estimate_trans_params(lm68, 512, 512)
    lm5 = extract_5p(lm68)
    s_pos, t0, t1 = reference_pos(np.stack([lm5[:, 0], 511 - lm5[:, 1]], 1))
    np.testing.assert_allclose(params, [512, 512, 102 / s_pos, t0, t1], rtol=1e-9)


def test_batch_equals_single_frames():
    rng = np.random.default_rng(1)
    lm = rng.uniform(50, 250, size=(7, 68, 2))
    batch = estimate_trans_params_batch(lm, 300, 280)
    assert batch.shape == (7, 5)
    for t in range(7):
        np.testing.assert_allclose(batch[t], estimate_trans_params(lm[t], 300, 280), rtol=1e-12)


def test_crop_and_back_returns_the_points():
    rng = np.random.default_rng(2)
    lm = rng.uniform(100, 400, size=(5, 68, 2))
    params = estimate_trans_params_batch(lm, 512, 512)
    crop = points_to_crop(lm, params)  # (5, 68, 2) with (5, 5) params
    assert crop.shape == lm.shape and crop.dtype == np.float64
    np.testing.assert_allclose(points_from_crop(crop, params), lm, atol=1e-9)
    single = points_to_crop(lm[3], params[3])
    np.testing.assert_allclose(single, crop[3])
    np.testing.assert_allclose(points_from_crop(points_to_crop(lm[1], params[1], 512), params[1], 512), lm[1])


@pytest.mark.parametrize("size", [224, 256])
def test_aligned_image_puts_a_blob_where_the_points_say(size):
    height, width = 360, 420
    lm5 = orthographic_5p(scale=180.0, t0=200.0, t1=190.0, height=height)
    params = estimate_trans_params(lm5, width, height)
    centre = np.array([231.3, 142.6])  # x, y-down
    yy, xx = np.mgrid[0:height, 0:width]
    blob = 255 * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * 6.0**2))
    img = np.repeat(blob[..., None], 3, axis=2).astype(np.uint8)
    crop = align_image(img, params, size=size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    weight = crop[..., 0].astype(np.float64)
    cy, cx = np.mgrid[0:size, 0:size]
    found = np.array([(weight * cx).sum(), (weight * cy).sum()]) / weight.sum()
    np.testing.assert_allclose(found, points_to_crop(centre, params, size=size), atol=1.0)


def test_outside_the_frame_is_zero_padded():
    img = np.full((100, 100, 3), 200, np.uint8)
    params = np.array([100.0, 100.0, 1.0, 20.0, 80.0])  # crop centred on frame pixel (20, 19)
    crop = align_image(img, params)
    assert crop[:80].max() == 0 and crop[:, :80].max() == 0  # above and left of the frame
    assert crop[100:180, 100:180].min() == 200  # frame pixels (8..88, 7..87)


def test_wrong_image_size_is_refused():
    with pytest.raises(ValueError, match="trans_params"):
        align_image(np.zeros((50, 60, 3), np.uint8), np.array([100.0, 100.0, 1.0, 50.0, 50.0]))


REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"


@pytest.mark.skipif(not (REAL / "photo01_woman_frontal.jpg").is_file(), reason="real test media absent")
def test_real_photo_aligns_onto_the_mean_face():
    from PIL import Image

    from gsmoothface.face_model import FaceModelConfig, load_face_model

    img = np.asarray(Image.open(REAL / "photo01_woman_frontal.jpg").convert("RGB"))
    lm5 = np.loadtxt(REAL / "photo01_woman_frontal.5pt.txt")
    params = estimate_trans_params(lm5, img.shape[1], img.shape[0])
    crop = align_image(img, params)
    assert crop.shape == (224, 224, 3) and crop[80:170, 60:170].mean() > 40  # the face fills the centre
    # alignment removes scale and translation (not rotation): the aligned 5 points have about the
    # centre and the size of the zero-pose mean face's (rescale 102 ~ focal / camera distance)
    model = load_face_model(FaceModelConfig())
    mean_face = extract_5p(model.landmarks_224(torch.zeros(1, 257))[0].numpy())
    aligned = points_to_crop(lm5, params)
    # POS also fits the points' depth, so head pitch moves the 2D centre a few pixels
    np.testing.assert_allclose(aligned.mean(0), mean_face.mean(0), atol=10.0)

    def spread(p):
        return np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean())

    assert abs(spread(aligned) / spread(mean_face) - 1) < 0.1
