"""Audio + reference -> the output mp4: predict, drive in chunks, paste back, encode with the audio."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError
from gsmoothface.generate.config import GenerateConfig
from gsmoothface.generate.drive import ExpressionPredictor, Translator, drive
from gsmoothface.generate.reference import Reference, frame_store, source_store
from gsmoothface.timing import StepTimes


def n_output_frames(n_samples: int, sample_rate: int = 16000, fps: int = 25) -> int:
    """Video frames covering the audio: round(duration * fps), at least 1."""
    return max(1, round(n_samples * fps / sample_rate))


def check_output(out: Path) -> Path:
    """Return ``out`` when its folder exists and can be written; checked before any work starts.

    Raises
    ------
    InputError: the folder does not exist, is not a folder, or cannot be written.
    """
    out = Path(out)
    folder = out.parent
    if not folder.is_dir():
        reason = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"{out}: cannot write the video there: {folder} {reason}")
    try:  # a real write: permission bits say nothing to root, nor about read-only mounts
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(f"{out}: cannot write the video there: {folder}: {exc.strerror}") from None
    return out


def generate_video(
    audio: np.ndarray,
    reference: Reference,
    predictor: ExpressionPredictor,
    blender: Callable,
    translator: Translator,
    out: Path,
    cfg: GenerateConfig,
    size: int,
    speaker: str | None = None,
    sample_rate: int = 16000,
    fps: int = 25,
    progress_every: int = 50,
    on_frames: Callable[[int, int], None] | None = None,
    times: StepTimes | None = None,
) -> dict[str, object]:
    """Generate the talking-face video of ``audio`` on ``reference`` and write ``out`` (mp4 + AAC).

    Parameters
    ----------
    audio: (S,) float32 mono speech at ``sample_rate``.
    reference: a clip, or a raw video's first clip (then the output has the video's full frames).
    predictor: A2EP, ``(audio, n_frames, speaker) -> (n_frames, 64)``.
    blender, translator: MAFB and TAFT at ``size``.
    on_frames: called with (frames written, total) after each chunk; it may raise to stop the job.
    times: collects the seconds of each step (A2EP, decode, render + MAFB, TAFT, paste-back, encode).

    Returns
    -------
    A summary: output, frames, duration, reference, speaker.
    """
    from gsmoothface.media import VideoWriter, write_wav
    from gsmoothface.progress import progress

    if audio.ndim != 1 or len(audio) == 0:
        raise InputError(f"expected mono audio (S,), got shape {audio.shape}")
    times = StepTimes() if times is None else times
    n_out = n_output_frames(len(audio), sample_rate, fps)
    with times("A2EP"):
        exp = np.asarray(predictor(audio, n_out, speaker), dtype=np.float32)
    if exp.shape != (n_out, 64):
        raise InputError(f"the expression predictor returned {exp.shape}, expected ({n_out}, 64)")
    store = frame_store(reference.video, cfg.cache_dir, reference.n_frames)
    full, crop_box = store, None  # the frames written: the clip's, or the raw video's full frames
    if reference.source is not None:
        full = source_store(reference.source, cfg.cache_dir, reference.n_frames, fps)
        crop_box = reference.source.crop_box
    height, width = full.shape[1:3]
    out = check_output(out)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".generate.") as tmp:
        wav = Path(tmp) / "audio.wav"  # muxed into the video, then removed
        write_wav(wav, audio, sample_rate)
        with VideoWriter(
            out, width, height, fps=fps, crf=cfg.crf, preset=cfg.preset, audio_path=wav
        ) as writer:
            chunks = drive(reference, exp, store, blender, translator, size, cfg.chunk, cfg.loop, times)
            total = -(-n_out // cfg.chunk)
            every = max(1, progress_every // cfg.chunk)
            for driven in progress(chunks, "generate", total=total, every=every):
                if crop_box is None:
                    with times("paste-back"):
                        frames = driven.generated
                else:  # straight from the working side into the source frame: one resampling
                    x0, y0, side = crop_box
                    with times("decode"):
                        source = np.asarray(full[driven.reference_index])
                    with times("paste-back"):
                        frames = driven.composite(source, (y0, x0), side / size)
                with times("encode"):
                    writer.write(frames)
                if on_frames is not None:
                    on_frames(driven.start + len(frames), n_out)
    return {
        "out": str(out),
        "frames": n_out,
        "duration_s": len(audio) / sample_rate,
        "size": [width, height],
        "reference": reference.name,
        "reference_frames": reference.n_frames,
        "speaker": speaker,
        "steps_s": dict(times.seconds),
    }
