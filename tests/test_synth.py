"""The embedded default dataset: determinism, audio-driven mouths, A/V length, sidecars, detail."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from gsmoothface.config import BaseConfig
from gsmoothface.errors import InputError
from gsmoothface.espeak import Phone
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.landmarks import read_sidecar
from gsmoothface.media import load_audio, probe, read_frames
from gsmoothface.media.tools import tool_version
from gsmoothface.synth import SynthConfig, build_corpus
from gsmoothface.synth.face_render import FaceLayer
from gsmoothface.synth.mapping import SpeakingStyle, mouth_controls
from gsmoothface.synth.speech import Voice, builtin_speech, espeak_available

SIZE = 256  # a small frame keeps the tests fast; everything scales with it
TINY = SynthConfig(
    n_speakers=2,
    utterances_per_speaker=2,
    words_per_utterance=(5, 6),
    test_speakers=1,
    val_utterances=1,
    size=SIZE,
    face_size_px=150.0,
    landmark_noise_px=0.8,
    landmark_drift_px=0.5,
    landmark_miss_rate=0.05,
    contact_sheet_videos=2,
    contact_sheet_frames=4,
    workers=2,
    speech_utterances=2,
)
BASE = BaseConfig(seed=3)
ENVELOPE_SMOOTH = 1.5  # frames: the loudness envelope the mouth is compared with
DETAIL_FLOOR = 0.025  # mean |frame - plain render| inside the face, in [0, 1] units (~6 grey levels)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    torch.set_num_threads(1)
    build_corpus(root / "demo", root / "sheet.png", TINY, BASE, FaceModelConfig())
    return root


@pytest.fixture(scope="module")
def model():
    return load_face_model(FaceModelConfig())


def _videos(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "demo" / "manifest.csv").open() as fh:
        return list(csv.DictReader(fh))


def _loudness(audio: np.ndarray, n_frames: int, smooth: float = 0.0) -> np.ndarray:
    """Per-frame loudness in [0, 1]: RMS of each frame's 640 samples, 40 dB below the peak -> 0,
    optionally smoothed over time (Gaussian, ``smooth`` frames): the loudness envelope."""
    frames = audio[: n_frames * 640].reshape(n_frames, 640).astype(np.float64)
    db = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    loud = np.clip(1 + (db - db.max()) / 40.0, 0, 1)
    return ndimage.gaussian_filter1d(loud, smooth, mode="nearest") if smooth > 0 else loud


def _frame_landmarks(model, coeff: np.ndarray, size: int) -> np.ndarray:
    """Reproject coefficients to frame landmarks with the face model's own projection."""
    with torch.no_grad():
        _, _, _, lm_yup = model.compute_for_render(torch.from_numpy(coeff))  # (T, 68, 2), 224 px, v up
    lm = lm_yup.numpy() * (size / 224.0)
    return np.stack([lm[..., 0] - 0.5, size - 0.5 - lm[..., 1]], axis=-1)


def test_manifest_splits_and_metadata(corpus: Path) -> None:
    rows = _videos(corpus)
    assert len(rows) == TINY.n_speakers * TINY.utterances_per_speaker
    test_speakers = {r["speaker"] for r in rows if r["split"] == "test"}
    train_speakers = {r["speaker"] for r in rows if r["split"] in ("train", "val")}
    assert test_speakers and not test_speakers & train_speakers  # speaker-disjoint
    for row in rows:
        if row["split"] == "val":  # time-disjoint: later than every train utterance of the speaker
            train_u = [
                int(r["utterance"]) for r in rows if r["speaker"] == row["speaker"] and r["split"] == "train"
            ]
            assert train_u and int(row["utterance"]) > max(train_u)
    meta = (corpus / "demo" / "synth.json").read_text()
    assert ('"voice_source": "espeak"' in meta) == espeak_available()
    assert json.loads(meta)["video_encoder"] == tool_version("ffmpeg")
    assert (corpus / "sheet.png").stat().st_size > 0


