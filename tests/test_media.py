"""Media round trips through ffmpeg: encode, probe, decode, audio, mux, and the error paths."""

from pathlib import Path

import numpy as np
import pytest

from gsmoothface import media
from gsmoothface.errors import InputError


def _frames(n: int, height: int, width: int) -> np.ndarray:
    """A moving gradient: frame t has red = 4 t, so decoded frames can be told apart."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    frames[..., 0] = (np.arange(n) * 4)[:, None, None]
    frames[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, None, :]
    return frames


@pytest.fixture()
def clip(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A 2 s, 25 fps, 96x64 H.264 clip with a 16 kHz tone muxed in."""
    audio = (0.5 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000)).astype(np.float32)
    wav = tmp_path / "a.wav"
    media.write_wav(wav, audio, 16000)
    frames = _frames(50, 64, 96)
    path = tmp_path / "v.mp4"
    with media.VideoWriter(path, 96, 64, fps=25, audio_path=wav) as writer:
        writer.write(frames[:20])
        writer.write(frames[20:])
    return path, frames, audio


def test_round_trip(clip):
    path, frames, audio = clip
    info = media.probe(path)
    assert (info.width, info.height, info.fps, info.n_frames) == (96, 64, 25.0, 50)
    assert info.has_video and info.has_audio and info.audio_rate == 16000
    assert abs(info.duration_s - 2.0) < 0.03
    assert abs(info.video_end_s - info.audio_end_s) < 0.03  # A/V lengths agree
    decoded = media.read_frames(path, chunk=16)
    assert decoded.shape == frames.shape
    # H.264 at crf 18 is near-lossless on a smooth gradient; frame order is preserved
    assert np.abs(decoded.astype(int) - frames).mean() < 3.0
    assert np.all(np.diff(decoded[:, 32, 48, 0].astype(int)) >= -2)
    back = media.load_audio(path, 16000)
    assert abs(len(back) - len(audio)) <= 16  # one millisecond
    n = min(len(back), len(audio)) - 2000
    corr = np.corrcoef(back[1000:n], audio[1000:n])[0, 1]
    assert corr > 0.95


def test_resample_crop_span(clip):
    path, _, _ = clip
    out = media.read_frames(path, fps=10, size=(32, 16), start_s=0.5, duration_s=1.0, crop=(-8, 0, 48, 24))
    assert out.shape == (10, 16, 32, 3)
    assert np.all(out[:, :, :4] < 20)  # the part left of the frame is padded black
    # 10 fps from 0.5 s: frame k shows source frame 13 + 2.5 k, within one source frame (red 52.5 + 10 k
    # within 4, and the codec's 1-2); the bound, half an output frame, fails a one-frame seek error (10)
    red = out[:, 8, 20, 0].astype(float)
    assert np.abs(red - (52.5 + 10 * np.arange(10))).max() < 5


def test_odd_size_is_padded_even(tmp_path):
    path = tmp_path / "odd.mp4"
    with media.VideoWriter(path, 33, 21) as writer:
        writer.write(_frames(5, 21, 33))
    info = media.probe(path)
    assert (info.width, info.height) == (34, 22) and not info.has_audio


def test_wav_is_pcm16_mono(tmp_path):
    import soundfile as sf

    path = tmp_path / "x.wav"
    media.write_wav(path, np.linspace(-2, 2, 1600, dtype=np.float32), 16000)
    data, rate = sf.read(path, dtype="float32")
    assert rate == 16000 and data.ndim == 1 and len(data) == 1600
    assert sf.info(path).subtype == "PCM_16" and data.max() <= 1.0


def test_mux_audio_replaces_in_place(clip, tmp_path):
    _, frames, _ = clip
    silent = tmp_path / "silent.mp4"
    with media.VideoWriter(silent, 96, 64) as writer:
        writer.write(frames)
    assert not media.probe(silent).has_audio
    wav = tmp_path / "tone.wav"
    media.write_wav(wav, np.full(32000, 0.1, np.float32))
    media.mux_audio(silent, wav, silent)
    info = media.probe(silent)
    assert info.has_audio and info.n_frames == 50


def test_late_audio_stream_stays_in_sync(tmp_path):
    """Audio that starts 1 s into the file is decoded on the file's timeline (silence first)."""
    import ffmpeg

    path = tmp_path / "late.mp4"
    video = ffmpeg.input("color=c=gray:s=32x32:r=25:d=3", f="lavfi")
    tone = ffmpeg.input("sine=frequency=440:sample_rate=16000:duration=2", f="lavfi", itsoffset=1.0)
    ffmpeg.output(video, tone, str(path), vcodec="libx264", acodec="aac").global_args(
        "-loglevel", "error"
    ).run()
    for start in (0.0, 0.5):
        audio = media.load_audio(path, 16000, start_s=start)
        onset = np.nonzero(np.abs(audio) > 0.01)[0][0] / 16000
        assert abs(onset - (1.0 - start)) < 0.01
        assert abs(len(audio) / 16000 - (3.0 - start)) < 0.06


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(InputError, match=r"corrupt\.mp4"):
        media.probe(bad)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(InputError, match="empty"):
        media.probe(empty)
    with pytest.raises(InputError, match="not found"):
        media.load_audio(tmp_path / "missing.wav")
    wav = tmp_path / "a.wav"
    media.write_wav(wav, np.zeros(1600, np.float32))
    with pytest.raises(InputError, match="no video stream"):
        media.read_frames(wav)
    silent = tmp_path / "s.mp4"
    with media.VideoWriter(silent, 16, 16) as writer:
        writer.write(_frames(3, 16, 16))
    with pytest.raises(InputError, match="no audio stream"):
        media.load_audio(silent)


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(InputError, match="frames must be"), media.VideoWriter(path, 16, 16) as writer:
        writer.write(np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ZeroDivisionError), media.VideoWriter(path, 16, 16) as writer:
        writer.write(np.zeros((2, 16, 16, 3), np.uint8))
        _ = 1 / 0
    assert list(tmp_path.iterdir()) == []


def test_encoded_bytes_do_not_depend_on_the_cpu_count(tmp_path):
    # x264 picks its thread count from the CPUs the process may use; the writer pins it
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from gsmoothface import media; "
        "rng = np.random.default_rng(0); frames = rng.integers(0, 255, (30, 64, 96, 3), dtype=np.uint8); "
        "w = media.VideoWriter(sys.argv[1], 96, 64, fps=25); w.__enter__(); w.write(frames); "
        "w.__exit__(None, None, None)"
    )
    outputs = []
    for cpus in ("0", "0-7"):
        path = tmp_path / f"cpus{cpus}.mp4"
        subprocess.run(["taskset", "-c", cpus, sys.executable, "-c", code, str(path)], check=True)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
