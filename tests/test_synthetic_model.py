from pathlib import Path

import numpy as np
import pytest
import torch

from gsmoothface.errors import InputError
from gsmoothface.face_model import FaceModel
from gsmoothface.face_model.bfm_io import MODEL_KEYS, load_model_arrays
from gsmoothface.face_model.camera import LM3D_5
from gsmoothface.face_model.synthetic import (
    BLINK_CLOSED,
    EXP_BLINK,
    EXP_BROW_RAISE,
    EXP_JAW_OPEN,
    EXP_LIP_ROUND,
    EXP_LIP_STRETCH,
    EXP_SMILE,
    generate_synthetic_model,
    write_model,
)
from gsmoothface.landmarks.align import extract_5p

UPPER_LIP = [50, 51, 52, 61, 62, 63]  # 0-based iBUG: outer and inner upper-lip centre points
LOWER_LIP = [56, 57, 58, 65, 66, 67]


@pytest.fixture(scope="module")
def arrays():
    return generate_synthetic_model()


@pytest.fixture(scope="module")
def model(arrays):
    return FaceModel(arrays)


def shape_with(model, **components):
    exp = torch.zeros(1, 64)
    for index, value in components.items():
        exp[0, int(index)] = value
    return model.compute_shape(torch.zeros(1, 80), exp)[0].numpy()


def test_keys_shapes_and_one_based_ranges(arrays):
    assert set(arrays) == set(MODEL_KEYS)
    n = arrays["meanshape"].size // 3
    n_faces = len(arrays["tri"])
    assert 2000 < n < 8000
    assert arrays["meanshape"].shape == (1, 3 * n) and arrays["meantex"].shape == (1, 3 * n)
    assert arrays["idBase"].shape == (3 * n, 80) and arrays["texBase"].shape == (3 * n, 80)
    assert arrays["exBase"].shape == (3 * n, 64)
    assert arrays["tri"].min() == 1 and arrays["tri"].max() == n
    assert arrays["point_buf"].shape == (n, 8) and arrays["point_buf"].max() == n_faces + 1
    assert arrays["keypoints"].shape == (1, 68)
    assert arrays["meantex"].min() >= 0 and arrays["meantex"].max() <= 255
    skin = arrays["meantex"].reshape(-1, 3)[arrays["skinmask"][0] > 0].mean(0)
    assert skin[0] > skin[1] > skin[2]  # skin-like: red > green > blue


def test_round_trip_through_the_bfm_loader(tmp_path: Path, arrays):
    for name in ("front.npz", "front.mat"):
        write_model(tmp_path / name, arrays)
        loaded = load_model_arrays(tmp_path / name)
        for key in MODEL_KEYS:
            np.testing.assert_array_equal(np.asarray(loaded[key]).reshape(-1), arrays[key].reshape(-1))


def test_deterministic_and_seeded(arrays):
    again = generate_synthetic_model()
    assert all(np.array_equal(arrays[k], again[k]) for k in MODEL_KEYS)
    other = generate_synthetic_model(seed=1)
    assert not np.array_equal(arrays["idBase"], other["idBase"])
    assert np.array_equal(arrays["tri"], other["tri"])


@pytest.mark.parametrize("spacing", [0.01, 0.05])
def test_spacing_range_keeps_distinct_keypoints(spacing):
    arrays = generate_synthetic_model(spacing=spacing)
    assert len(np.unique(arrays["keypoints"])) == 68
    assert arrays["point_buf"].shape[1] == 8


def test_spacing_outside_the_range_is_a_params_error():
    with pytest.raises(InputError, match=r"face_model\.synthetic_spacing"):
        generate_synthetic_model(spacing=0.2)


def test_point_buf_lists_all_incident_faces(arrays):
    tri = arrays["tri"] - 1
    n_faces = len(tri)
    incident = [set() for _ in range(arrays["point_buf"].shape[0])]
    for f, face in enumerate(tri):
        for v in face:
            incident[v].add(f)
    for v, row in enumerate(arrays["point_buf"] - 1):
        real = row[row != n_faces]
        assert len(real) == len(set(real.tolist()))
        assert set(real.tolist()) == incident[v]


def test_faces_are_ccw_and_face_the_camera(arrays, model):
    v = arrays["meanshape"].reshape(-1, 3)
    tri = arrays["tri"] - 1
    area = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    assert np.all(np.linalg.norm(area, axis=1) > 1e-6)  # no degenerate faces
    assert np.all(area[:, 2] > 0)  # counter-clockwise seen from +z
    normals = model.compute_norm(model.mean_shape.reshape(1, -1, 3))[0]
    assert normals[model.front_mask_idx, 2].mean() > 0.6


