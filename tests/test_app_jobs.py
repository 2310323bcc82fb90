"""The page's jobs without a browser: upload checks, errors as messages, cancel, cleanup; and the
``generate`` command on the same path (tiny untrained models and a demo clip made here)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gsmoothface.app.config import AppConfig
from gsmoothface.app.jobs import JobCancelled, Jobs, run_job
from gsmoothface.app.server import is_loopback
from gsmoothface.errors import InputError
from gsmoothface.generate.still import MAX_SIDE
from tests.inference_fixture import write_inference_setup

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
SPEECH = REAL / "speech04_ljspeech_LJ001-0001_en.wav"
PHOTO = REAL / "photo01_woman_frontal.jpg"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, one_torch_thread):
    from gsmoothface.generate.inference import Inference

    root = tmp_path_factory.mktemp("jobs")
    params = write_inference_setup(root)
    inference = Inference.open(params)
    return root, params, inference, next((root / "clips").iterdir())


def _wav(path: Path, audio: np.ndarray, rate: int = 16000) -> Path:
    from gsmoothface.media import write_wav

    write_wav(path, audio.astype(np.float32), rate)
    return path


def _text(path: Path) -> Path:
    path.write_text("this is not a recording\n")
    return path


def _run(inference, tmp_path, speech: Path, reference: Path, reference_name: str | None = None, **kwargs):
    jobs = Jobs(tmp_path / "jobs")
    job = jobs.start("visitor")
    reports: list[tuple[float, str]] = []
    out = run_job(
        inference,
        job,
        jobs.cache("visitor"),
        speech,
        speech.name,
        reference,
        reference_name,
        kwargs.get("speaker"),
        kwargs.get("cfg", AppConfig()),
        lambda fraction, text: reports.append((fraction, text)),
    )
    return out, reports, jobs


def test_a_job_writes_the_video_in_its_folder_and_reports_progress(setup, tmp_path):
    root, _, inference, clip = setup
    speech = _wav(tmp_path / "speech.wav", 0.3 * np.sin(np.arange(24000) / 7.0))  # 1.5 s
    (out, summary), reports, jobs = _run(inference, tmp_path, speech, clip)
    assert out.parent.parent == jobs.root / "visitor" and out.is_file()
    assert summary["frames"] == 38
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert reports[-1][1].startswith("frame 38/38, about 0 s left")
    assert not (root / "cache").exists()  # the project's cache is not touched: the session's is
    jobs.close("visitor")
    assert not (jobs.root / "visitor").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: _text(d / "notes.wav"), "notes.wav: not a readable media file"),
        (lambda d: _wav(d / "quiet.wav", np.zeros(16000)), "quiet.wav: audio is silent"),
        (lambda d: _text(d / "speech.pdf"), "speech.pdf: not a speech file"),
    ],
)
def test_bad_speech_is_an_input_error_naming_the_upload(setup, tmp_path, make, message):
    _, _, inference, clip = setup
    with pytest.raises(InputError, match=message):
        _run(inference, tmp_path, make(tmp_path), clip)


def test_a_two_hour_upload_is_refused_before_decoding(setup, tmp_path):
    _, _, inference, clip = setup
    long = tmp_path / "lecture.wav"
    with wave.open(str(long), "wb") as out:  # 2 h of 8 kHz 8-bit silence: 58 MB, written at once
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(bytes([128]) * (2 * 3600 * 8000))
    with pytest.raises(InputError, match=r"lecture.wav: 120.0 min of speech; this page takes at most 10 min"):
        _run(inference, tmp_path, long, clip)
    with pytest.raises(InputError, match=r"lecture.wav: 55 MB, larger than the 50 MB"):
        _run(inference, tmp_path, long, clip, cfg=AppConfig(max_upload_mb=50))


def test_a_video_with_no_face_is_an_input_error(setup, tmp_path):
    from gsmoothface.media import VideoWriter

    _, _, inference, _ = setup
    speech = _wav(tmp_path / "speech.wav", 0.3 * np.sin(np.arange(16000) / 7.0))
    noise = np.random.default_rng(0).integers(0, 255, (38, 128, 128, 3), dtype=np.uint8)
    video = tmp_path / "wall.mp4"
    with VideoWriter(video, 128, 128, audio_path=speech) as writer:
        writer.write(noise)
    with pytest.raises(InputError, match=r"wall\.mp4 at 0\.00 s: no face found") as error:
        _run(inference, tmp_path, speech, video, "wall.mp4")
    assert "Traceback" not in str(error.value)


def test_a_cancelled_job_stops_between_chunks(setup, tmp_path):
    _, _, inference, clip = setup
    speech = _wav(tmp_path / "speech.wav", 0.3 * np.sin(np.arange(48000) / 7.0))  # 75 frames, 5 chunks
    jobs = Jobs(tmp_path / "jobs")
    job = jobs.start("visitor")
    seen: list[str] = []

    def report(fraction: float, text: str) -> None:
        seen.append(text)
        if text.startswith("frame 16/"):
            jobs.cancel("visitor")

    with pytest.raises(JobCancelled):
        run_job(inference, job, jobs.cache("visitor"), speech, "s.wav", clip, None, None, AppConfig(), report)
    assert [t for t in seen if t.startswith("frame")] == ["frame 16/75, about " + seen[-1].split("about ")[1]]
    assert not (job.folder / "talking_face.mp4").exists()
    job.finished = True
    assert not jobs.cancel("visitor")  # nothing left to cancel


def test_jobs_of_a_session_replace_each_other_and_sessions_are_apart(tmp_path):
    jobs = Jobs(tmp_path)
    first = jobs.start("alice")
    (first.folder / "out.mp4").write_bytes(b"x")
    second = jobs.start("alice")
    other = jobs.start("bob")
    assert not first.folder.exists() and first.cancel.is_set()
    assert second.folder.parent != other.folder.parent
    with pytest.raises(ValueError):
        jobs.start("../etc")
    jobs.close("alice")
    assert not (tmp_path / "alice").exists() and other.folder.is_dir()


def test_only_loopback_hosts_are_local():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


def test_app_on_all_interfaces_warns(tmp_path):
    from stages.cli import app

    result = CliRunner().invoke(app, ["app", "--host", "0.0.0.0", "--params", str(tmp_path / "none.yaml")])
    assert "warning: listening on 0.0.0.0" in result.output
    assert result.exit_code == 1 and "params file not found" in result.output  # and no server started


def test_generate_command_on_a_still_photo(setup, tmp_path, monkeypatch):
    """`gsmoothface generate` through the same Inference, with a photo as the reference."""
    if not (SPEECH.is_file() and PHOTO.is_file()):
        pytest.skip(f"real test media not found at {REAL}")
    from gsmoothface.media import load_audio, probe
    from stages.cli import app

    root, params, _, _ = setup
    monkeypatch.chdir(root)
    out = tmp_path / "photo.mp4"
    speech = _wav(tmp_path / "speech.wav", load_audio(SPEECH, 16000)[:24000])  # 1.5 s
    args = ["generate", "--audio", str(speech), "--reference", str(PHOTO), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--params", str(params), "--speaker", "spkA"])
    assert result.exit_code == 0, result.output
    assert "speaker style spkA" in result.output
    info, photo = probe(out), probe(PHOTO)
    assert max(info.width, info.height) == MAX_SIDE  # the photo's full frame, shrunk
    assert info.width / info.height == pytest.approx(photo.width / photo.height, abs=0.01)
    assert info.duration_s == pytest.approx(1.5, abs=0.04)
