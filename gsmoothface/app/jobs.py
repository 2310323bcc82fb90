"""Jobs of the page: one at a time, each in its visitor's own temporary folder, cancellable.

A job is what ``gsmoothface generate`` does (:class:`~gsmoothface.generate.inference.Inference`),
with a progress callback and a cancel flag checked between chunks of frames.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gsmoothface.app.checks import check_reference, check_speech
from gsmoothface.app.config import AppConfig
from gsmoothface.errors import GsmoothfaceError
from gsmoothface.generate.inference import Inference

OUTPUT_NAME = "talking_face.mp4"
# (fraction done in [0, 1], what is happening) -> None
Report = Callable[[float, str], None]


class JobCancelled(GsmoothfaceError):
    """The visitor cancelled the job."""


@dataclasses.dataclass
class Job:
    """One run: its output folder and its cancel flag."""

    folder: Path
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    finished: bool = False  # set by the caller when the job has returned or failed

    def check(self) -> None:
        """Raise :class:`JobCancelled` once the visitor has cancelled."""
        if self.cancel.is_set():
            raise JobCancelled("cancelled")


class Jobs:
    """Per-visitor folders under ``root``: ``<session>/cache`` (decoded and fitted references) and
    ``<session>/job-*/`` (one job's output). A session's folder is removed when it closes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._current: dict[str, Job] = {}

    def start(self, session: str) -> Job:
        """A new job of ``session`` in a fresh folder; the session's previous output is removed."""
        folder = self._session_dir(session)
        folder.mkdir(parents=True, exist_ok=True)
        job = Job(Path(tempfile.mkdtemp(dir=folder, prefix="job-")))
        with self._lock:
            previous = self._current.get(session)
            self._current[session] = job
        if previous is not None:
            previous.cancel.set()
            shutil.rmtree(previous.folder, ignore_errors=True)
        return job

    def cancel(self, session: str) -> bool:
        """Flag the session's running job; False when it has none."""
        with self._lock:
            job = self._current.get(session)
        if job is None or job.finished:
            return False
        job.cancel.set()
        return True

    def cache(self, session: str) -> Path:
        """Where the session's decoded and fitted references are kept."""
        return self._session_dir(session) / "cache"

    def close(self, session: str) -> None:
        """Stop the session's job and remove all its files."""
        self.cancel(session)
        with self._lock:
            self._current.pop(session, None)
        shutil.rmtree(self._session_dir(session), ignore_errors=True)

    def _session_dir(self, session: str) -> Path:
        if not session.isalnum():  # Gradio's session hashes are alphanumeric; nothing else names a folder
            raise ValueError(f"unexpected session id {session!r}")
        return self.root / session


def run_job(
    inference: Inference,
    job: Job,
    cache: Path,
    speech: Path,
    speech_name: str,
    reference: Path,
    reference_name: str | None,
    speaker: str | None,
    cfg: AppConfig,
    report: Report,
) -> tuple[Path, dict[str, object]]:
    """Generate ``speech`` on ``reference`` into ``job.folder`` and return the mp4 and its summary.

    ``reference_name`` is set for an upload (then checked) and None for one of the project's clips.

    Raises
    ------
    InputError: a bad upload (named by ``speech_name``/``reference_name``), a face that cannot be found.
    JobCancelled: ``job.cancel`` was set.
    """
    check_speech(speech, speech_name, cfg)
    if reference_name is not None:
        check_reference(reference, reference_name, cfg)
    inference = inference.with_cache(cache)
    report(0.0, "reading the speech")
    wave = inference.read_audio(speech, speech_name)
    job.check()

    def log(line: str) -> None:  # slicing and fitting an uploaded reference report here
        job.check()
        report(0.05, line.replace(str(cache), "cache").removeprefix("generate: "))

    report(0.05, "opening the reference")
    ref = inference.reference(reference, log=log)
    style = inference.speaker(speaker, ref)
    job.check()
    started = time.perf_counter()

    def on_frames(done: int, total: int) -> None:
        job.check()
        left = (time.perf_counter() - started) / done * (total - done)
        report(0.1 + 0.9 * done / total, f"frame {done}/{total}, about {left:.0f} s left")

    report(0.1, "predicting expressions (A2EP)")
    out = job.folder / OUTPUT_NAME
    summary = inference.generate(wave, ref, out, style, on_frames)
    return out, summary
