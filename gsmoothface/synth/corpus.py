"""Build the whole synthetic corpus: speakers, utterances, videos, manifest, metadata, contact sheet.

Every random choice comes from generators seeded by ``(base.seed, synth.seed, ...)`` with fixed
sub-keys per speaker and utterance, so the same params give byte-identical coefficient files and
identical decoded frames (x264 is deterministic unless told otherwise; rendering runs on the CPU
so the frames do not depend on whether a GPU is present; each video is made from its own seeds, so
the number of worker processes does not change the result either).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import subprocess
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gsmoothface.atomic import atomic_dir, write_json
from gsmoothface.config import BaseConfig, config_to_dict
from gsmoothface.errors import InputError
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.media.tools import tool_version
from gsmoothface.progress import progress
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.contact_sheet import write_contact_sheet
from gsmoothface.synth.face_render import FaceLayer
from gsmoothface.synth.manifest import check_split, split_of, write_manifest
from gsmoothface.synth.speakers import Speaker, sample_speaker
from gsmoothface.synth.speech import espeak_available
from gsmoothface.synth.speech_corpus import write_speech_corpus
from gsmoothface.synth.utterance import make_utterance
from gsmoothface.synth.writer import write_video

SPEAKER_KEY, UTTERANCE_KEY, NOISE_KEY = 0, 1, 2  # sub-keys of the seed sequence


def voice_source(cfg: SynthConfig) -> str:
    """``espeak`` or ``builtin``, as ``synth.voice`` asks and the machine allows.

    Raises
    ------
    InputError: ``synth.voice`` is ``espeak`` but espeak-ng is not installed.
    """
    if cfg.voice == "builtin" or (cfg.voice == "auto" and not espeak_available()):
        return "builtin"
    if not espeak_available():
        raise InputError("synth.voice is 'espeak' but espeak-ng is not installed (apt-get install espeak-ng)")
    return "espeak"


def _espeak_version() -> str:
    proc = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


@dataclasses.dataclass(frozen=True)
class _Job:
    """One video to make (picklable, for worker processes)."""

    speaker: Speaker
    utterance: int
    out_dir: Path
    cfg: SynthConfig
    root: tuple[int, int]
    source: str
    face_cfg: FaceModelConfig
    render_backend: str


@dataclasses.dataclass(frozen=True)
class _Result:
    name: str
    n_frames: int
    text: str
    voice: str
    jaw: np.ndarray  # (T,) jaw control, for the contact sheet


_FACE_LAYERS: dict[tuple[FaceModelConfig, int, str], FaceLayer] = {}  # one per process


def _run_job(job: _Job) -> _Result:
    """Speak, render and write one video; the face model is built once per process."""
    torch.set_num_threads(1)  # many small tensor ops: threads would only contend
    key = (job.face_cfg, job.cfg.size, job.render_backend)
    if key not in _FACE_LAYERS:
        model = load_face_model(dataclasses.replace(job.face_cfg, path=None))
        _FACE_LAYERS[key] = FaceLayer(model, job.cfg.size, backend=job.render_backend)
    spk, u = job.speaker, job.utterance
    rng = np.random.default_rng([*job.root, UTTERANCE_KEY, spk.index, u])
    utt = make_utterance(rng, spk, u, job.cfg, job.source)
    noise_rng = np.random.default_rng([*job.root, NOISE_KEY, spk.index, u])
    write_video(job.out_dir, utt, _FACE_LAYERS[key], job.cfg, noise_rng)
    return _Result(utt.name, utt.n_frames, utt.text, utt.voice.name, utt.controls["jaw"])


def build_corpus(
    out_dir: Path,
    sheet_path: Path | None,
    cfg: SynthConfig,
    base: BaseConfig,
    face_cfg: FaceModelConfig,
    render_backend: str = "cpu",
) -> dict[str, Any]:
    """Generate every video of the corpus into ``out_dir`` (replaced atomically when complete).

    Parameters
    ----------
    out_dir: the corpus folder (``data/raw/demo``).
    sheet_path: where to write the contact sheet PNG, or None.
    face_cfg: the synthetic model's knobs; the corpus always uses the synthetic model, whose
        named expression components the audio drives (``face_model.path`` is ignored here).

    Returns
    -------
    the metadata written to ``synth.json``.
    """
    check_split(cfg)
    _check_replaceable(out_dir)
    if base.fps != 25 or base.sample_rate != 16000:
        raise InputError("synth renders 25 fps video with 16 kHz audio (base.fps, base.sample_rate)")
    source = voice_source(cfg)
    model = load_face_model(dataclasses.replace(face_cfg, path=None))
    root = (base.seed, cfg.seed)
    speakers = [
        sample_speaker(np.random.default_rng([*root, SPEAKER_KEY, k]), k, cfg, model)
        for k in range(cfg.n_speakers)
    ]
    rows: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    sheet: list[tuple[str, np.ndarray]] = []
    with atomic_dir(out_dir) as tmp, contextlib.ExitStack() as stack:
        jobs = [
            _Job(spk, u, tmp, cfg, root, source, face_cfg, render_backend)
            for spk in speakers
            for u in range(cfg.utterances_per_speaker)
        ]
        map_jobs: Callable[[Callable, Iterable], Iterator] = map
        if cfg.workers > 1:  # videos are independent: render them in parallel processes
            pool = ProcessPoolExecutor(cfg.workers, mp_context=multiprocessing.get_context("spawn"))
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)  # a failure stops the rest
            map_jobs = pool.map
        results: Iterator[_Result] = map_jobs(_run_job, jobs)
        every = max(1, base.progress_every // 10)
        for job, result in zip(
            jobs, progress(results, "synth videos", total=len(jobs), every=every), strict=True
        ):
            spk, u = job.speaker, job.utterance
            split = split_of(spk.index, u, cfg)
            rows.append(
                {
                    "video": result.name,
                    "speaker": spk.name,
                    "speaker_index": spk.index,
                    "utterance": u,
                    "frames": result.n_frames,
                    "duration_s": round(result.n_frames / base.fps, 6),
                    "split": split,
                }
            )
            videos.append({"video": result.name, "text": result.text, "voice": result.voice, "split": split})
            if u == 0 and len(sheet) < cfg.contact_sheet_videos:
                sheet.append((result.name, result.jaw))
        write_manifest(tmp / "manifest.csv", rows)
        trained = [spk for spk in speakers if split_of(spk.index, 0, cfg) != "test"]
        n_speech = write_speech_corpus(tmp / "speech.npz", trained, cfg, root, source, map_jobs)
        meta = _metadata(cfg, base, face_cfg, source, speakers, videos, rows)
        meta["speech_utterances"] = n_speech
        write_json(tmp / "synth.json", meta)
        if sheet_path is not None and sheet:
            write_contact_sheet(
                sheet_path,
                [tmp / f"{name}.mp4" for name, _ in sheet],
                [jaw for _, jaw in sheet],
                cfg.contact_sheet_frames,
            )
    return meta


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a folder that holds anything but an earlier corpus (never delete user data).

    Raises
    ------
    InputError: ``out_dir`` is a file, or a non-empty folder without ``synth.json``.
    """
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; choose another --out-dir")
    if any(out_dir.iterdir()) and not (out_dir / "synth.json").is_file():
        raise InputError(
            f"{out_dir}: holds files that are not a synth corpus (no synth.json); synth replaces its "
            "output folder, so move them or choose another --out-dir"
        )