def test_same_seed_gives_identical_files_and_frames(corpus: Path, tmp_path: Path) -> None:
    # the fixture ran 2 worker processes; one process must give the very same corpus
    build_corpus(tmp_path / "demo", None, dataclasses.replace(TINY, workers=1), BASE, FaceModelConfig())
    for row in _videos(corpus):
        name = row["video"]
        for suffix in (".truth.npz", ".landmarks.npz"):
            first = (corpus / "demo" / f"{name}{suffix}").read_bytes()
            assert first == (tmp_path / "demo" / f"{name}{suffix}").read_bytes(), f"{name}{suffix} differs"
        a = read_frames(corpus / "demo" / f"{name}.mp4")
        b = read_frames(tmp_path / "demo" / f"{name}.mp4")
        assert np.array_equal(a, b), f"{name}.mp4 decodes to different frames"
    assert (corpus / "demo" / "speech.npz").read_bytes() == (tmp_path / "demo" / "speech.npz").read_bytes()
    other = dataclasses.replace(BASE, seed=BASE.seed + 1)
    one = dataclasses.replace(
        TINY, n_speakers=1, utterances_per_speaker=1, test_speakers=0, val_utterances=0, workers=1
    )
    build_corpus(tmp_path / "other", None, one, other, FaceModelConfig())
    name = _videos(corpus)[0]["video"]
    first = np.load(corpus / "demo" / f"{name}.truth.npz")["coeff"]
    second = np.load(tmp_path / "other" / f"{name}.truth.npz")["coeff"]
    assert first.shape != second.shape or not np.array_equal(first, second)  # the seed matters


def test_mp4_length_matches_coefficients(corpus: Path) -> None:
    for row in _videos(corpus):
        path = corpus / "demo" / f"{row['video']}.mp4"
        coeff = np.load(corpus / "demo" / f"{row['video']}.truth.npz")["coeff"]
        info = probe(path)
        assert (info.width, info.height) == (SIZE, SIZE)
        assert info.n_frames == len(coeff) == int(row["frames"])
        assert abs(info.video_end_s - len(coeff) / 25) < 1 / 25
        assert abs(info.audio_end_s - info.video_end_s) < 1 / 25  # A/V within one frame
        assert info.has_audio and info.audio_rate == 16000


def _mesh_opening(model, coeff: np.ndarray) -> np.ndarray:
    """Inner-lip opening of the true mesh (T,): upper minus lower inner-lip centre, model space."""
    c = model.split_coeff(torch.from_numpy(coeff))
    with torch.no_grad():
        shape = model.compute_shape(c["id"], c["exp"])[:, model.keypoints]  # (T, 68, 3)
    return (shape[:, 62, 1] - shape[:, 66, 1]).numpy()


def _phone_frames(truth, symbols: str, lead_frames: float) -> np.ndarray:
    """Frames whose gesture (frame centre + lead) is in the middle half of a phone in ``symbols``."""
    t = (np.arange(len(truth["coeff"])) + 0.5 + lead_frames) / 25
    hit = np.zeros(len(t), bool)
    for ipa, (a, b) in zip(truth["phones"], truth["phone_spans"], strict=True):
        if ipa and ipa[0] in symbols:
            hit |= (t >= a + 0.25 * (b - a)) & (t <= b - 0.25 * (b - a))
    return hit


def test_mouth_articulates_the_phonemes(corpus: Path, model) -> None:
    """Lips meet for p, b and m and part for open vowels; the rendered pixels follow the mesh."""
    closed_all, open_all = [], []
    for row in _videos(corpus):
        stem = corpus / "demo" / row["video"]
        truth = np.load(f"{stem}.truth.npz")
        opening = _mesh_opening(model, truth["coeff"])
        assert opening.max() - opening.min() > 0.02  # at least 2 mm of motion (dm units)
        closed_all.append(opening[_phone_frames(truth, "pbm", TINY.mouth_lead_frames)])
        open_all.append(opening[_phone_frames(truth, "aɑæɐɒɛʌɔ", TINY.mouth_lead_frames)])
        # the decoded pixels around the mouth change with the mesh's opening
        frames = read_frames(f"{stem}.mp4").astype(np.float32)
        lm = truth["lm68"]
        half = int(0.4 * np.median(np.linalg.norm(lm[:, 54] - lm[:, 48], axis=-1)))
        centre = np.round(lm[:, 60:68].mean(axis=1)).astype(int)  # follows the head
        crops = np.stack(
            [f[y - half : y + half, x - half : x + half] for f, (x, y) in zip(frames, centre, strict=True)]
        )
        crops -= crops.mean(axis=(1, 2), keepdims=True)  # ignore exposure and lighting drift
        closed = crops[opening <= np.quantile(opening, 0.1)].mean(axis=0)
        change = np.abs(crops - closed).mean(axis=(1, 2, 3))
        r_pix = np.corrcoef(change, opening)[0, 1]
        assert r_pix > 0.5, f"{row['video']}: mouth pixel change vs mesh opening r={r_pix:.2f}"
    closed, opened = np.concatenate(closed_all), np.concatenate(open_all)
    assert len(closed) >= 5 and len(opened) >= 5
    assert np.median(closed) < 0.002 and np.median(opened) > 0.02  # < 0.2 mm against > 2 mm


