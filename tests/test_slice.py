"""The slice stage: real media resampled to 25 fps / 16 kHz, crop boxes, sidecar carry, quiet cuts,
bad input handling."""

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gsmoothface import media
from gsmoothface.media.tools import tool_version
from gsmoothface.slicing import SliceConfig, slice_folder
from gsmoothface.slicing.geometry import clamp_box, crop_box_from_landmarks, to_clip_pixels
from gsmoothface.slicing.plan import plan_videos
from gsmoothface.slicing.quiet import quiet_cuts

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
SR, FPS, SPF = 16000, 25, 640


def face68(cx: float, cy: float, s: float) -> np.ndarray:
    """A rough iBUG-68 face layout (jaw, brows, nose, eyes, mouth) of half-width ``s`` px. (68, 2)"""
    jaw = [(np.cos(a), -0.2 + 1.2 * np.sin(a)) for a in np.linspace(np.pi, 0, 17)]
    brow_r = [(x, -0.55) for x in np.linspace(-0.8, -0.2, 5)]
    brow_l = [(x, -0.55) for x in np.linspace(0.2, 0.8, 5)]
    bridge = [(0.0, y) for y in np.linspace(-0.4, 0.1, 4)]
    nostrils = [(x, 0.2) for x in np.linspace(-0.2, 0.2, 5)]
    ring = np.linspace(np.pi, -np.pi, 6, endpoint=False)
    eye_r = [(-0.4 + 0.15 * np.cos(a), -0.3 + 0.06 * np.sin(a)) for a in ring]
    eye_l = [(0.4 + 0.15 * np.cos(a), -0.3 + 0.06 * np.sin(a)) for a in ring]
    outer = [
        (0.35 * np.cos(a), 0.55 + 0.12 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 12, endpoint=False)
    ]
    inner = [
        (0.2 * np.cos(a), 0.55 + 0.05 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 8, endpoint=False)
    ]
    pts = np.array(jaw + brow_r + brow_l + bridge + nostrils + eye_r + eye_l + outer + inner)
    return (pts * s + [cx, cy]).astype(np.float32)


def make_video(
    path: Path,
    n_frames: int,
    width: int,
    height: int,
    audio: np.ndarray | None = None,
    frames: np.ndarray | None = None,
    lm68: np.ndarray | None = None,
) -> Path:
    """An H.264 test video (grey unless ``frames`` given), AAC audio and an optional landmark sidecar."""
    if frames is None:
        frames = np.full((n_frames, height, width, 3), 90, np.uint8)
    wav = None
    if audio is not None:
        wav = path.with_suffix(".src.wav")
        media.write_wav(wav, audio, SR)
    with media.VideoWriter(path, width, height, FPS, crf=12, audio_path=wav) as writer:
        writer.write(frames)
    if wav is not None:
        wav.unlink()
    if lm68 is not None:
        np.savez(path.with_name(f"{path.stem}.landmarks.npz"), lm68=lm68, valid=np.ones(len(lm68), bool))
    return path


def tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def small_cfg(tmp_path: Path, input_dir: Path, **kw) -> SliceConfig:
    kw.setdefault("size", 64)
    kw.setdefault("crf", 28)
    kw.setdefault("mux_audio", False)
    return SliceConfig(input_dir=input_dir, output_dir=tmp_path / "clips", **kw)


def check_clip(clip_dir: Path, size: int) -> dict:
    """Assert the clip contract: 25 fps CFR square video, 16 kHz mono PCM16 of exactly frames*640."""
    meta = json.loads((clip_dir / "meta.json").read_text())
    info = media.probe(clip_dir / "video.mp4")
    assert (info.width, info.height, info.fps) == (size, size, 25.0)
    assert info.n_frames == meta["frames"] and info.nominal_fps == 25.0
    wav = sf.info(clip_dir / "audio.wav")
    assert (wav.samplerate, wav.channels, wav.subtype) == (SR, 1, "PCM_16")
    assert wav.frames == meta["frames"] * SPF
    assert meta["ffmpeg"] == tool_version("ffmpeg") and meta["ffmpeg"].startswith("ffmpeg version ")
    return meta


