"""A person's videos as TAFT training data: slice, fit and blend once, cached by content.

The pipeline's own ``slice``, ``fit_3dmm`` and ``blend`` code runs with the params of those sections
(dlib landmarks where a video brings no sidecar) into ``<work>/clips``, ``<work>/3dmm`` and
``<work>/blended``. Every step writes atomically and is skipped when its output exists, so a killed
run picks up where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gsmoothface.atomic import atomic_dir, write_json
from gsmoothface.blend.store import BlendedClip
from gsmoothface.errors import InputError


def slice_videos(
    videos: list[Path],
    work: Path,
    params: dict[str, Any],
    fps: int,
    sample_rate: int,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Slice every video into ``<work>/clips`` (once); return the clip folders in order.

    Raises
    ------
    InputError: a video gave no clip (no face, too short, unreadable); the message names the video.
    """
    from gsmoothface.config import load_section
    from gsmoothface.slicing import SliceConfig, slice_folder
    from gsmoothface.slicing.plan import VIDEO_SUFFIXES
    from gsmoothface.slicing.sidecars import sidecar_paths

    done = work / "clips" / "clips.json"
    if not done.is_file():
        with atomic_dir(work / "clips") as tmp:
            raw = work / ".raw"
            raw.mkdir(parents=True, exist_ok=True)
            for i, video in enumerate(videos):
                raw_dir = raw / f"v{i}"
                raw_dir.mkdir(exist_ok=True)
                suffix = video.suffix if video.suffix.lower() in VIDEO_SUFFIXES else ".mp4"
                link = raw_dir / f"v{i}_{video.stem}{suffix}"
                if not link.is_symlink():
                    link.symlink_to(video.resolve())
                for path in sidecar_paths(video).values():
                    side = raw_dir / path.name.replace(video.stem, link.stem, 1)
                    if not side.is_symlink():
                        side.symlink_to(path.resolve())
                cfg = dataclasses.replace(
                    load_section(SliceConfig, "slice", params), input_dir=raw_dir, output_dir=tmp
                )
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
    params: dict[str, Any],
    device: torch.device,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """3DMM fit of each clip into ``<work>/3dmm/<clip>.npz`` (once each); return the fit files."""
    from gsmoothface.config import load_section
    from gsmoothface.face_model import FaceModelConfig, load_face_model
    from gsmoothface.fitting.clip import fit_clip, load_fitter_net
    from gsmoothface.fitting.config import Fit3dmmConfig
    from gsmoothface.render import RenderConfig

    todo = [c for c in clips if not (work / "3dmm" / f"{c.name}.npz").is_file()]
    if todo:
        fit_cfg = load_section(Fit3dmmConfig, "fit_3dmm", params)
        face_cfg = load_section(FaceModelConfig, "face_model", params)
        face = load_face_model(face_cfg).to(device)
        net = load_fitter_net(fit_cfg, device)
        backend = load_section(RenderConfig, "render", params).backend
        for clip in todo:
            cfg = fit_cfg
            if cfg.landmarks == "sidecar" and not (clip / "landmarks.npz").is_file():
                cfg = dataclasses.replace(cfg, landmarks="dlib")
            log(f"adapt: fitting {clip.name}")
            fit = fit_clip(clip, cfg, face, str(face_cfg.path or "synthetic"), net, backend)
            fit.save(work / "3dmm" / f"{clip.name}.npz")
    return [work / "3dmm" / f"{c.name}.npz" for c in clips]


def blend_clips(
    clips: list[Path], work: Path, params: dict[str, Any], device: torch.device
) -> list[BlendedClip]:
    """MAFB arrays of each clip at ``blend.size`` into ``<work>/blended/<clip>`` (once each)."""
    from gsmoothface.blend import BlendConfig, MafbBlender, blend_clip, write_blended_clip
    from gsmoothface.config import config_to_dict, load_section
    from gsmoothface.face_model import FaceModelConfig, load_face_model
    from gsmoothface.media import iter_frames
    from gsmoothface.render import RenderConfig

    cfg = load_section(BlendConfig, "blend", params)
    todo = [c for c in clips if not (work / "blended" / c.name / "meta.json").is_file()]
    if todo:
        face = load_face_model(load_section(FaceModelConfig, "face_model", params))
        backend = load_section(RenderConfig, "render", params).backend
        blender = MafbBlender(face, cfg, backend=backend, device=str(device))
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