def test_sidecars_reproject_within_noise(corpus: Path, model) -> None:
    errors, jaw_errors, valid_all = [], [], []
    for row in _videos(corpus):
        stem = corpus / "demo" / row["video"]
        truth = np.load(f"{stem}.truth.npz")
        reprojected = _frame_landmarks(model, truth["coeff"], SIZE)
        assert np.abs(reprojected - truth["lm68"]).max() < 1e-3  # truth = projection of the coefficients
        lm68, valid = read_sidecar(f"{stem}.landmarks.npz")
        assert lm68.shape == truth["lm68"].shape
        residual = lm68[valid] - reprojected[valid]
        errors.append(residual[:, 17:].reshape(-1))
        jaw_errors.append(residual[:, :17].reshape(-1))
        valid_all.append(valid)
    rms, rms_jaw = (
        np.sqrt(np.mean(np.concatenate(errors) ** 2)),
        np.sqrt(np.mean(np.concatenate(jaw_errors) ** 2)),
    )
    white, drift = TINY.landmark_noise_px, TINY.landmark_drift_px
    assert 0.8 * white < rms < 1.3 * np.hypot(white, drift)
    assert 0.8 * 1.5 * white < rms_jaw < 1.3 * 1.5 * np.hypot(white, drift)
    missed = 1 - np.concatenate(valid_all).mean()
    assert 0 < missed < 4 * TINY.landmark_miss_rate


