"""``gsmoothface score``: the pure metrics on synthetic faces, the command on a real video, the errors."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gsmoothface.evaluation.score import (
    PSNR_CAP_DB,
    face_box,
    frame_metrics,
    jaw_band_mask,
    jaw_band_width,
    mouth_lmd_percent,
    pearson,
    score_frames,
)
from stages.cli import app

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
VIDEO08 = REAL / "video08_hill_hdtf_mpeg4_8s.mp4"
SIDE = 128  # synthetic frame side, px
IOD = 40.0  # inter-ocular distance of the synthetic face, px


def synthetic_face(opening: float = 4.0) -> np.ndarray:
    """(68, 2) iBUG-68 points of a frontal face in a 128 px frame: eye centres 40 px apart, a U-shaped
    jaw, the inner lips ``opening`` px apart."""
    lm = np.zeros((68, 2))
    theta = np.linspace(np.pi, 0, 17)
    lm[0:17] = np.stack([64 + 44 * np.cos(theta), 40 + 70 * np.sin(theta)], axis=1)  # jaw, chin at y 110
    lm[17:27] = np.stack([np.linspace(30, 98, 10), np.full(10, 30)], axis=1)  # brows
    lm[27:36] = np.stack([np.full(9, 64), np.linspace(40, 70, 9)], axis=1)  # nose
    ring = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    for start, cx in ((36, 44), (42, 84)):  # eyes: 6 points around (44, 45) and (84, 45)
        lm[start : start + 6] = np.stack([cx + 6 * np.cos(ring), 45 + 3 * np.sin(ring)], axis=1)
    outer = np.linspace(np.pi, -np.pi, 12, endpoint=False)
    lm[48:60] = np.stack([64 + 16 * np.cos(outer), 88 + 6 * np.sin(outer)], axis=1)  # outer lips
    half = opening / 2
    inner_x = [52, 58, 64, 70, 76, 70, 64, 58]  # corner, upper 61-63, corner, lower 65-67
    inner_y = [88, 88 - half, 88 - half, 88 - half, 88, 88 + half, 88 + half, 88 + half]
    lm[60:68] = np.stack([inner_x, inner_y], axis=1)
    return lm


def textured_frames(n: int, seed: int = 0) -> np.ndarray:
    """(n, 128, 128, 3) uint8 smooth random texture (SSIM and CPBD need structure, not flat colour)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.uniform(0, 255, (n, SIDE, SIDE, 3)), sigma=(0, 2, 2, 0))
    return np.clip((noise - noise.mean()) * 6 + 128, 0, 255).astype(np.uint8)