# ---------------------------------------------------------------- real media


@pytest.fixture(scope="module")
def real_clips(tmp_path_factory):
    if not (REAL / "video02_ocasio-cortez_hdtf_25fps.mp4").is_file():
        pytest.skip(f"real test media not found at {REAL}")
    out = tmp_path_factory.mktemp("real")
    cfg = small_cfg(out, REAL, size=128)
    report = slice_folder(cfg, log=lambda _: None)
    return cfg, report


@pytest.mark.parametrize(
    "video", ["video02_ocasio-cortez_hdtf_25fps.mp4", "video04_stock_man_interview_vfr.mp4"]
)
def test_real_clip_is_25fps_16khz_and_keeps_its_duration(real_clips, video):
    cfg, report = real_clips
    assert report.failures == []
    clip_dir = cfg.output_dir / Path(video).stem
    meta = check_clip(clip_dir, 128)
    source = media.probe(REAL / video)
    assert source.fps != 25.0 or source.audio_rate != 16000  # the source really is resampled
    duration = meta["frames"] / 25
    assert abs(duration - source.av_duration_s) <= 0.04
    assert abs(duration - source.duration_s) <= 0.04
    # the clip's audio is the source's speech, in sync (same samples, down-mixed and resampled)
    clip_audio, _ = sf.read(clip_dir / "audio.wav", dtype="float32")
    src_audio = media.load_audio(REAL / video, SR)[: len(clip_audio)]
    assert np.corrcoef(clip_audio[: len(src_audio)], src_audio)[0, 1] > 0.99


def test_vfr_video_is_resampled_on_its_timeline():
    """Frame j of a 25 fps decode of the variable-rate source is the source frame of time j / 25."""
    import ffmpeg

    video = REAL / "video04_stock_man_interview_vfr.mp4"
    if not video.is_file():
        pytest.skip(f"real test media not found at {REAL}")
    frames = ffmpeg.probe(str(video), select_streams="v:0", show_entries="frame=pts_time")["frames"]
    pts = np.array([float(f["pts_time"]) for f in frames])
    assert np.ptp(np.diff(pts)) > 0.02 and pts[0] > 0.03  # really variable, and starting late
    native = media.read_frames(video, size=96).astype(np.int16)
    resampled = media.read_frames(video, fps=25, size=96).astype(np.int16)
    assert len(native) == len(pts) and len(resampled) == round(media.probe(video).duration_s * 25)
    for j in range(len(resampled)):
        t = j / 25
        diff = np.abs(resampled[j] - native).mean(axis=(1, 2, 3))  # (n_source,)
        best = int(np.argmin(diff))
        assert diff[best] == 0.0
        # the frame on screen at t, or the next one when it starts within half an output frame
        shown = max(int(np.searchsorted(pts, t + 1e-6)) - 1, 0)
        assert best == shown or 0 < pts[best] - t <= 0.5 / 25 + 1e-3, (j, best, shown)


def test_real_crop_box_is_stable_and_holds_the_face(real_clips):
    """On the HDTF clip (already an HDTF crop) the box holds every face and barely depends on the frames."""
    from gsmoothface.landmarks import open_landmark_source

    cfg, _ = real_clips
    video = REAL / "video02_ocasio-cortez_hdtf_25fps.mp4"
    meta = json.loads((cfg.output_dir / video.stem / "meta.json").read_text())
    x0, y0, side = meta["crop_box"]
    assert meta["crop_from"] == "dlib" and side >= 0.85 * 590  # HDTF framing is recovered
    frames = media.read_frames(video, fps=10)
    lm, valid = open_landmark_source("dlib").detect(frames)
    assert valid.mean() >= 0.95
    pts = lm[valid]
    assert (pts[..., 0] > x0).all() and (pts[..., 0] < x0 + side).all()
    assert (pts[..., 1] > y0).all() and (pts[..., 1] < y0 + side).all()
    half = len(frames) // 2
    first = crop_box_from_landmarks(lm[:half], valid[:half], 590, 590)
    second = crop_box_from_landmarks(lm[half:], valid[half:], 590, 590)
    assert max(abs(a - b) for a, b in zip(first, second, strict=True)) <= 0.05 * side


