"""Audio loading and the 50 Hz front ends (log-mel; wav2vec2 CNN through a real save_pretrained folder)."""

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from gsmoothface.audio import AudioConfig, load_audio, n_feature_frames, open_frontend, to_frame_rate
from gsmoothface.errors import InputError, MissingAssetError


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def test_load_resamples_any_rate_and_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, tone(1.5, 44100, channels=2), 44100)
    audio = load_audio(path, 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.shape[0] - 24000) <= 1
    assert 0.2 < np.abs(audio).max() <= 1.0


@pytest.mark.parametrize(
    ("rate", "channels", "suffix"),
    [(16000, 1, ".wav"), (44100, 2, ".wav"), (48000, 2, ".flac"), (22050, 1, ".ogg"), (8000, 1, ".mp3")],
)
def test_load_gives_librosas_bytes(tmp_path, rate, channels, suffix):
    """The libsndfile path reads what librosa.load reads, byte for byte, without importing it."""
    import librosa

    path = tmp_path / f"speech{suffix}"
    sf.write(path, tone(1.23, rate, channels=channels), rate)
    expected, _ = librosa.load(path, sr=16000, mono=True)
    assert load_audio(path, 16000).tobytes() == expected.astype(np.float32).tobytes()


def test_silent_short_and_missing_audio_are_input_errors(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000), 16000)
    sf.write(tmp_path / "short.wav", tone(0.05, 16000), 16000)
    with pytest.raises(InputError, match="silent"):
        load_audio(tmp_path / "silent.wav")
    with pytest.raises(InputError, match="shorter"):
        load_audio(tmp_path / "short.wav")
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "none.wav")
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(InputError):
        load_audio(tmp_path / "bad.wav")


def test_logmel_is_on_the_wav2vec2_grid():
    frontend = open_frontend(AudioConfig(frontend="logmel"))
    for samples in (400, 401, 16000, 16719, 48000):
        feats = frontend(tone(samples / 16000, 16000).astype(np.float32))
        assert feats.shape == (n_feature_frames(samples), 80)
        assert np.isfinite(feats).all()
    assert n_feature_frames(16000) == 49  # wav2vec2: 1 s -> 49 frames
    with pytest.raises(InputError):
        frontend(np.ones(300, np.float32))


def test_to_frame_rate_is_window_consistent():
    feats = np.random.default_rng(0).standard_normal((n_feature_frames(64000 * 3), 4)).astype(np.float32)
    whole = to_frame_rate(feats, 300)
    assert whole.shape == (300, 4)
    # frame 2t + 0.375 on the feature grid: frame 100 sits between features 200 and 201
    assert np.allclose(whole[100], 0.625 * feats[200] + 0.375 * feats[201], atol=1e-6)


def test_wav2vec2_cnn_features_through_save_pretrained(tiny_wav2vec2):
    folder = tiny_wav2vec2
    frontend = open_frontend(AudioConfig(frontend="wav2vec2", wav2vec2_dir=folder, chunk_s=1.0))
    assert frontend.dim == 32
    audio = tone(2.7, 16000).astype(np.float32)
    feats = frontend(audio)
    assert feats.shape == (n_feature_frames(audio.shape[0]), 32) == (134, 32)  # 50 Hz
    assert np.isfinite(feats).all() and feats.std() > 0
    # chunks cover whole feature frames: a long chunk gives the same length
    long = open_frontend(AudioConfig(frontend="wav2vec2", wav2vec2_dir=folder, chunk_s=30.0))
    assert long(audio).shape == feats.shape


def test_missing_wav2vec2_says_how_to_obtain_it(tmp_path):
    for folder in (None, tmp_path / "absent"):
        with pytest.raises(MissingAssetError, match="facebook/wav2vec2-base-960h") as info:
            open_frontend(AudioConfig(frontend="wav2vec2", wav2vec2_dir=folder))
        assert "audio.wav2vec2_dir" in str(info.value)


def test_audio_features_stage(tmp_path, monkeypatch):
    from stages.cli import app

    for name, seconds in (("a", 1.0), ("b", 2.0)):
        (tmp_path / "clips" / name).mkdir(parents=True)
        sf.write(tmp_path / "clips" / name / "audio.wav", tone(seconds, 16000), 16000, subtype="PCM_16")
    params = tmp_path / "params.yaml"
    params.write_text("base: {}\naudio: {frontend: logmel, n_mels: 40}\n")
    args = ["audio-features", "--clips", str(tmp_path / "clips"), "--out", str(tmp_path / "audio")]
    result = CliRunner().invoke(app, [*args, "--params", str(params)])
    assert result.exit_code == 0, result.output
    feats = np.load(tmp_path / "audio" / "b.npy")
    meta = json.loads((tmp_path / "audio" / "b.json").read_text())
    assert feats.shape == (n_feature_frames(32000), 40) and meta["frames_50hz"] == feats.shape[0]
    assert meta["frontend"] == "logmel" and meta["rate_hz"] == 50
    sf.write(tmp_path / "clips" / "a" / "audio.wav", np.zeros(16000), 16000)
    result = CliRunner().invoke(app, [*args, "--params", str(params), "--clip", "a"])
    assert result.exit_code == 1 and "silent" in result.output