def distance_to_polyline(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """(height, width) distance of each pixel centre to the polyline, from a dense sampling of it."""
    samples = np.concatenate(
        [a + np.linspace(0, 1, 200)[:, None] * (b - a) for a, b in itertools.pairwise(points)]
    )
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    dist = np.full(len(pixels), np.inf)
    for chunk in np.array_split(samples, 8):
        dist = np.minimum(dist, np.linalg.norm(pixels[:, None] - chunk[None], axis=-1).min(axis=1))
    return dist.reshape(height, width)


def test_jaw_band_mask_matches_the_distance_to_the_jaw_polyline():
    lm = synthetic_face()
    width_px = 5.0
    mask = jaw_band_mask(lm, SIDE, SIDE, width_px)
    dist = distance_to_polyline(lm[0:17], SIDE, SIDE)
    assert mask.shape == (SIDE, SIDE) and mask.dtype == bool
    # every pixel on the polyline is in, every pixel farther than the half-width is out
    on_line = np.round(lm[0:17]).astype(int)
    assert mask[on_line[:, 1], on_line[:, 0]].all()
    clear = np.abs(dist - width_px) > 0.01  # samples 0.1 px apart: distances exact to ~0.001 px
    assert np.array_equal(mask[clear], (dist <= width_px)[clear])
    assert not mask[:30].any() and not mask[64, 64]  # the forehead and the face centre stay out
    # the band is about 2 * width wide along the whole jaw
    length = np.linalg.norm(np.diff(lm[0:17], axis=0), axis=1).sum()
    assert mask.sum() == pytest.approx(2 * width_px * length, rel=0.1)


def test_jaw_band_mask_is_clipped_to_the_frame_and_empty_without_a_face():
    lm = synthetic_face() + np.array([0, 30])  # the chin falls 12 px below the frame
    mask = jaw_band_mask(lm, SIDE, SIDE, 4.0)
    assert mask.shape == (SIDE, SIDE) and mask[-1].any()
    assert not jaw_band_mask(np.full((68, 2), np.nan), SIDE, SIDE, 4.0).any()


def test_face_box_grows_by_ten_percent_and_stays_in_the_frame():
    lm = synthetic_face()  # spans x 20..108, y 30..110
    assert face_box(lm, SIDE, SIDE) == (11, 22, 118, 119)
    assert face_box(lm + np.array([30, 0]), SIDE, SIDE)[2] == SIDE


def test_a_seam_along_the_jaw_lowers_the_jaw_band_psnr_below_the_face_box_psnr():
    lm = synthetic_face()
    true = textured_frames(1)
    band = jaw_band_mask(lm, SIDE, SIDE, jaw_band_width(lm))
    gen = true.copy()
    gen[0][band] = np.clip(gen[0][band].astype(int) + 40, 0, 255).astype(np.uint8)  # a ring along the jaw
    valid = np.ones(1, bool)
    metrics = frame_metrics(true, gen, lm[None], valid, lm[None], valid)
    diff = gen[0][band].astype(float) - true[0][band]
    expected_jaw = 10 * np.log10(255.0**2 / np.mean(diff**2))
    assert metrics["jaw_psnr"][0] == pytest.approx(expected_jaw)
    assert metrics["face_psnr"][0] > metrics["jaw_psnr"][0] + 6  # the band is a small part of the box
    assert metrics["face_ssim"][0] < 1
    assert jaw_band_width(lm) == pytest.approx(0.08 * IOD)


def test_identical_frames_score_the_cap_ssim_one_lmd_zero_and_r_one():
    openings = 2 + 6 * np.abs(np.sin(np.arange(8) / 2))  # a mouth opening and closing
    lm = np.stack([synthetic_face(o) for o in openings])
    valid = np.ones(8, bool)
    valid[3] = False  # a frame without a face in the truth is left out
    frames = textured_frames(8)
    result = score_frames(frames, frames.copy(), lm, valid, lm, valid)
    assert result["frames_compared"] == 8 and result["frames_with_face"] == 7
    assert result["face_psnr_db"] == PSNR_CAP_DB and result["jaw_band_psnr_db"] == PSNR_CAP_DB
    assert result["face_ssim"] == pytest.approx(1.0)
    assert result["mouth_lmd_pct_iod"] == 0.0
    assert result["mouth_open_r"] == pytest.approx(1.0) and result["mouth_open_r_reason"] is None
    assert result["cpbd_ratio"] == pytest.approx(1.0) and result["cpbd_true"] > 0


def test_mouth_lmd_is_a_percentage_of_the_inter_ocular_distance():
    true = synthetic_face()[None]
    gen = true.copy()
    gen[:, 48:68] += [3.0, 4.0]  # every mouth point 5 px off
    assert mouth_lmd_percent(gen, true)[0] == pytest.approx(100 * 5 / IOD)


def test_pearson_says_why_it_has_no_value():
    r, reason = pearson(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    assert r is None and "2 frames" in reason
    r, reason = pearson(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    assert r is None and "generated" in reason
    r, _ = pearson(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))
    assert r == pytest.approx(-1.0)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def score(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["score", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def degraded(tmp_path_factory) -> Path:
    """The first 2 s of video08 with the lower half of the frame (mouth and jaw) blurred."""
    if not VIDEO08.is_file():
        pytest.skip(f"real test video missing: {VIDEO08} (shared/testdata/real)")
    out = tmp_path_factory.mktemp("score") / "degraded.mp4"
    blur_lower = "split[a][b];[b]crop=iw:ih/2:0:ih/2,boxblur=4[low];[a][low]overlay=0:H/2"
    ffmpeg("-i", str(VIDEO08), "-t", "2", "-vf", blur_lower, "-c:v", "libx264", "-crf", "18", "-an", str(out))
    return out


def test_score_on_a_real_video_and_a_degraded_copy(degraded, tmp_path):
    out = tmp_path / "scores" / "degraded.json"
    # the copy is 2 s long, the truth 8 s: the 50 common frames are compared
    code, output = score(str(VIDEO08), str(degraded), "--json", str(out))
    assert code == 0, output
    result = json.loads(out.read_text())
    assert result["frames_compared"] == 50 and result["frames_with_face"] >= 45
    same = tmp_path / "same.json"
    code, output = score(str(VIDEO08), str(VIDEO08), "--max-frames", "25", "--json", str(same))
    assert code == 0, output
    assert "face-box PSNR, dB" in output and "mouth-opening r" in output and f"wrote {same}" in output
    identical = json.loads(same.read_text())
    assert identical["frames_compared"] == 25
    assert identical["face_psnr_db"] == PSNR_CAP_DB and identical["mouth_open_r"] == pytest.approx(1.0)
    assert 20 < result["face_psnr_db"] < 40 and result["jaw_band_psnr_db"] < result["face_psnr_db"]
    assert result["face_ssim"] < 0.95 and result["cpbd_ratio"] < 0.95  # blurred
    assert 0.5 < result["mouth_open_r"] < 1
    assert set(result) >= {
        "face_psnr_db",
        "face_ssim",
        "jaw_band_psnr_db",
        "mouth_lmd_pct_iod",
        "mouth_open_r",
        "cpbd_true",
        "cpbd_generated",
        "cpbd_ratio",
        "frames_compared",
        "frames_with_face",
    }


def test_start_s_aligns_a_generated_tail_with_the_full_true_video(tmp_path):
    if not VIDEO08.is_file():
        pytest.skip(f"real test video missing: {VIDEO08} (shared/testdata/real)")
    tail = tmp_path / "tail.mp4"
    ffmpeg("-ss", "6", "-i", str(VIDEO08), "-t", "1", "-c:v", "libx264", "-crf", "18", "-an", str(tail))
    psnr = {}
    for start in ("6.0", "5.96"):  # aligned, and one frame early
        out = tmp_path / f"{start}.json"
        code, output = score(
            str(VIDEO08), str(tail), "--start-s", start, "--max-frames", "12", "--json", str(out)
        )
        assert code == 0, output
        psnr[start] = json.loads(out.read_text())["face_psnr_db"]
    assert psnr["6.0"] > 32 and psnr["6.0"] > psnr["5.96"] + 8


def synthetic_video(path: Path, side: int, frames: int = 5) -> Path:
    from gsmoothface.media import VideoWriter

    with VideoWriter(path, side, side) as writer:
        writer.write(np.full((frames, side, side, 3), 128, np.uint8))
    return path


def one_line_error(code: int, output: str) -> str:
    lines = output.strip().splitlines()
    assert code == 1, output
    assert len(lines) == 1 and "Traceback" not in output, output
    assert lines[0].startswith("error: ")
    return lines[0]


def test_missing_file_is_a_one_line_error(tmp_path):
    video = synthetic_video(tmp_path / "a.mp4", 64)
    assert "missing.mp4: file not found" in one_line_error(*score(str(tmp_path / "missing.mp4"), str(video)))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert "notes.mp4" in one_line_error(*score(str(video), str(text)))


def test_different_resolutions_are_a_one_line_error(tmp_path):
    a, b = synthetic_video(tmp_path / "a.mp4", 64), synthetic_video(tmp_path / "b.mp4", 32)
    assert "resolutions differ" in one_line_error(*score(str(a), str(b)))


def test_no_face_and_no_overlap_are_one_line_errors(tmp_path):
    a = synthetic_video(tmp_path / "a.mp4", 64)
    code, output = score(str(a), str(a))
    assert code == 1 and output.strip().splitlines()[-1].startswith("error: "), output
    assert "no face found" in output
    assert "no overlapping frames" in one_line_error(*score(str(a), str(a), "--start-s", "5"))
