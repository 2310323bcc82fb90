import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.face_model import FaceModel, FaceModelConfig, load_face_model
from gsmoothface.face_model.bfm_io import load_model_arrays, write_model
from gsmoothface.face_model.camera import CAMERA_DISTANCE, CENTER, FOCAL
from gsmoothface.face_model.synthetic import generate_synthetic_model


@pytest.fixture(scope="module")
def arrays():
    return generate_synthetic_model(seed=3)


@pytest.fixture(scope="module")
def model(arrays):
    return FaceModel(arrays)


def random_coeff(batch, seed=0, scale=0.3):
    gen = torch.Generator().manual_seed(seed)
    coeff = torch.randn(batch, 257, generator=gen) * scale
    coeff[:, 224:227] *= 0.5  # moderate head rotations
    return coeff


def test_zero_coefficients_give_recentred_mean_shape(arrays):
    shifted = dict(
        arrays, meanshape=arrays["meanshape"] + np.tile([0.5, -0.25, 1.0], arrays["meanshape"].size // 3)
    )
    model = FaceModel(shifted)
    zero = torch.zeros(2, 257)
    shape = model.compute_shape(zero[:, :80], zero[:, 80:144])
    expected = arrays["meanshape"].reshape(-1, 3) - arrays["meanshape"].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(shape[1].numpy(), expected, atol=1e-5)
    vertices_cam, *_ = model.compute_for_render(zero)
    np.testing.assert_allclose(vertices_cam[0, :, 2].numpy(), CAMERA_DISTANCE - expected[:, 2], atol=1e-5)


def test_known_rotation_moves_vertex_as_the_formula_says(model):
    # yaw +90 degrees: R = Ry(pi/2) maps (x, y, z) to (z, y, -x) in column form V = R S.
    angle = torch.tensor([[0.0, math.pi / 2, 0.0]])
    vertex = torch.tensor([[[0.3, -0.2, 0.5]]])
    moved = model.transform(vertex, model.compute_rotation(angle), torch.zeros(1, 3))
    np.testing.assert_allclose(moved[0, 0].numpy(), [0.5, -0.2, -0.3], atol=1e-6)
    # general angles: R = Rz(roll) Ry(yaw) Rx(pitch) is the extrinsic x-y-z rotation
    angles = np.array([[0.3, -0.5, 0.2], [-0.1, 0.7, -0.4]])
    rot_t = model.compute_rotation(torch.tensor(angles, dtype=torch.float32)).numpy()
    for a, r in zip(angles, rot_t, strict=True):
        np.testing.assert_allclose(r.T, Rotation.from_euler("xyz", a).as_matrix(), atol=1e-6)


def test_landmarks_project_to_the_analytic_pixel(model):
    coeff = torch.zeros(1, 257)
    coeff[0, 80] = 1.0  # some expression, so the keypoints are not just the mean shape's
    coeff[0, 254:257] = torch.tensor([0.1, -0.2, 0.3])
    shape = model.compute_shape(coeff[:, :80], coeff[:, 80:144])[0, model.keypoints].numpy()
    x, y, z = shape[:, 0] + 0.1, shape[:, 1] - 0.2, shape[:, 2] + 0.3
    u = FOCAL * x / (CAMERA_DISTANCE - z) + CENTER
    v = FOCAL * y / (CAMERA_DISTANCE - z) + CENTER
    _, _, _, lm_yup = model.compute_for_render(coeff)
    np.testing.assert_allclose(lm_yup[0].numpy(), np.stack([u, v], 1), atol=1e-3)
    np.testing.assert_allclose(model.landmarks_224(coeff)[0].numpy(), np.stack([u, 223 - v], 1), atol=1e-3)
    # with zero pose the nose tip of the mean face sits near the crop centre
    assert np.abs(model.landmarks_224(torch.zeros(1, 257))[0, 30].numpy() - 112).max() < 8


def test_sh_with_zero_gamma_is_ambient(model):
    coeff = random_coeff(2)
    coeff[:, 227:254] = 0
    _, albedo, color, _ = model.compute_for_render(coeff)
    ambient = 0.8 * math.pi / math.sqrt(4 * math.pi)
    assert abs(ambient - 0.709) < 1e-3
    np.testing.assert_allclose(color.numpy(), ambient * albedo.numpy(), rtol=1e-5, atol=1e-6)


def test_sh_first_order_terms_follow_the_normal(model):
    coeff = random_coeff(1, seed=1)
    coeff[:, 227:254] = 0
    coeff[0, 227 + 2] = 0.2  # red channel, z term
    coeff[0, 227 + 9 + 3] = -0.1  # green channel, -x term
    _, albedo, color, _ = model.compute_for_render(coeff)
    c = model.split_coeff(coeff)
    normals = model.compute_norm(model.compute_shape(c["id"], c["exp"])) @ model.compute_rotation(c["angle"])
    sqrt_pi = math.sqrt(math.pi)
    ambient = 0.8 * 0.5 / sqrt_pi * math.pi
    red = (ambient + 0.2 * sqrt_pi * normals[0, :, 2]) * albedo[0, :, 0]
    green = (ambient + 0.1 * sqrt_pi * normals[0, :, 0]) * albedo[0, :, 1]
    np.testing.assert_allclose(color[0, :, 0].numpy(), red.numpy(), atol=1e-5)
    np.testing.assert_allclose(color[0, :, 1].numpy(), green.numpy(), atol=1e-5)


def test_normals_sum_all_incident_face_normals(model, arrays):
    shape = model.compute_shape(torch.zeros(1, 80), torch.randn(1, 64) * 0.5)
    v = shape[0].double().numpy()
    tri = arrays["tri"].astype(np.int64) - 1
    face_n = np.cross(v[tri[:, 0]] - v[tri[:, 1]], v[tri[:, 1]] - v[tri[:, 2]])
    face_n /= np.linalg.norm(face_n, axis=1, keepdims=True)
    vertex_n = np.zeros_like(v)
    for k in range(3):
        np.add.at(vertex_n, tri[:, k], face_n)
    vertex_n /= np.linalg.norm(vertex_n, axis=1, keepdims=True)
    np.testing.assert_allclose(model.compute_norm(shape)[0].numpy(), vertex_n, atol=1e-4)


def test_expression_offsets_match_compute_shape(model):
    exp = torch.randn(2, 3, 64)
    offsets = model.expression_offsets(exp)
    assert offsets.shape == (2, 3, model.n_vertices, 3)
    full = model.compute_shape(torch.zeros(3, 80), exp[1]) - model.mean_shape.reshape(-1, 3)
    np.testing.assert_allclose(offsets[1].numpy(), full.numpy(), atol=1e-5)


def test_split_coeff_layout(model):
    coeff = torch.arange(257, dtype=torch.float32)[None]
    parts = model.split_coeff(coeff)
    assert [int(parts[k][0, 0]) for k in ("id", "exp", "tex", "angle", "gamma", "trans")] == [
        0,
        80,
        144,
        224,
        227,
        254,
    ]
    with pytest.raises(ValueError):
        model.split_coeff(torch.zeros(1, 260))


def test_load_face_model_synthetic_and_file(tmp_path: Path, arrays):
    synthetic = load_face_model(FaceModelConfig(synthetic_seed=3))
    assert torch.equal(synthetic.id_base, FaceModel(arrays).id_base)
    path = tmp_path / "front.npz"
    write_model(path, arrays)
    loaded = load_face_model(FaceModelConfig(path=path))
    assert torch.equal(loaded.face_buf, synthetic.face_buf)
    assert torch.equal(loaded.mouth_mask, synthetic.mouth_mask)


def test_missing_model_file_names_key_and_converter(tmp_path: Path):
    with pytest.raises(MissingAssetError) as info:
        load_face_model(FaceModelConfig(path=tmp_path / "BFM_model_front.mat"))
    message = str(info.value)
    assert "BFM_model_front.mat" in message and "face_model.path" in message and "convert-bfm" in message


def test_bad_model_file_names_the_key(tmp_path: Path, arrays):
    bad = dict(arrays, keypoints=arrays["keypoints"].copy())
    bad["keypoints"][0, 5] = arrays["meanshape"].size  # beyond N
    path = tmp_path / "bad.npz"
    np.savez(path, **bad)
    with pytest.raises(InputError, match="keypoints"):
        load_model_arrays(path)


def test_model_is_batched_and_float32(model):
    coeff = random_coeff(3, seed=2)
    outs = model.compute_for_render(coeff)
    assert [tuple(o.shape) for o in outs] == [
        (3, model.n_vertices, 3),
        (3, model.n_vertices, 3),
        (3, model.n_vertices, 3),
        (3, 68, 2),
    ]
    assert all(o.dtype == torch.float32 for o in outs)
    single = model.compute_for_render(coeff[1:2])
    np.testing.assert_allclose(single[2][0].numpy(), outs[2][1].numpy(), atol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_model_moves_to_cuda(model):
    coeff = random_coeff(2)
    cpu = model.compute_for_render(coeff)[2]
    gpu = model.to("cuda").compute_for_render(coeff.cuda())[2].cpu()
    model.to("cpu")
    np.testing.assert_allclose(gpu.numpy(), cpu.numpy(), atol=1e-4)
