"""``gsmoothface app`` driven in a real headless Chromium (Debian's ``chromium``) through Playwright.

The server is the real command in a subprocess, over tiny untrained models and a demo clip made here.
Set ``GSMOOTHFACE_APP_SCREENSHOT=docs/app.png`` to save the page after the run (the README's picture).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ffmpeg
import pytest

from tests.inference_fixture import write_inference_setup

REAL = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
SPEECH = REAL / "speech04_ljspeech_LJ001-0001_en.wav"
SIZE = 64  # MAFB/TAFT resolution of the tiny models, px
CLIP_SIDE = 128  # the demo clip's frame, px
FPS = 25
START_TIMEOUT_S = 120  # the server loads torch, the models and Gradio
RUN_TIMEOUT_MS = 240_000  # click to video; ~10 s on 2 cores with the tiny models

pytest.importorskip("gradio", reason="the app extra is not installed: pip install -e '.[app]'")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (app extra)")


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed: bash scripts/install.sh installs it"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser is a broken install, not a skip
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gsmoothface app exited with {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"gsmoothface app did not listen within {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path, Path]]:
    """The running app: (url, its temporary folder's parent, its log)."""
    root = tmp_path_factory.mktemp("app")
    write_inference_setup(root, SIZE, CLIP_SIDE)
    temp = root / "tmp"  # the app's own temporary folder goes here, to check it is removed
    temp.mkdir()
    port, log = _free_port(), root / "server.log"
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "stages", "app", "--params", "params.yaml", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}/", temp, log
    finally:
        proc.send_signal(signal.SIGTERM)  # the app closes and removes its files
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()
    left = list(temp.glob("gsmoothface-app-*"))
    assert not left, f"files left behind: {list(left[0].rglob('*'))[:5]}"


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # root in CI: Chromium's sandbox needs user namespaces that containers often lack
        chromium = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _probe(path: Path) -> tuple[list[tuple[str, str]], float]:
    info = ffmpeg.probe(str(path))
    kinds = sorted((s["codec_type"], s["codec_name"]) for s in info["streams"])
    return kinds, float(info["format"]["duration"])


def test_page_makes_a_video_from_uploaded_speech_on_a_demo_clip(server, browser, tmp_path):
    if not SPEECH.is_file():
        pytest.skip(f"real test media not found at {REAL}")
    url = server[0]
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page.goto(url)
    assert "A2EP (audio to expression)" in page.content()  # the model cards
    assert "TAFT (face translation)" in page.content()
    page.locator("#speech input[type=file]").set_input_files(SPEECH)
    page.locator("#clip input").click()
    page.get_by_role("option").first.click()
    started = time.perf_counter()
    page.locator("#generate").click()
    video = page.locator("#result video")
    video.wait_for(timeout=RUN_TIMEOUT_MS)
    print(f"click to video: {time.perf_counter() - started:.1f} s")  # shown with pytest -s
    assert "frames" in page.locator("#status").inner_text()

    with page.expect_download() as download:
        page.locator("#download a").first.click()
    out = tmp_path / "downloaded.mp4"
    download.value.save_as(out)
    kinds, duration = _probe(out)
    assert kinds == [("audio", "aac"), ("video", "h264")]
    _, speech_duration = _probe(SPEECH)
    assert abs(duration - speech_duration) <= 1 / FPS, (duration, speech_duration)
    if os.environ.get("GSMOOTHFACE_APP_SCREENSHOT"):
        page.screenshot(path=os.environ["GSMOOTHFACE_APP_SCREENSHOT"], full_page=True)
    page.close()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("notes.txt", "Invalid file type: notes.txt"),  # refused by the page itself
        ("notes.wav", "notes.wav: not a readable media file"),  # refused by the server
    ],
)
def test_a_text_file_as_speech_is_an_error_on_the_page(server, browser, tmp_path, name, message):
    url = server[0]
    notes = tmp_path / name
    notes.write_text("this is not a recording\n")
    page = browser.new_page()
    page.goto(url)
    page.locator("#speech input[type=file]").set_input_files(notes)
    page.locator("#generate").click()
    page.get_by_text(message).wait_for(timeout=60_000)
    assert "Traceback" not in page.content()
    assert str(tmp_path) not in page.content()  # no server path reaches the page
    page.close()