# ---------------------------------------------------------------- geometry and quiet cuts


def test_clip_pixel_mapping_and_box_clamping():
    box = (100, 50, 200)
    pts = np.array([[100.0, 50.0], [299.0, 249.0], [-0.5 + 100, -0.5 + 50]])
    out = to_clip_pixels(pts, box, 400)
    # pixel centres of a 2x upscale: the first source pixel covers clip pixels 0 and 1
    assert np.allclose(out, [[0.5, 0.5], [398.5, 398.5], [-0.5, -0.5]])
    assert clamp_box((-30.0, 10.0, 100.0), 320, 240) == (0, 10, 100)
    assert clamp_box((250.0, 200.0, 100.0), 320, 240) == (220, 140, 100)
    assert clamp_box((0.0, 0.0, 500.0), 320, 240) == (80, 0, 240)  # shrinks to the short side


def test_crop_box_follows_the_moving_face():
    lm = np.stack([face68(150 + 2 * t, 120, 30) for t in range(20)])
    box = crop_box_from_landmarks(lm, np.ones(20, bool), 640, 480, scale=2.4, shift=0.1)
    x0, y0, side = box
    assert (lm[..., 0] > x0).all() and (lm[..., 0] < x0 + side).all()
    assert (lm[..., 1] > y0).all() and (lm[..., 1] < y0 + side).all()
    face_side = np.ptp(lm[0], axis=0).max()
    assert side == pytest.approx(2.4 * face_side, rel=0.1)


def test_quiet_cuts_pick_the_silences():
    rng = np.random.default_rng(0)
    n_frames = 250  # 10 s
    audio = 0.3 * rng.standard_normal(n_frames * SPF).astype(np.float32)
    gaps = [(76, 82), (158, 164)]  # silent frames near the equal-length targets
    audio[30 * SPF : 36 * SPF] = 0.0  # a pause too far from any target: not a cut
    for a, b in gaps:
        audio[a * SPF : b * SPF] = 0.0
    cuts = quiet_cuts(audio, n_frames, SPF, max_frames=90, window=1600, search_frames=40)
    assert cuts[0] == 0 and cuts[-1] == n_frames
    assert all(0 < b - a <= 90 for a, b in itertools.pairwise(cuts))
    for cut in cuts[1:-1]:
        assert any(a + 1 <= cut <= b - 1 for a, b in gaps), cuts
    # a gap that would leave a piece shorter than min_frames is not taken
    audio[:] = 0.3
    audio[234 * SPF : 240 * SPF] = 0.0
    loose = quiet_cuts(audio, n_frames, SPF, max_frames=240, window=1600, search_frames=200)
    assert 234 < loose[1] < 240
    cuts = quiet_cuts(audio, n_frames, SPF, max_frames=240, window=1600, search_frames=200, min_frames=25)
    assert len(cuts) == 3 and 25 <= cuts[1] <= 225


# ---------------------------------------------------------------- synthetic media