def _best_shift(frame: np.ndarray, render: np.ndarray, box: tuple[int, int, int, int], reach: int = 4):
    """Shift (dy, dx) of ``frame`` that best matches ``render``'s edges inside ``box`` (y0, y1, x0, x1)."""

    def edges(image: np.ndarray) -> np.ndarray:
        grey = image.astype(np.float64).mean(axis=-1)
        gy, gx = np.gradient(grey)
        return np.hypot(gx, gy)

    y0, y1, x0, x1 = box
    ref = edges(render)[y0:y1, x0:x1]
    ref = (ref - ref.mean()) / (ref.std() + 1e-9)
    target = edges(frame)
    scores = {}
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            win = target[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
            scores[(dy, dx)] = float(((win - win.mean()) / (win.std() + 1e-9) * ref).mean())
    return max(scores, key=scores.get)


def test_frames_add_detail_but_keep_the_geometry(corpus: Path, model) -> None:
    """Frames differ from a plain render of their coefficients, but lips and eyes sit where it puts them.

    Geometry: the edge pattern of the decoded frame around the outer lips must best match the plain
    render's with no shift: vertically (the lip contours) at most 1 px in every frame, horizontally
    (weakly fixed by the mostly horizontal edges, less so on rounded and spread lips) at most 2 px,
    and vertically 0 px typically (median), horizontally at most 1 px typically. The
    eyes get moving irises and lids drawn on the eyelid polygon, which the coarse eye texture of
    the plain render lacks, so for them the median shift must be 0 and none beyond 3 px.
    """
    face = FaceLayer(model, SIZE)
    lip_shifts, eye_shifts = [], []
    for row in _videos(corpus):
        stem = corpus / "demo" / row["video"]
        truth = np.load(f"{stem}.truth.npz")
        frames = read_frames(f"{stem}.mp4")
        picks = np.linspace(0, len(frames) - 1, 6).round().astype(int)
        plain, mask = face.plain(torch.from_numpy(truth["coeff"][picks]))
        for k, t in enumerate(picks):
            inside = mask[k] > 0
            diff = np.abs(frames[t].astype(np.float32) / 255.0 - plain[k])[inside].mean()
            assert diff > DETAIL_FLOOR, f"{row['video']} frame {t}: only {diff:.3f} from a plain render"
            lm = truth["lm68"][t]
            for part in (slice(48, 60), slice(36, 42), slice(42, 48)):  # outer lips, both eyes
                pts = lm[part]
                box = (
                    int(pts[:, 1].min()) - 4,
                    int(pts[:, 1].max()) + 5,
                    int(pts[:, 0].min()) - 4,
                    int(pts[:, 0].max()) + 5,
                )
                shift = _best_shift(frames[t], plain[k] * 255.0, box)
                (lip_shifts if part.start == 48 else eye_shifts).append(shift)
    lips, eyes = np.abs(np.asarray(lip_shifts)), np.abs(np.asarray(eye_shifts))
    assert lips[:, 0].max() <= 1 and lips[:, 1].max() <= 2, f"lip contours shifted: {lip_shifts}"
    assert np.median(lips[:, 0]) == 0 and np.median(lips[:, 1]) <= 1, f"lip contours shifted: {lip_shifts}"
    assert np.median(eyes, axis=0).max() == 0 and eyes.max() <= 3, f"eyes shifted: {eye_shifts}"


def test_builtin_voice_is_syllable_rate_modulated() -> None:
    voice = Voice(name="builtin", speed_wpm=150, pitch=50, word_gap=2, gain=0.8)
    audio, phones = builtin_speech("hello there my good friend how are you", voice, np.random.default_rng(0))
    again, _ = builtin_speech("hello there my good friend how are you", voice, np.random.default_rng(0))
    assert len([p for p in phones if p.ipa]) >= 9 and phones[-1].end == pytest.approx(len(audio) / 16000)
    assert np.array_equal(audio, again)
    assert 1.0 < len(audio) / 16000 < 6.0 and np.abs(audio).max() == pytest.approx(0.8, rel=1e-3)
    n = len(audio) // 640
    loud = _loudness(audio, n)
    spectrum = np.abs(np.fft.rfft(loud - loud.mean()))
    freqs = np.fft.rfftfreq(n, 1 / 25)
    assert 2.0 < freqs[spectrum.argmax()] < 8.0  # the envelope beats at a syllable rate


def test_mapping_leads_the_sound_and_depends_on_the_speaker() -> None:
    """The gesture leads the phones by ``lead`` frames; two speaking styles map the same speech to
    different mouths; louder speech opens the mouth further."""
    phones = [Phone("", 0.0, 0.4), Phone("ɑː", 0.4, 0.8), Phone("", 0.8, 2.0)]
    n = 50
    audio = np.zeros(n * 640, np.float32)
    audio[int(0.4 * 16000) : int(0.8 * 16000)] = 0.5 * np.sin(np.arange(int(0.4 * 16000)) * 0.1)
    style = SpeakingStyle(scale=1.0, bias=0.0, round_gain=0.8, stretch_gain=0.6, smile=0.0)
    now = mouth_controls(phones, audio, n, style, lead=0.0)
    led = mouth_controls(phones, audio, n, style, lead=2.0)
    lags = np.arange(-5, 6)
    score = [float(np.dot(np.roll(led["jaw"], lag), now["jaw"])) for lag in lags]
    assert lags[int(np.argmax(score))] == 2  # jaw_led[t] = jaw_now[t + 2]
    other = mouth_controls(phones, audio, n, dataclasses.replace(style, scale=0.6), lead=0.0)
    assert now["jaw"].max() - other["jaw"].max() > 0.2
    quiet = mouth_controls(phones, 0.1 * audio, n, style, lead=0.0, loudness_weight=0.3)
    assert np.allclose(quiet["jaw"], now["jaw"])  # loudness is relative to the utterance's peak
    pitch = mouth_controls(phones, audio, n, style, pitch_gain=0.8, lead=0.0)
    assert pitch["jaw"].max() < now["jaw"].max()


def test_split_that_leaves_no_training_data_fails_early(tmp_path: Path) -> None:
    bad = dataclasses.replace(TINY, test_speakers=TINY.n_speakers)
    with pytest.raises(InputError, match="test_speakers"):
        build_corpus(tmp_path / "demo", None, bad, BASE, FaceModelConfig())
    assert not (tmp_path / "demo").exists()


def test_refuses_to_replace_a_folder_of_user_videos(tmp_path: Path) -> None:
    user = tmp_path / "demo"
    user.mkdir()
    (user / "my_talk.mp4").write_bytes(b"not ours")
    with pytest.raises(InputError, match="not a synth corpus"):
        build_corpus(user, None, TINY, BASE, FaceModelConfig())
    assert (user / "my_talk.mp4").read_bytes() == b"not ours"


def test_builtin_voice_corpus_drives_the_mouth_too(tmp_path: Path, model) -> None:
    """Without espeak-ng the corpus speaks with the built-in synthesiser; the mouth articulates its
    syllables: it opens on their vowels and follows the syllable rhythm of the loudness."""
    one = dataclasses.replace(
        TINY,
        n_speakers=1,
        utterances_per_speaker=1,
        test_speakers=0,
        val_utterances=0,
        workers=1,
        voice="builtin",
    )
    meta = build_corpus(tmp_path / "demo", None, one, BASE, FaceModelConfig())
    assert meta["voice_source"] == "builtin"
    stem = tmp_path / "demo" / meta["videos"][0]["video"]
    truth = np.load(f"{stem}.truth.npz")
    loud = _loudness(load_audio(f"{stem}.mp4"), len(truth["coeff"]), smooth=ENVELOPE_SMOOTH)
    opening = _mesh_opening(model, truth["coeff"])
    assert np.corrcoef(opening, loud)[0, 1] > 0.5
    vowels = _phone_frames(truth, "ɑɛɔ", one.mouth_lead_frames)
    assert vowels.sum() >= 3 and np.median(opening[vowels]) > 0.02


def test_zero_blink_rate_gives_open_eyes() -> None:
    from gsmoothface.synth.motion import blinks

    rng = np.random.default_rng(0)
    assert not blinks(rng, 200, 0.0).any()
    assert blinks(rng, 2000, 0.5).max() == pytest.approx(1.0)
