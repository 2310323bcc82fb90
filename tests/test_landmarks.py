"""Landmark sources: sidecar replay, gap interpolation, dlib on real faces, FAN weight loading."""

from pathlib import Path

import numpy as np
import pytest

from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.landmarks import interpolate_invalid, open_landmark_source, read_sidecar

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
HDTF = REAL / "video02_ocasio-cortez_hdtf_25fps.mp4"


def test_interpolate_invalid_linear_and_edge_hold():
    t = np.arange(6, dtype=np.float32)
    lm = np.repeat((t[:, None, None] * np.ones((1, 68, 2))).astype(np.float32), 1, axis=0)
    valid = np.array([False, True, False, False, True, False])
    lm[~valid] = np.nan
    out = interpolate_invalid(lm, valid)
    assert np.allclose(out[:, 0, 0], [1, 1, 2, 3, 4, 4])
    with pytest.raises(InputError, match="no face"):
        interpolate_invalid(lm, np.zeros(6, bool))


def test_sidecar_replays_consecutive_frames(tmp_path):
    lm = np.random.default_rng(0).uniform(0, 100, (5, 68, 2)).astype(np.float32)
    valid = np.array([True, True, False, True, True])
    np.savez(tmp_path / "landmarks.npz", lm68=lm, valid=valid)
    source = open_landmark_source("sidecar", tmp_path)
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    a, va = source.detect(frames)
    b, vb = source.detect(frames[:2])
    assert np.allclose(a[:2], lm[:2]) and np.isnan(a[2]).all() and list(va) == [True, True, False]
    assert np.allclose(b, lm[3:]) and vb.all()
    with pytest.raises(InputError, match="5 frames"):
        source.detect(frames[:1])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a landmark sidecar"):
        read_sidecar(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="unknown landmark source"):
        open_landmark_source("mediapipe", tmp_path)


def test_fan_missing_weights_names_file_and_url(tmp_path):
    with pytest.raises(MissingAssetError, match=r"2DFAN4-11f355bf06\.pth\.tar.*https://"):
        open_landmark_source("fan", fan_weights=tmp_path)


def test_fan_loads_local_checkpoints_and_runs(tmp_path):
    """Randomly initialised FAN/S3FD saved in face-alignment's checkpoint format load and run."""
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    from gsmoothface.landmarks.fan import FAN_FILE, S3FD_FILE

    torch.manual_seed(0)
    torch.save(FAN(4).state_dict(), tmp_path / FAN_FILE)
    torch.save(s3fd().state_dict(), tmp_path / S3FD_FILE)
    source = open_landmark_source("fan", fan_weights=tmp_path / FAN_FILE)
    frames = np.random.default_rng(0).integers(0, 255, (1, 64, 80, 3), dtype=np.uint8)
    lm, valid = source.detect(frames)
    assert lm.shape == (1, 68, 2) and lm.dtype == np.float32 and valid.shape == (1,)
    assert valid.all()  # an untrained S3FD scores about half its anchors as faces, so FAN runs
    assert np.isfinite(lm).all()
    torch.save({"wrong": torch.zeros(1)}, tmp_path / FAN_FILE)
    with pytest.raises(InputError, match="not FAN"):
        open_landmark_source("fan", fan_weights=tmp_path)


def test_heatmap_peaks_map_back_to_frame_pixels():
    """A Gaussian peak at a known heatmap position decodes to the matching frame pixel."""
    from gsmoothface.landmarks.fan import heatmap_peaks

    yy, xx = np.mgrid[0:64, 0:64]
    peaks = np.array([[20.0, 30.0], [40.3, 12.7]])  # (x, y) in heatmap cells, cell centres at .5
    hm = np.stack([np.exp(-((xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2) / 4.0) for x, y in peaks])
    centers, scales = np.array([[300.0, 200.0]]), np.array([1.28])  # crop side 256 frame px
    out = heatmap_peaks(hm[None].astype(np.float32), centers, scales)[0, :2]
    expected = peaks * 256 / 64 + centers[0] - 128
    assert np.abs(out - expected).max() <= 0.5 * 256 / 64  # within half a heatmap cell


@pytest.fixture(scope="module")
def hdtf_landmarks():
    if not HDTF.is_file():
        pytest.skip(f"real test media not found at {REAL}")
    from gsmoothface.media import read_frames

    frames = read_frames(HDTF)
    lm, valid = open_landmark_source("dlib").detect(frames)
    return frames, lm, valid


def test_dlib_finds_68_points_on_real_hdtf_frames(hdtf_landmarks):
    frames, lm, valid = hdtf_landmarks
    assert lm.shape == (len(frames), 68, 2)
    assert valid.mean() >= 0.95
    pts = lm[valid]
    left_eye, right_eye = pts[:, 36:42].mean(1), pts[:, 42:48].mean(1)
    nose, mouth = pts[:, 30], pts[:, 48:68].mean(1)
    # iBUG order and anatomy: the subject's right eye is on the image left; eyes above nose above mouth
    assert (left_eye[:, 0] < right_eye[:, 0]).all()
    assert (np.maximum(left_eye[:, 1], right_eye[:, 1]) < nose[:, 1]).all() and (
        nose[:, 1] < mouth[:, 1]
    ).all()
    iod = np.linalg.norm(right_eye - left_eye, axis=1)
    assert 80 < np.median(iod) < 160  # the face is about 285 px wide in this 590 px crop
    centre = pts.reshape(-1, 2).mean(0)
    assert np.all(np.abs(centre - 295) < 60)  # the HDTF crop is centred on the face
    jitter = np.median(np.linalg.norm(np.diff(pts, axis=0), axis=2))
    assert jitter < 5.0  # px per frame (under 2% of the face): a talking head, not noise
