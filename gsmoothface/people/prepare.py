"""A person's videos as TAFT training data: slice, fit and blend once, cached by content.

The pipeline's own ``slice``, ``fit_3dmm`` (:mod:`gsmoothface.preparation`, dlib landmarks where a
video brings no sidecar) and ``blend`` code runs with the configs of those sections into
``<work>/clips``, ``<work>/3dmm`` and ``<work>/blended``. Every step writes atomically and is skipped
when its output exists, so a killed run picks up where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gsmoothface.atomic import atomic_dir, write_json
from gsmoothface.blend.config import BlendConfig
from gsmoothface.blend.store import BlendedClip
from gsmoothface.errors import InputError
from gsmoothface.preparation import PreparationConfig, clip_fitter, link_raw_video


def slice_videos(
    videos: list[Path],
    work: Path,
    prep: PreparationConfig,
    fps: int,
    sample_rate: int,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Slice every video into ``<work>/clips`` (once); return the clip folders in order.

    Raises
    ------
    InputError: a video gave no clip (no face, too short, unreadable); the message names the video.
    """
    from gsmoothface.slicing import slice_folder

    done = work / "clips" / "clips.json"
    if not done.is_file():
        with atomic_dir(work / "clips") as tmp:
            raw = work / ".raw"
            raw.mkdir(parents=True, exist_ok=True)
            for i, video in enumerate(videos):
                raw_dir = raw / f"v{i}"
                raw_dir.mkdir(exist_ok=True)
                link = link_raw_video(video, raw_dir, f"v{i}_{video.stem}")
                cfg = dataclasses.replace(prep.slice, input_dir=raw_dir, output_dir=tmp)
                report = slice_folder(cfg, fps, sample_rate, log=log)
                if not report.clips:
                    reasons = "; ".join(report.failures) or "no clip could be cut (too short?)"
                    raise InputError(f"{video}: {reasons.replace(str(link), str(video))}")
            names = sorted(p.name for p in tmp.iterdir() if (p / "meta.json").is_file())
            write_json(tmp / "clips.json", {"clips": names, "videos": [str(v) for v in videos]})
    names = json.loads(done.read_text())["clips"]
    return [work / "clips" / name for name in names]


def fit_clips(
    clips: list[Path],
    work: Path,
    prep: PreparationConfig,
    device: torch.device,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """3DMM fit of each clip into ``<work>/3dmm/<clip>.npz`` (once each); return the fit files."""
    todo = [c for c in clips if not (work / "3dmm" / f"{c.name}.npz").is_file()]
    if todo:
        fit = clip_fitter(prep, device)
        for clip in todo:
            log(f"adapt: fitting {clip.name}")
            fit(clip, work / "3dmm" / f"{clip.name}.npz")
    return [work / "3dmm" / f"{c.name}.npz" for c in clips]


def blend_clips(
    clips: list[Path], work: Path, cfg: BlendConfig, prep: PreparationConfig, device: torch.device
) -> list[BlendedClip]:
    """MAFB arrays of each clip at ``cfg.size`` into ``<work>/blended/<clip>`` (once each), with the
    face model and renderer the clips were fitted with (``prep``)."""
    from gsmoothface.blend import MafbBlender, blend_clip, write_blended_clip
    from gsmoothface.config import config_to_dict
    from gsmoothface.face_model import load_face_model
    from gsmoothface.media import iter_frames

    todo = [c for c in clips if not (work / "blended" / c.name / "meta.json").is_file()]
    if todo:
        face = load_face_model(prep.face_model)
        blender = MafbBlender(face, cfg, backend=prep.render.backend, device=str(device))
        for clip in todo:
            with np.load(work / "3dmm" / f"{clip.name}.npz") as fit:
                coeff = fit["coeff"].astype(np.float32)
                trans_params = fit["trans_params"].astype(np.float64)
                valid = fit["valid"].astype(bool) if "valid" in fit else np.ones(len(coeff), bool)
            frames = iter_frames(clip / "video.mp4", chunk=cfg.batch_size, size=cfg.size)
            chunks = blend_clip(blender, frames, coeff, trans_params)
            info = {"clip": clip.name, "blend": config_to_dict(cfg)}
            write_blended_clip(work / "blended" / clip.name, chunks, len(coeff), cfg.size, valid, info)
    return [BlendedClip.open(work / "blended" / c.name) for c in clips]


def split_tail(clips: list[BlendedClip], holdout: float, min_eval: int = 4) -> tuple[list, list]:
    """Each clip's head for training and its last ``holdout`` share for scoring (memory-map views).

    Raises
    ------
    InputError: the clips are too short to hold out ``min_eval`` frames and still train.
    """
    train, held = [], []
    for clip in clips:
        n = clip.n_frames
        tail = max(min_eval, round(n * holdout)) if holdout > 0 else 0
        if n - tail < 2:
            continue
        train.append(_view(clip, 0, n - tail, "train"))
        if tail:
            held.append(_view(clip, n - tail, n, "held_out"))
    if not train or (holdout > 0 and not held):
        raise InputError("the videos are too short to adapt on (a few seconds at least are needed)")
    return train, held


def _view(clip: BlendedClip, start: int, stop: int, part: str) -> BlendedClip:
    return BlendedClip(
        name=f"{clip.name}:{part}",
        blended=clip.blended[start:stop],
        mask=clip.mask[start:stop],
        frame=clip.frame[start:stop],
        valid=np.asarray(clip.valid[start:stop]),
        meta={**clip.meta, "split": part},
    )