def _metadata(
    cfg: SynthConfig,
    base: BaseConfig,
    face_cfg: FaceModelConfig,
    source: str,
    speakers: list[Any],
    videos: list[dict[str, Any]],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """``synth.json``: how the corpus was made, per-speaker styles (ground truth) and per-video text."""
    return {
        "voice_source": source,
        "voice_engine": _espeak_version()
        if source == "espeak"
        else "gsmoothface builtin source-filter synthesiser",
        "video_encoder": tool_version("ffmpeg"),  # libx264's bytes depend on the ffmpeg build
        "audio_to_expression": "gsmoothface.synth.mapping (espeak-ng phonemes -> visemes, coarticulated)",
        "camera": "Deep3DFace camera scaled to the frame: focal 1015*S/224, centre S/2 (coeff use it)",
        "landmarks": "lm68 y-down frame pixels, pixel centre = integer coordinate",
        "face_model": {**config_to_dict(face_cfg), "path": None},
        "base": config_to_dict(base),
        "synth": config_to_dict(cfg),
        "total_frames": int(sum(int(r["frames"]) for r in rows)),
        "total_duration_s": round(sum(float(r["duration_s"]) for r in rows), 3),
        "speakers": [
            {
                "name": spk.name,
                "index": spk.index,
                "voice": dataclasses.asdict(spk.voice),
                "speaking_style": dataclasses.asdict(spk.speaking),
                "motion_style": dataclasses.asdict(spk.motion),
                "held_out": split_of(spk.index, 0, cfg) == "test",  # a test (unseen) speaker
            }
            for spk in speakers
        ],
        "videos": videos,
    }
