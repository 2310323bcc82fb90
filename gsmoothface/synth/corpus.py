"""Build the whole synthetic corpus: speakers, utterances, videos, manifest, metadata, contact sheet.

Every random choice comes from generators seeded by ``(base.seed, synth.seed, ...)`` with fixed
sub-keys per speaker and utterance, so the same params give byte-identical coefficient files and
identical decoded frames (x264 is deterministic unless told otherwise; rendering runs on the CPU
so the frames do not depend on whether a GPU is present).
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from gsmoothface.atomic import atomic_dir, write_json
from gsmoothface.config import BaseConfig, config_to_dict
from gsmoothface.errors import InputError
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.progress import progress
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.contact_sheet import write_contact_sheet
from gsmoothface.synth.face_render import FaceLayer
from gsmoothface.synth.manifest import check_split, split_of, write_manifest
from gsmoothface.synth.speakers import sample_speaker
from gsmoothface.synth.speech import espeak_available
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
    if base.fps != 25 or base.sample_rate != 16000:
        raise InputError("synth renders 25 fps video with 16 kHz audio (base.fps, base.sample_rate)")
    source = voice_source(cfg)
    model = load_face_model(dataclasses.replace(face_cfg, path=None))
    face = FaceLayer(model, cfg.size, backend=render_backend)
    root = [base.seed, cfg.seed]
    speakers = [
        sample_speaker(np.random.default_rng([*root, SPEAKER_KEY, k]), k, cfg, model)
        for k in range(cfg.n_speakers)
    ]
    jobs = [(spk, u) for spk in speakers for u in range(cfg.utterances_per_speaker)]
    rows: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    sheet: list[tuple[str, np.ndarray]] = []
    with atomic_dir(out_dir) as tmp:
        for spk, u in progress(jobs, "synth videos", every=max(1, base.progress_every // 10)):
            utt = make_utterance(
                np.random.default_rng([*root, UTTERANCE_KEY, spk.index, u]), spk, u, cfg, source
            )
            write_video(tmp, utt, face, cfg, np.random.default_rng([*root, NOISE_KEY, spk.index, u]))
            split = split_of(spk.index, u, cfg)
            rows.append(
                {
                    "video": utt.name,
                    "speaker": spk.name,
                    "speaker_index": spk.index,
                    "utterance": u,
                    "frames": utt.n_frames,
                    "duration_s": round(utt.n_frames / base.fps, 6),
                    "split": split,
                }
            )
            videos.append({"video": utt.name, "text": utt.text, "voice": spk.voice.name, "split": split})
            if u == 0 and len(sheet) < cfg.contact_sheet_videos:
                sheet.append((utt.name, utt.controls["jaw"]))
        write_manifest(tmp / "manifest.csv", rows)
        meta = _metadata(cfg, base, face_cfg, source, speakers, videos, rows)
        write_json(tmp / "synth.json", meta)
        if sheet_path is not None and sheet:
            write_contact_sheet(
                sheet_path,
                [tmp / f"{name}.mp4" for name, _ in sheet],
                [jaw for _, jaw in sheet],
                cfg.contact_sheet_frames,
            )
    return meta


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
        "audio_to_expression": "gsmoothface.synth.mapping (loudness -> jaw, spectral tilt -> round/stretch)",
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
