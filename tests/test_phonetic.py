"""The phonetic front end (PocketSphinx phones of real-speech acoustics) and the seeded augmentation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from gsmoothface.audio import AudioConfig, n_feature_frames, open_frontend
from gsmoothface.audio.augment import augment
from gsmoothface.audio.phonetic import ARTICULATION, DIM, LOUDNESS, PHONES, articulation
from gsmoothface.errors import MissingAssetError
from gsmoothface.media import load_audio
from gsmoothface.synth.speech import Voice, espeak_available, espeak_speech

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
TEXT = "people keep a simple boat by the moon and the ocean"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    audio, _ = espeak_speech(TEXT, Voice("en-us+f2", 150, 50, 1, 0.8))
    return np.concatenate([np.zeros(4000, np.float32), audio, np.zeros(4000, np.float32)])


def _ffmpeg(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


def test_same_speech_same_features_at_any_rate_channels_and_container(speech, tmp_path) -> None:
    base = tmp_path / "speech.wav"
    sf.write(base, speech, 16000, subtype="PCM_16")
    variants = {
        "16 kHz mono wav": base,
        "44.1 kHz stereo flac": _ffmpeg(base, tmp_path / "a.flac", "-ar", "44100", "-ac", "2"),
        "48 kHz stereo pcm in mkv": _ffmpeg(
            base, tmp_path / "b.mkv", "-ar", "48000", "-ac", "2", "-c:a", "pcm_s16le"
        ),
    }
    frontend = open_frontend(AudioConfig(frontend="phonetic"))
    reference = frontend(load_audio(base, 16000))
    assert reference.shape == (n_feature_frames(len(speech)), DIM)
    spoken = reference[:, 1:LOUDNESS].sum(1) > 0  # frames decoded as a phone, not silence
    assert spoken.mean() > 0.5 and len(set(reference[:, :LOUDNESS].argmax(1))) > 10  # it hears many phones
    for name, path in variants.items():
        feats = frontend(load_audio(path, 16000))
        assert feats.shape == reference.shape, name
        same = (feats[:, :LOUDNESS].argmax(1) == reference[:, :LOUDNESS].argmax(1)).mean()
        assert same > 0.9, f"{name}: {same:.1%} of frames decode to the same phone"
        assert np.abs(feats[:, LOUDNESS] - reference[:, LOUDNESS]).mean() < 0.02, f"{name}: loudness differs"


def test_phones_track_the_words(speech) -> None:
    """Recognised words are aligned: the bilabials of 'people', 'simple' and 'moon' are
    heard, and rounded and spread vowels; given the words, the alignment alone finds the same."""
    frontend = open_frontend(AudioConfig(frontend="phonetic"))
    feats = frontend(speech)
    heard = {PHONES[i] for i in feats[:, :LOUDNESS].argmax(1)}
    assert {"P", "M"} <= heard and heard & {"UW", "OW"} and heard & {"IY", "IH"}
    told = frontend(speech, text=TEXT)
    assert (told[:, :LOUDNESS].argmax(1) == feats[:, :LOUDNESS].argmax(1)).mean() > 0.7
    assert {"P", "B", "M", "UW", "OW", "IY", "SH"} <= {PHONES[i] for i in told[:, :LOUDNESS].argmax(1)}


def test_augmentation_is_seeded(speech) -> None:
    one = augment(speech, 16000, seed=7)
    assert one.dtype == np.float32 and one.shape == speech.shape
    assert one.tobytes() == augment(speech, 16000, seed=7).tobytes()
    others = [augment(speech, 16000, seed=s) for s in range(8, 12)]
    assert all(o.tobytes() != one.tobytes() for o in others)
    assert min(np.abs(o - speech).mean() for o in [one, *others]) > 1e-4  # it does change the audio
    state = np.random.get_state()[1].copy()
    augment(speech, 16000, seed=3)
    assert np.array_equal(np.random.get_state()[1], state)  # global generators left as they were


def test_missing_front_end_model_files_give_one_line_naming_them(tmp_path) -> None:
    (tmp_path / "en-us").mkdir()
    (tmp_path / "en-us" / "mdef").write_text("")
    with pytest.raises(MissingAssetError) as info:
        open_frontend(AudioConfig(frontend="phonetic", phonetic_model=tmp_path))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "en-us" / "means") in message
    assert str(tmp_path / "en-us" / "mdef") not in message.split(";")[0]  # present files are not named

    from stages.cli import app

    (tmp_path / "clips" / "a").mkdir(parents=True)
    sf.write(tmp_path / "clips" / "a" / "audio.wav", np.full(16000, 0.1, np.float32), 16000)
    params = tmp_path / "params.yaml"
    params.write_text(f"base: {{}}\naudio: {{frontend: phonetic, phonetic_model: {tmp_path}}}\n")
    result = CliRunner().invoke(
        app,
        [
            "audio-features",
            "--clips",
            str(tmp_path / "clips"),
            "--out",
            str(tmp_path / "out"),
            "--params",
            str(params),
        ],
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "feat.params" in lines[0]
    assert not (tmp_path / "out").exists()


def test_room_tone_and_pauses_are_silence(speech) -> None:
    """Noise alone decodes to the silence phone at zero loudness (the all-phone decoder would find
    phones in it); in speech over the same noise, the pauses are silence and the words are not."""
    frontend = open_frontend(AudioConfig(frontend="phonetic"))
    rng = np.random.default_rng(0)
    room_tone = (0.003 * rng.standard_normal(len(speech) + 16000)).astype(np.float32)
    quiet = frontend(room_tone)
    assert (quiet[:, 0] == 1).all() and (quiet[:, 1 : ARTICULATION.start] == 0).all()
    assert (quiet[:, ARTICULATION] == 0).all()  # closed and still
    pause = np.zeros(8000, np.float32)
    spoken = frontend(np.concatenate([pause, speech, pause]) + room_tone)
    silent = (spoken[:, 0] == 1) & (spoken[:, LOUDNESS] == 0)
    lead = (8000 + 4000) // 320  # frames before the first word: the pause plus the speech's own lead-in
    assert silent[: lead - 2].all() and silent[-lead + 2 :].all()
    assert not silent[lead + 10 : -lead - 10].mean() > 0.2  # the words are mostly not silence
    assert len({PHONES[i] for i in spoken[:, :LOUDNESS].argmax(1)}) > 10


def test_articulation_closes_for_bilabials_opens_for_vowels_and_rests_in_pauses() -> None:
    """The articulation channels: "ah" opens the jaw, m closes the lips, a pause closes the mouth,
    and a short silence the decoder finds inside speech does not."""
    index = {p: i for i, p in enumerate(PHONES)}
    labels = np.array(
        [index["AA"]] * 30 + [index["M"]] * 10 + [index["AA"]] * 20 + [0] * 8 + [index["UW"]] * 30 + [0] * 50
    )  # 10 ms decoder frames
    hop, win = 320, 400
    n = (len(labels) * 160 - win) // hop + 1  # 50 Hz frames of that much 16 kHz audio
    pause = np.zeros(n, bool)
    pause[-22:] = True  # the last 0.44 s is a pause
    mouth = articulation(labels, pause, 16000, hop, win)
    jaw, rnd = mouth[:, 0], mouth[:, 1]

    def at(t: float) -> int:  # the feature frame centred nearest t seconds
        return round((t * 16000 - win / 2) / hop)

    assert mouth.shape == (n, 3) and mouth.dtype == np.float32
    assert jaw[at(0.15)] > 0.8 and jaw[at(0.35)] < 0.1  # "ah" open, m closed
    assert jaw[at(0.64)] > 0.3  # 80 ms of decoder silence inside speech: no closure
    assert rnd[at(0.85)] > 0.8 and rnd[at(0.15)] < 0.1  # "oo" rounds
    assert np.abs(mouth[-15:]).max() < 0.02  # the pause rests closed


def test_front_end_articulation_follows_the_speech(speech) -> None:
    frontend = open_frontend(AudioConfig(frontend="phonetic"))
    feats = frontend(speech)
    heard = np.array([PHONES[i] for i in feats[:, :LOUDNESS].argmax(1)])
    jaw = feats[:, ARTICULATION][:, 0]
    bilabial, open_vowel = np.isin(heard, ["P", "B", "M"]), np.isin(heard, ["AA", "AE", "AO", "AH", "AW"])
    assert bilabial.any() and open_vowel.any()
    assert jaw[bilabial].mean() < 0.5 * jaw[open_vowel].mean()
    assert np.abs(feats[:6, ARTICULATION]).max() < 0.02  # closed in the leading silence