def test_tri_mask2_is_local_to_frontmask2_idx(arrays):
    front = arrays["frontmask2_idx"].reshape(-1) - 1
    local = arrays["tri_mask2"] - 1
    assert local.max() < len(front)
    rows = {tuple(t) for t in (arrays["tri"] - 1).tolist()}
    assert all(tuple(t) in rows for t in front[local].tolist())


def test_keypoints_follow_the_ibug_layout(arrays, model):
    kp = model.keypoints.numpy()
    assert len(set(kp.tolist())) == 68
    pts = model.mean_shape.reshape(-1, 3).numpy()[kp]
    assert np.all(pts[:8, 0] < 0) and np.all(pts[9:17, 0] > 0)  # jaw runs image-left to right
    assert pts[8, 1] == pts[:, 1].min()  # chin lowest
    assert pts[30, 2] == pts[:, 2].max()  # nose tip closest to the camera
    five = extract_5p(pts[:, :2])
    np.testing.assert_allclose(five, np.array(LM3D_5)[:, :2], atol=0.05)


def test_jaw_open_parts_the_lips(model):
    rest = shape_with(model)[model.keypoints]
    open_ = shape_with(model, **{str(EXP_JAW_OPEN): 1.0})[model.keypoints]
    down_lower = rest[LOWER_LIP, 1] - open_[LOWER_LIP, 1]
    down_upper = rest[UPPER_LIP, 1] - open_[UPPER_LIP, 1]
    assert down_lower.min() > down_upper.max()
    gap = open_[62, 1] - open_[66, 1]  # inner lips at the centre
    assert 0.02 < gap < 0.06  # 2-6 mm for one unit
    assert np.allclose(rest[62], rest[66])  # closed at rest


def covered(shape, tri, point):
    """Whether the xy point lies inside any triangle of the mesh (CCW faces)."""
    a, b, c = (shape[tri[:, k], :2] for k in range(3))

    def edge(p, q):
        return (q[:, 0] - p[:, 0]) * (point[1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (point[0] - p[:, 0])

    return bool(((edge(a, b) >= 0) & (edge(b, c) >= 0) & (edge(c, a) >= 0)).any())


def test_open_mouth_is_a_hole_in_the_mesh(model):
    tri = model.face_buf.numpy()
    kp = model.keypoints.numpy()
    shape = shape_with(model, **{str(EXP_JAW_OPEN): 2.0})
    assert not covered(shape, tri, 0.5 * (shape[kp[62]] + shape[kp[66]]))
    rest = shape_with(model)
    assert covered(rest, tri, rest[kp[62]] + np.array([0.0, 0.03, 0.0]))  # the upper lip itself
    assert covered(rest, tri, rest[kp[66]] - np.array([0.0, 0.03, 0.0]))  # the lower lip itself


def test_named_expression_components(model):
    rest = shape_with(model)[model.keypoints]

    def moved(index, value=1.0):
        return shape_with(model, **{str(index): value})[model.keypoints] - rest

    corners = [48, 54]
    round_ = moved(EXP_LIP_ROUND)
    assert np.all(round_[corners, 0] * np.sign(rest[corners, 0]) < -0.001)  # corners inward
    assert round_[51, 2] > 0.005  # lips protrude
    stretch = moved(EXP_LIP_STRETCH)
    assert np.all(stretch[corners, 0] * np.sign(rest[corners, 0]) > 0.001)  # corners outward
    smile = moved(EXP_SMILE)
    assert np.all(smile[corners, 1] > 0.01)
    brow = moved(EXP_BROW_RAISE)
    assert np.all(brow[17:27, 1] > 0.01) and np.abs(brow[36:48]).max() < 0.003
    closed = rest + moved(EXP_BLINK, BLINK_CLOSED)
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        assert rest[upper, 1] - rest[lower, 1] > 0.03
        assert abs(closed[upper, 1] - closed[lower, 1]) < 0.012


def test_minor_expression_components_are_small(arrays):
    basis = arrays["exBase"].reshape(-1, 3, 64)
    peak = np.linalg.norm(basis, axis=1).max(0)  # (64,) largest vertex displacement per component
    assert peak[6:].max() < 0.5 * peak[:6].min()
    assert peak[6:].min() > 0  # the minor components are not empty


def test_mouth_mask_covers_mouth_and_chin_only(model):
    mask = model.mouth_mask.numpy()
    kp = model.keypoints.numpy()
    assert mask[kp[48:68]].all() and mask[kp[8]]
    assert not mask[kp[30]] and not mask[kp[36:48]].any() and not mask[kp[0]]
    assert 0.05 < mask.mean() < 0.4