def test_long_clip_is_cut_at_a_quiet_point(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    audio = tone(3.0)
    audio[round(1.2 * SR) : round(1.4 * SR)] = 0.0  # a pause between two phrases
    lm = np.stack([face68(80, 60, 20)] * 75)
    make_video(src / "talk.mp4", 75, 160, 120, audio=audio, lm68=lm)
    (src / "manifest.csv").write_text(
        "video,speaker,speaker_index,utterance,frames,duration_s,split\ntalk.mp4,spk7,3,0,75,3.0,val\n"
    )
    cfg = small_cfg(tmp_path, src, max_seconds=2.0, min_seconds=0.5, quiet_search_s=1.0, quiet_window_s=0.1)
    report = slice_folder(cfg, log=lambda _: None)
    assert report.failures == []
    metas = [check_clip(cfg.output_dir / f"talk_{k:03d}", 64) for k in range(2)]
    cut_s = metas[1]["start_s"]
    assert 1.2 < cut_s < 1.4 and metas[0]["end_s"] == pytest.approx(cut_s)
    assert metas[0]["frames"] + metas[1]["frames"] == 75
    assert all(m["frames"] <= 50 for m in metas)
    assert {(m["speaker"], m["speaker_index"], m["split"]) for m in metas} == {("spk7", 3, "val")}
    first, _ = sf.read(cfg.output_dir / "talk_000" / "audio.wav", dtype="float32")
    assert np.abs(first[-800:]).max() < 0.02  # the first clip ends in the pause


def _blob_frames(points: np.ndarray, width: int, height: int, sigma: float = 2.0) -> np.ndarray:
    """White Gaussian blobs on black at ``points`` (T, K, 2) -> (T, H, W, 3) uint8."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.zeros((len(points), height, width), np.float32)
    for t, pts in enumerate(points):
        for x, y in pts:
            frames[t] += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat((np.clip(frames, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=-1)


def _centroid(img: np.ndarray, x: float, y: float, radius: int) -> np.ndarray:
    """Intensity centroid of a grey image around (x, y)."""
    x0, y0 = round(x) - radius, round(y) - radius
    patch = img[y0 : y0 + 2 * radius + 1, x0 : x0 + 2 * radius + 1].astype(np.float64)
    patch = np.clip(patch - 20, 0, None)  # drop the compression noise floor
    yy, xx = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
    return np.array([(patch * xx).sum() / patch.sum() + x0, (patch * yy).sum() / patch.sum() + y0])


def test_sidecars_follow_time_cut_crop_and_resize(tmp_path):
    """Landmarks carried into the clip sit on the drawn points; truth trans_params still align the face."""
    from gsmoothface.landmarks.align import estimate_trans_params_batch, points_to_crop

    src = tmp_path / "raw"
    src.mkdir()
    n = 40
    lm = np.stack([face68(110 + 0.5 * t, 80 + 0.25 * t, 30) for t in range(n)])  # the face drifts
    drawn = [8, 30, 36, 54]  # chin, nose tip, eye corner, mouth corner
    make_video(
        src / "dots.mp4",
        n,
        220,
        170,
        audio=tone(n / FPS),
        frames=_blob_frames(lm[:, drawn], 220, 170, sigma=1.5),
    )
    np.savez(src / "dots.landmarks.npz", lm68=lm, valid=np.ones(n, bool))
    coeff = np.random.default_rng(1).standard_normal((n, 257)).astype(np.float32)
    np.savez(
        src / "dots.truth.npz", coeff=coeff, lm68=lm, trans_params=estimate_trans_params_batch(lm, 220, 170)
    )
    (src / "X_annotion_time.txt").write_text("dots.mp4 00:00.4-00:01.6\n")  # source frames 10..39
    cfg = small_cfg(tmp_path, src, size=256, crf=10, crop_scale=1.6, min_seconds=0.5)
    report = slice_folder(cfg, log=lambda _: None)
    assert report.failures == []
    clip = cfg.output_dir / "dots"
    meta = check_clip(clip, 256)
    assert meta["start_s"] == pytest.approx(0.4) and meta["frames"] == 30 and meta["crop_from"] == "sidecar"
    side = meta["crop_box"][2]
    assert 256 / side > 2  # a real up-scaling, where a half-pixel error would show
    with np.load(clip / "landmarks.npz") as data:
        carried, valid = data["lm68"], data["valid"]
    assert carried.shape == (30, 68, 2) and valid.all()
    frames = media.read_frames(clip / "video.mp4")[..., 0]
    errors = [
        _centroid(frames[t], *carried[t, k], radius=13) - carried[t, k]
        for t in range(0, 30, 3)
        for k in drawn
    ]
    # no systematic offset: a half-pixel convention error would be ~0.8 px, a one-pixel crop error 2.7 px
    assert np.abs(np.mean(errors, axis=0)).max() < 0.1
    assert np.linalg.norm(errors, axis=1).max() < 0.3
    with np.load(clip / "truth.npz") as truth:
        assert np.array_equal(truth["coeff"], coeff[10:40])
        assert np.allclose(truth["lm68"], carried)
        # the aligned 224 crop sees the face in the same place before and after slicing
        source_params = estimate_trans_params_batch(lm[10:40], 220, 170)
        before = points_to_crop(lm[10:40], source_params)
        after = points_to_crop(truth["lm68"], truth["trans_params"])
        assert np.allclose(truth["trans_params"][:, 2] * 256 / side, source_params[:, 2], rtol=1e-5)
    # equal up to Deep3DFace's whole-pixel truncation of the resized frame size (half a pixel)
    assert np.abs(after - before).max() < 0.55


def test_bad_inputs_are_reported_and_leave_nothing(tmp_path):
    import ffmpeg

    src = tmp_path / "raw"
    src.mkdir()
    lm = np.stack([face68(40, 30, 10)] * 30)
    good = make_video(src / "a_good.mp4", 30, 80, 60, audio=tone(1.2), lm68=lm)
    make_video(src / "b_noaudio.mp4", 30, 80, 60, lm68=lm)
    make_video(src / "c_short.mp4", 12, 80, 60, audio=tone(0.48), lm68=lm[:12])
    make_video(src / "d_noface.mp4", 30, 80, 60, audio=tone(1.2))  # grey frames, no sidecar
    (src / "e_empty.mp4").touch()
    (src / "f_corrupt.mp4").write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 40)
    big = make_video(
        tmp_path / "big.mp4", 75, 160, 120, audio=tone(3.0), lm68=np.stack([face68(80, 60, 20)] * 75)
    )
    (src / "g_truncated.mp4").write_bytes(big.read_bytes()[: big.stat().st_size // 3])
    (src / "g_truncated.landmarks.npz").write_bytes((tmp_path / "big.landmarks.npz").read_bytes())
    wav = tmp_path / "speech.wav"
    media.write_wav(wav, tone(1.2))
    ffmpeg.input(str(wav)).output(str(src / "h_novideo.mp4"), acodec="aac").global_args(
        "-loglevel", "error"
    ).run()
    lines: list[str] = []
    cfg = small_cfg(tmp_path, src)
    report = slice_folder(cfg, log=lines.append)
    assert [c.name for c in report.clips] == ["a_good"]
    expected = {
        "b_noaudio": "no audio stream",
        "c_short": "shorter than slice.min_seconds",
        "d_noface": "no face found",
        "e_empty": "empty",
        "f_corrupt": "not a readable media file",
        "g_truncated": "truncated or corrupt",
        "h_novideo": "no video stream",
    }
    assert len(report.failures) == len(expected)
    for name, reason in expected.items():
        (message,) = [f for f in report.failures if f"{name}.mp4" in f]
        assert reason in message and "\n" not in message, message
    assert sorted(p.name for p in cfg.output_dir.iterdir()) == ["a_good"]  # no partial or temporary folder
    assert sorted(p.name for p in (cfg.output_dir / "a_good").iterdir()) == [
        "audio.wav",
        "landmarks.npz",
        "meta.json",
        "video.mp4",
    ]
    assert any("FAILED" in line and "c_short" in line for line in lines)
    assert good.is_file()  # sources are never touched


def test_stage_command_fails_at_the_end_only_when_strict(tmp_path):
    from typer.testing import CliRunner

    from stages.cli import app

    src = tmp_path / "raw"
    src.mkdir()
    make_video(src / "ok.mp4", 30, 80, 60, audio=tone(1.2), lm68=np.stack([face68(40, 30, 10)] * 30))
    make_video(src / "silent.mp4", 30, 80, 60, lm68=np.stack([face68(40, 30, 10)] * 30))
    cfg = small_cfg(tmp_path, src)
    for strict, code in ((False, 0), (True, 1)):
        params = {
            "base": {"seed": 0, "fps": 25, "sample_rate": 16000, "device": "cpu", "progress_every": 50},
            "slice": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in dataclasses.asdict(dataclasses.replace(cfg, strict=strict)).items()
            },
        }
        (tmp_path / "params.yaml").write_text(json.dumps(params))
        result = CliRunner().invoke(app, ["slice", "--params", str(tmp_path / "params.yaml")])
        assert result.exit_code == code, result.output
        assert (cfg.output_dir / "ok" / "video.mp4").is_file()
    assert "silent.mp4: no audio stream" in result.output


def test_given_crop_boxes_are_applied(tmp_path):
    """A manifest box is used as is; an HDTF window is rescaled from its annotated resolution."""
    src = tmp_path / "raw"
    src.mkdir()
    frames = np.zeros((30, 120, 160, 3), np.uint8)
    frames[:, 40:60, 60:80] = 255  # a white square at x 60..79, y 40..59
    for name in ("man", "hdtf"):
        make_video(src / f"{name}.mp4", 30, 160, 120, audio=tone(1.2), frames=frames)
    (src / "manifest.csv").write_text("video,crop_x0,crop_y0,crop_side\nman.mp4,50,30,40\n")
    (src / "WDA_annotion_time.txt").write_text("hdtf.mp4 00:00-00:01\n")
    (src / "WDA_crop_wh.txt").write_text("hdtf_0.mp4 100 80 60 80\n")  # at 240 px high: (50, 30, 40) here
    (src / "WDA_resolution.txt").write_text("hdtf.mp4 240\n")
    cfg = small_cfg(tmp_path, src, size=80, crf=10, min_seconds=0.5)
    report = slice_folder(cfg, log=lambda _: None)
    assert report.failures == []
    for name, origin, frames_expected in (("man", "manifest", 30), ("hdtf", "annotation", 25)):
        meta = check_clip(cfg.output_dir / name, 80)
        assert (meta["crop_box"], meta["crop_from"], meta["frames"]) == (
            [50, 30, 40],
            origin,
            frames_expected,
        )
        clip = media.read_frames(cfg.output_dir / name / "video.mp4")[..., 0].mean(axis=0)
        # the square's box (60..80, 40..60) is, in the 2x clip, (20..60, 20..60)
        assert clip[24:56, 24:56].min() > 200 and clip[:, :16].max() < 60 and clip[:16].max() < 60


def test_hdtf_annotations_and_manifest_plan(tmp_path):
    for name in ("RD_Radio11.mp4", "Other.mkv", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "RD_annotion_time.txt").write_text("Radio11.mp4 00:30-01:00 1:01:30-1:02:30\n")
    (tmp_path / "RD_crop_wh.txt").write_text("Radio11_0.mp4 412 599 0 599\nRadio11_1.mp4 10 300 20 200\n")
    (tmp_path / "RD_resolution.txt").write_text("Radio11.mp4 720\n")
    (tmp_path / "manifest.csv").write_text(
        "video,speaker,speaker_index,split,crop_x0,crop_y0,crop_side\nOther,bob,4,test,5,6,70\n"
    )
    plans = {p.name: p for p in plan_videos(tmp_path)}
    assert sorted(plans) == ["Other", "RD_Radio11"]
    radio = plans["RD_Radio11"]
    assert [(c.start_s, c.end_s) for c in radio.clips] == [(30.0, 60.0), (3690.0, 3750.0)]
    assert radio.clips[0].crop_box == (412, 0, 599) and radio.clips[0].crop_height == 720
    assert radio.clips[1].crop_box == (10, -30, 300)  # a non-square window becomes a centred square
    other = plans["Other"]
    assert other.clips[0].crop_box == (5, 6, 70) and other.clips[0].end_s is None
    assert (radio.clips[0].crop_from, other.clips[0].crop_from) == ("annotation", "manifest")
    assert (other.speaker, other.speaker_index, other.split) == ("bob", 4, "test")
