"""The inference path end to end on real speech: duration, streams, and mouth motion follows speech."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
import torch

from gsmoothface.generate import (
    DrivenChunk,
    GenerateConfig,
    drive,
    frame_store,
    generate_video,
    open_reference,
    reference_indices,
    taft_translator,
)
from tests.inference_fixture import write_demo_clip

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
SPEECH = REAL / "speech04_ljspeech_LJ001-0001_en.wav"
CLIP_SIDE = 128  # px, the reference clip's frame


def test_reference_indices_pingpong_and_loop():
    np.testing.assert_array_equal(reference_indices(9, 4), [0, 1, 2, 3, 2, 1, 0, 1, 2])
    np.testing.assert_array_equal(reference_indices(5, 2, "loop"), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(reference_indices(3, 1), [0, 0, 0])
    steps = np.abs(np.diff(reference_indices(500, 37)))
    assert steps.max() == 1  # ping-pong never jumps


@pytest.fixture(scope="module")
def face_model():
    from gsmoothface.face_model import FaceModelConfig, load_face_model

    return load_face_model(FaceModelConfig())


@pytest.fixture(scope="module")
def blender(face_model):
    from gsmoothface.blend.config import BlendConfig
    from gsmoothface.blend.mafb import MafbBlender

    return MafbBlender(face_model, BlendConfig(size=64, batch_size=16), backend="cpu")


@pytest.fixture(scope="module")
def reference_clip(tmp_path_factory) -> tuple[Path, GenerateConfig]:
    """A demo clip (head held still) and a generate config that finds it."""
    root = tmp_path_factory.mktemp("gen")
    clip = write_demo_clip(root, CLIP_SIDE)
    cfg = GenerateConfig(clips_dir=root / "clips", fit_dir=root / "3dmm", cache_dir=root / "cache", chunk=16)
    return clip, cfg


def loudness_predictor(face_model):
    """A test double for A2EP: opens the jaw with the frame's loudness (isolates generate's plumbing).

    The jaw direction is the expression direction that moves the lower inner lip (iBUG 66) away
    from the upper one (62); A2EP's own learning is tested with the A2EP model.
    """
    kp = face_model.keypoints.numpy()
    basis = face_model.exp_base.numpy().reshape(-1, 3, 64)
    jaw = -(basis[kp[66], 1] - basis[kp[62], 1])  # (64,) y is up in model space: lower lip goes down
    jaw /= np.linalg.norm(jaw)

    def predict(audio: np.ndarray, n_frames: int, speaker: str | None) -> np.ndarray:
        padded = np.zeros(n_frames * 640, np.float32)
        padded[: min(len(audio), len(padded))] = audio[: len(padded)]
        rms = np.sqrt((padded.reshape(n_frames, 640) ** 2).mean(axis=1))  # (T,)
        opening = np.clip(np.log10(rms + 1e-5) + 3.0, 0.0, None)  # 0 in silence, ~2 in speech
        return (opening[:, None] * jaw[None] * 3.0).astype(np.float32)

    return predict


def test_generate_real_speech(tmp_path, reference_clip, face_model, blender):
    if not SPEECH.is_file():
        pytest.skip(f"real test media not found at {REAL}")
    from gsmoothface.media import load_audio, probe
    from gsmoothface.taft.checkpoint import build_generator
    from gsmoothface.taft.config import TaftConfig

    clip, cfg = reference_clip
    speech = load_audio(SPEECH, 16000)[: 2 * 16000]  # 22.05 kHz wav resampled by ffmpeg
    silence = np.zeros(int(0.8 * 16000), np.float32)
    audio = np.concatenate([silence, speech, silence])  # 3.6 s, longer than the 1.2 s reference
    reference = open_reference(clip, cfg)
    out = tmp_path / "talking.mp4"
    translator = taft_translator(build_generator(TaftConfig(base_channels=8, max_channels=16, layers=2)))
    summary = generate_video(
        audio, reference, loudness_predictor(face_model), blender, translator, out, cfg, size=64
    )
    assert summary["frames"] == 90

    info = probe(out)
    assert info.duration_s == pytest.approx(len(audio) / 16000, abs=0.04)
    streams = ffmpeg.probe(str(out))["streams"]
    kinds = sorted((s["codec_type"], s["codec_name"]) for s in streams)
    assert kinds == [("audio", "aac"), ("video", "h264")]
    assert next(s for s in streams if s["codec_type"] == "video")["pix_fmt"] == "yuv420p"

    # mouth box from the face model's landmarks of the (still) reference
    from gsmoothface.landmarks.align import points_from_crop

    lm224 = face_model.landmarks_224(torch.from_numpy(reference.coeff[:1]))[0].numpy()
    lm = points_from_crop(lm224, reference.trans_params[0])
    x0, y0 = np.floor(lm[48:68].min(axis=0)).astype(int) - 4
    x1, y1 = np.ceil(lm[48:68].max(axis=0)).astype(int) + 4
    from gsmoothface.media import read_frames

    frames = read_frames(out).astype(np.float32)
    assert len(frames) == 90
    motion = np.abs(np.diff(frames[:, y0:y1, x0:x1], axis=0)).mean(axis=(1, 2, 3))  # (T-1,)
    in_silence = np.r_[motion[2:18], motion[72:88]].mean()  # frames 0-19 and 70-89 are silent
    in_speech = motion[24:66].mean()
    assert in_speech > 3 * in_silence + 0.05, (in_speech, in_silence)


def test_drive_pastes_only_inside_the_mask(reference_clip, face_model, blender):
    from gsmoothface.taft.model import TaftGenerator

    clip, cfg = reference_clip
    reference = open_reference(clip / "video.mp4", cfg)
    store = frame_store(reference.video, cfg.cache_dir, reference.n_frames)
    assert store.shape == (reference.n_frames, CLIP_SIDE, CLIP_SIDE, 3)
    torch.manual_seed(0)
    translator = taft_translator(TaftGenerator(base_channels=8, max_channels=16, layers=2).eval())
    exp = np.zeros((10, 64), np.float32)
    chunks = list(drive(reference, exp, store, blender, translator, size=64, chunk=4))
    assert [c.start for c in chunks] == [0, 4, 8]
    driven = chunks[-1]
    np.testing.assert_array_equal(driven.reference_index, [8, 9])
    outside = driven.mask < 1e-6
    assert 0.2 < outside.mean() < 0.95
    np.testing.assert_array_equal(driven.generated[outside], driven.frames[outside])
    assert np.abs(driven.generated.astype(int) - driven.frames).max() > 10  # the untrained TAFT face differs


def test_frames_without_a_face_come_out_as_they_were(reference_clip, face_model, blender):
    """A cut-away in the middle of the reference: its frames are the source's, not a face drawn from
    the coefficients the fit interpolated over it."""
    import dataclasses

    clip, cfg = reference_clip
    reference = open_reference(clip, cfg)
    valid = np.ones(reference.n_frames, bool)
    valid[3:6] = False
    reference = dataclasses.replace(reference, valid=valid)
    store = frame_store(reference.video, cfg.cache_dir, reference.n_frames)
    black = lambda ref, blended: torch.zeros_like(blended)  # noqa: E731  a drawn face shows
    exp = np.zeros((8, 64), np.float32)
    for driven in drive(reference, exp, store, blender, black, size=64, chunk=4):
        for k, index in enumerate(driven.reference_index):
            changed = np.abs(driven.generated[k].astype(int) - driven.frames[k]).max()
            if valid[index]:
                assert changed > 60, index
            else:
                assert changed == 0, index
                assert driven.mask[k].max() == 0.0, index


def _chunk_with_a_square_face(window: tuple[int, int, int, int], pasted: bool = True) -> DrivenChunk:
    """A driven chunk at S = 16 whose face (value 200) is pasted in rows/cols 4..11 of S."""
    y0, y1, x0, x1 = window
    paste = torch.zeros(2, 1, 16, 16)
    paste[..., 4:12, 4:12] = float(pasted)
    face = torch.full((2, 3, 16, 16), 200 / 255)
    return DrivenChunk(
        start=0,
        reference_index=np.array([0, 1]),
        frames=np.full((2, 32, 32, 3), 10, np.uint8),
        coeff=np.zeros((2, 257), np.float32),
        face=face[..., y0:y1, x0:x1],
        blended_face=face[..., y0:y1, x0:x1] / 2,
        paste=paste[..., y0:y1, x0:x1],
        windows=[window, window],
        size=16,
    )


def test_composite_pastes_inside_the_box_only():
    driven = _chunk_with_a_square_face((2, 14, 2, 14))
    full = np.full((2, 40, 50, 3), 10, np.uint8)
    out = driven.composite(full, (-8.0, 30.0), 2.0)  # a 32 px box at x 30, half above the frame
    # box columns 30..61 (cut at 50), rows -8..23; the mask's core maps to box px 8..23 -> frame rows 0..15
    assert out[0, 4, 42].tolist() == [200, 200, 200]
    assert out[0, 30, 42].tolist() == [10, 10, 10]  # below the box
    assert out[0, 4, 10].tolist() == [10, 10, 10]  # left of the box
    changed = np.argwhere(np.any(out[0] != 10, axis=-1))
    assert changed[:, 1].min() >= 30 and changed[:, 0].max() < 24


def test_a_window_gives_the_same_frames_as_the_whole_image():
    """Cutting the work to the mask's box changes the frames by float rounding at most: outside the
    box the mask is zero."""
    whole, windowed = _chunk_with_a_square_face((0, 16, 0, 16)), _chunk_with_a_square_face((3, 13, 2, 14))
    for name in ("generated", "blended"):
        difference = np.abs(getattr(windowed, name).astype(int) - getattr(whole, name))
        assert difference.max() <= 1, name
    np.testing.assert_allclose(windowed.mask, whole.mask, atol=1e-6)
    assert whole.generated[0, 15, 15].tolist() == [200, 200, 200]  # S px 7.5 -> clip px 15
    nothing = _chunk_with_a_square_face((0, 16, 0, 16), pasted=False)
    np.testing.assert_array_equal(nothing.generated, nothing.frames)
    assert nothing.mask.max() == 0.0


def test_face_windows_keep_one_size_follow_the_face_and_stay_inside():
    from gsmoothface.generate.drive import FaceWindows

    placer = FaceWindows(size=128, margin=8)  # least window 0.5625 x 0.75 of 128: 72 x 96 -> 80 x 96
    windows = placer.place([(30, 70, 40, 90), None, (100, 124, 100, 124)])
    assert {(y1 - y0, x1 - x0) for y0, y1, x0, x1 in windows} == {(80, 96)}
    assert windows[0] == (22, 102, 17, 113)  # hangs from its top (less the margin), centred across
    assert windows[1] == (0, 80, 16, 112)  # no mask: top centre
    assert windows[2] == (48, 128, 32, 128)  # pushed back inside the image
    grown = placer.place([(0, 100, 0, 20)])[0]
    assert grown[1] - grown[0] == 128  # a larger mask grows the window (capped at the image)
    assert placer.place([(10, 20, 10, 20)])[0][1] == 128  # and it stays grown


def test_translator_takes_any_size_and_batches_the_same():
    from gsmoothface.taft.model import TaftGenerator

    torch.manual_seed(0)
    generator = TaftGenerator(base_channels=8, max_channels=16, layers=2).eval()
    reference, blended = torch.rand(5, 3, 21, 30), torch.rand(5, 3, 21, 30)
    with torch.no_grad():
        one = taft_translator(generator, batch=1)(reference, blended)
        many = taft_translator(generator, batch=4)(reference, blended)
    assert one.shape == (5, 3, 21, 30)
    torch.testing.assert_close(one, many, atol=1e-5, rtol=0)


def test_raw_video_reference_is_sliced_fitted_once_and_pasted_back(
    tmp_path, reference_clip, face_model, blender
):
    from gsmoothface.generate.reference import resolve_reference
    from gsmoothface.media import probe, read_frames
    from gsmoothface.preparation import PreparationConfig

    clip, cfg = reference_clip
    raw_video = Path(json.loads((clip / "meta.json").read_text())["source"])
    raw_copy = tmp_path / "my reference.mp4"  # any name: the cache is keyed by content
    raw_copy.write_bytes(raw_video.read_bytes())
    for kind in ("landmarks", "truth"):
        sidecar = raw_video.with_name(f"{raw_video.stem}.{kind}.npz")
        raw_copy.with_name(f"{raw_copy.stem}.{kind}.npz").write_bytes(sidecar.read_bytes())
    prep = PreparationConfig.from_params(
        {
            "slice": {"size": CLIP_SIDE, "min_seconds": 0.5},
            "fit_3dmm": {"landmark_steps": 40, "photo_steps": 0},
            "face_model": {},
            "render": {"backend": "cpu"},
        }
    )
    logs: list[str] = []
    reference = resolve_reference(raw_copy, cfg, prep, log=logs.append)
    assert reference.source is not None and reference.source.video == raw_copy
    assert any("slicing and fitting" in line for line in logs)
    cached = next((cfg.cache_dir / "references").iterdir()) / "reference.json"
    stamp = cached.stat().st_mtime_ns
    again = resolve_reference(raw_video, cfg, prep, log=logs.append)  # same content, other name
    assert cached.stat().st_mtime_ns == stamp and again.name == reference.name
    np.testing.assert_array_equal(again.coeff, reference.coeff)

    audio = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    out = tmp_path / "raw.mp4"
    translator = lambda ref, blended: torch.zeros_like(blended)  # noqa: E731  a black face shows the paste
    blender.cfg = dataclasses.replace(blender.cfg, colour_match=0.0)  # (matching would lift the black)
    generate_video(audio, reference, loudness_predictor(face_model), blender, translator, out, cfg, size=64)
    info, source = probe(out), probe(raw_video)
    assert (info.width, info.height) == (source.width, source.height)
    frames = read_frames(out).astype(np.int16)
    original = read_frames(raw_video, fps=25)[: len(frames)].astype(np.int16)
    diff = np.abs(frames - original).mean(axis=(0, 3))  # (H, W)
    x0, y0, side = reference.source.crop_box
    outside = np.ones_like(diff, bool)
    outside[max(y0, 0) : y0 + side, max(x0, 0) : x0 + side] = False
    if outside.any():  # the crop box can cover the whole (small) frame
        assert diff[outside].max() < 12  # codec noise only
    assert diff[~outside].max() > 60  # the black face was pasted


REPO = Path(__file__).resolve().parents[1]


def test_generate_command_with_trained_models(tmp_path, monkeypatch):
    """`gsmoothface generate` with the pipeline's own trained A2EP and TAFT on a held-out demo clip."""
    if not SPEECH.is_file():
        pytest.skip(f"real test media not found at {REAL}")
    if not ((REPO / "models" / "a2ep.pt").is_file() and (REPO / "models" / "taft.pt").is_file()):
        pytest.skip("no trained models/a2ep.pt and models/taft.pt: run `dvc repro` first")
    held_out = [
        p.parent
        for p in sorted((REPO / "data" / "clips").glob("*/meta.json"))
        if json.loads(p.read_text()).get("split") in ("val", "test")
        and (REPO / "data" / "3dmm" / f"{p.parent.name}.npz").is_file()
    ]
    if not held_out:
        pytest.skip("no held-out clip with a fit in data/clips and data/3dmm: run `dvc repro` first")
    from typer.testing import CliRunner

    from gsmoothface.media import load_audio, probe, read_frames, write_wav
    from stages.generate import app

    speech = load_audio(SPEECH, 16000)[: 2 * 16000]
    silence = np.zeros(int(0.8 * 16000), np.float32)
    room_tone = 0.003 * np.random.default_rng(0).standard_normal(len(speech) + 2 * len(silence))
    monkeypatch.chdir(REPO)  # params.yaml paths are relative to the repository
    outputs = {}
    for name, audio in (
        ("speech", np.concatenate([silence, speech, silence]) + room_tone),  # frames 20-69 speak
        ("quiet", room_tone),  # the same length with no speech at all
    ):
        wav = tmp_path / f"{name}.wav"
        write_wav(wav, audio.astype(np.float32), 16000)
        outputs[name] = tmp_path / f"{name}.mp4"
        result = CliRunner().invoke(
            app, ["--audio", str(wav), "--reference", str(held_out[0]), "--out", str(outputs[name])]
        )
        assert result.exit_code == 0, result.output
    out = outputs["speech"]
    assert probe(out).duration_s == pytest.approx(3.6, abs=0.04)
    kinds = sorted((s["codec_type"], s["codec_name"]) for s in ffmpeg.probe(str(out))["streams"])
    assert kinds == [("audio", "aac"), ("video", "h264")]

    from gsmoothface.face_model import FaceModelConfig, load_face_model
    from gsmoothface.landmarks.align import points_from_crop

    with np.load(REPO / "data" / "3dmm" / f"{held_out[0].name}.npz") as fit:
        coeff, trans_params = fit["coeff"], fit["trans_params"]
    index = reference_indices(90, len(coeff))
    face_model = load_face_model(FaceModelConfig())  # the embedded default's model
    lm = points_from_crop(
        face_model.landmarks_224(torch.from_numpy(coeff[index])).numpy(), trans_params[index]
    )
    # Both videos share the reference's frames and head motion, so their difference inside the
    # mouth box is what the speech changed.
    spoken = read_frames(outputs["speech"]).astype(np.float32)
    quiet = read_frames(outputs["quiet"]).astype(np.float32)
    change = []
    for t in range(len(spoken)):
        x0, y0 = np.floor(lm[t, 48:68].min(axis=0)).astype(int) - 4
        x1, y1 = np.ceil(lm[t, 48:68].max(axis=0)).astype(int) + 4
        change.append(np.abs(spoken[t, y0:y1, x0:x1] - quiet[t, y0:y1, x0:x1]).mean())
    change = np.array(change)
    in_silence = np.r_[change[2:16], change[76:88]].mean()
    assert change[24:66].mean() > 1.5 * in_silence, (change[24:66].mean(), in_silence)
