"""``gsmoothface adapt``: fine-tune TAFT on one person's own videos within a time budget.

TAFT is self-supervised: a frame, another frame of the same video and the MAFB blend of the frame
with its own fitted coefficients are a training sample, so a person's video is exactly its training
data. The videos are sliced, fitted and blended once (:mod:`gsmoothface.people.prepare`), the tail
of each clip is held out, and the base model is fine-tuned; every epoch scores the held-out frames
(face PSNR/SSIM, DVCLive) and the best epoch's EMA generator is kept.

The number of optimiser steps comes from the budget: after the preparation, a few steps are timed
and the plan (steps, epochs) is written next to the resume checkpoint, so that a killed run, started
again with the same command, follows the same plan from its last checkpoint to the same model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gsmoothface.atomic import atomic_dir, write_json
from gsmoothface.config import BaseConfig, config_to_dict
from gsmoothface.errors import InputError
from gsmoothface.people.card import AUDIO, CARD, FORMAT, MODEL, check_name, read_card
from gsmoothface.people.config import AdaptConfig

PREPARE_SECTIONS = ("slice", "fit_3dmm", "face_model", "blend")  # what the training data depends on
WARM_UP, TIMED = 4, 6  # optimiser steps run before the timing, and timed (their median counts)
MARGIN = 1.25  # on the timed costs
RESERVE_S = 30.0  # budget kept for starting up (imports), writing the model and its card
IDENTITY_FRAMES = 4  # frames per clip sampled for the one-person check


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def expand_videos(paths: list[Path], pattern: str = "*") -> list[Path]:
    """The videos named: files as given, folders as their video files matching ``pattern`` (sorted).

    Raises
    ------
    InputError: a path that does not exist, or a folder with no matching video.
    """
    from gsmoothface.slicing.plan import VIDEO_SUFFIXES

    videos: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.glob(pattern) if p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise InputError(f"{path}: no video matching {pattern!r} in this folder")
            videos += found
        elif path.exists():
            videos.append(path)
        else:
            raise InputError(f"{path}: video not found")
    return videos


def check_videos(videos: list[Path]) -> list[dict[str, Any]]:
    """Each video's path, content hash and duration, checked before any work.

    Raises
    ------
    InputError: a missing file, a file with no picture, or the same file twice.
    """
    from gsmoothface.digest import file_digest
    from gsmoothface.media import probe

    if not videos:
        raise InputError("give at least one video of the person")
    inputs = []
    for video in videos:
        if not video.is_file():
            raise InputError(f"{video}: video not found")
        info = probe(video)
        if not info.has_video:
            raise InputError(f"{video}: no picture (an audio file?); give videos of the person's face")
        inputs.append(
            {"path": str(video), "sha256": file_digest(video), "duration_s": round(info.duration_s, 3)}
        )
    digests = [item["sha256"] for item in inputs]
    if len(set(digests)) != len(digests):
        raise InputError("the same video is given twice")
    return inputs


def _sample_frames(clip: Path, n: int) -> np.ndarray:
    from gsmoothface.media import read_frames

    frames = read_frames(clip / "video.mp4")
    return frames[np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)]


def _fine_tune_config(base_state: dict[str, Any], cfg: AdaptConfig, taft_params: Any, steps: int) -> Any:
    """The base model's TAFT config with the adaptation run's settings."""
    from gsmoothface.taft.config import TaftConfig

    arch = {k: v for k, v in base_state["config"].items() if k != "vgg19_weights"}
    steps_per_epoch = max(1, steps // cfg.epochs)
    return dataclasses.replace(
        TaftConfig(**arch),
        batch_size=cfg.batch_size,
        patch=cfg.patch,
        epochs=cfg.epochs,
        steps_per_epoch=steps_per_epoch,
        lr=cfg.lr,
        ema_decay=cfg.ema_decay,
        eval_frames=cfg.eval_frames,
        grid_frames=min(4, cfg.eval_frames),
        log_every=max(1, min(10, steps_per_epoch)),
        checkpoint_every=max(1, min(50, steps_per_epoch)),
        vgg19_weights=taft_params.vgg19_weights,
        gan_weight=taft_params.gan_weight,
        seed=cfg.seed,
        lr_step=10**9,
    )


def _time_costs(
    train: list, held: list, tcfg: Any, base: BaseConfig, device: torch.device
) -> tuple[float, float]:
    """(seconds of one optimiser step, seconds of one held-out scoring), timed on a throwaway copy.

    The first steps (allocations, data pages coming into memory) are slower than the run's average and
    are not counted; the times carry a margin for what the timing leaves out (EMA, logging,
    checkpoints) and for a machine that is busier later.
    """
    from gsmoothface.taft import checkpoint as checkpoint_file
    from gsmoothface.taft.data import TaftBatches, eval_batch
    from gsmoothface.taft.losses import build_loss
    from gsmoothface.taft.train import evaluate

    generator = checkpoint_file.build_generator(tcfg).to(device).train()
    opt = torch.optim.Adam(generator.parameters(), lr=tcfg.lr)
    loss_fn = build_loss(tcfg).to(device)
    data = TaftBatches(train, tcfg.batch_size, base.seed + tcfg.seed, patch=tcfg.patch)
    times = []
    for step in range(WARM_UP + TIMED):
        started = time.perf_counter()
        batch = data[step]
        fake = generator(batch["reference"].to(device), batch["blended"].to(device))
        loss, _ = loss_fn(fake, batch["target"].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    evaluate(generator.eval(), eval_batch(held, tcfg.eval_frames))
    scoring = time.perf_counter() - started
    return float(np.median(times[WARM_UP:])) * MARGIN, scoring * MARGIN


def plan_steps(
    plan_path: Path, cfg: AdaptConfig, seconds_left: float, costs: Callable[[], tuple[float, float]]
) -> int:
    """The run's optimiser steps: fixed by ``adapt.steps``, else fitted to the budget once and kept.

    ``costs`` times (one step, one held-out scoring) in seconds; the budget pays ``cfg.epochs``
    scorings and the steps.

    Raises
    ------
    InputError: the budget is spent before training could start.
    """
    if plan_path.is_file():
        return int(json.loads(plan_path.read_text())["steps"])
    if cfg.steps:
        steps = cfg.steps
    else:
        per_step, per_scoring = costs()
        steps = int((seconds_left - RESERVE_S - cfg.epochs * per_scoring) / per_step)
        if steps < cfg.epochs:
            raise InputError(
                f"the budget of {cfg.minutes} minutes is spent before training ({seconds_left:.0f} s "
                f"left, {per_step:.1f} s a step); give more --minutes or fewer/shorter videos"
            )
        steps -= steps % cfg.epochs
    write_json(plan_path, {"steps": steps})
    return steps


def adapt_person(
    videos: list[Path],
    name: str,
    params: dict[str, Any],
    cfg: AdaptConfig,
    base: BaseConfig,
    device: torch.device,
    pattern: str = "*",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Adapt TAFT to the person in ``videos`` and write ``<cfg.out_dir>/<name>/``; return its card.

    ``videos`` are files or folders (their videos matching ``pattern``). ``params`` is the read params
    file: the sections the training data depends on are hashed as written (the cache keys) and read
    into their configs here.

    A call whose inputs, params and base model match the existing card returns that card at once.

    Raises
    ------
    InputError: bad name or video, no face, two different people, videos too short, budget spent.
    MissingAssetError: the base model is missing or unreadable.
    """
    from gsmoothface.blend import BlendConfig
    from gsmoothface.config import load_section
    from gsmoothface.people.identity import check_one_person
    from gsmoothface.people.prepare import blend_clips, fit_clips, slice_videos, split_tail
    from gsmoothface.preparation import PreparationConfig
    from gsmoothface.taft import checkpoint as checkpoint_file
    from gsmoothface.taft.config import TaftConfig
    from gsmoothface.taft.train import state_digest, train_taft

    started = time.perf_counter()
    check_name(name)
    videos = expand_videos(videos, pattern)
    inputs = check_videos(videos)
    base_state = checkpoint_file.read(cfg.base_model)
    prepare_params = {s: params.get(s) for s in PREPARE_SECTIONS} | {"fps": base.fps, "sr": base.sample_rate}
    prepare_key = _digest({"videos": [i["sha256"] for i in inputs], "params": prepare_params})
    run = {k: v for k, v in config_to_dict(cfg).items() if k not in ("out_dir", "work_dir")}
    key = _digest(
        {
            "prepare": prepare_key,
            "adapt": run,
            "base": state_digest(base_state["generator_ema"]),
            "seed": base.seed,
            "taft": {k: params.get("taft", {}).get(k) for k in ("vgg19_weights", "gan_weight")},
        }
    )
    out = Path(cfg.out_dir) / name
    card = read_card(out)
    if card is not None and card.get("key") == key and (out / MODEL).is_file() and (out / AUDIO).is_dir():
        log(f"adapt: {name} is up to date ({out}); nothing to do")
        return card

    work = Path(cfg.work_dir) / prepare_key
    log(f"adapt: preparing {len(inputs)} video(s) in {work}")
    prep = PreparationConfig.from_params(params)
    clips = slice_videos(videos, work, prep, base.fps, base.sample_rate, log)
    check_one_person({c.name: _sample_frames(c, IDENTITY_FRAMES) for c in clips}, cfg.max_identity_distance)
    fits = fit_clips(clips, work, prep, device, log)
    blended = blend_clips(clips, work, load_section(BlendConfig, "blend", params), prep, device)
    train, held = split_tail(blended, cfg.holdout)
    size = blended[0].size
    if base_state["size"] != size:
        log(f"adapt: the base model was trained at {base_state['size']} px; fine-tuning it at {size} px")

    run_dir = work / f"run-{key}"
    run_dir.mkdir(parents=True, exist_ok=True)
    taft_params = load_section(TaftConfig, "taft", params)
    probe_cfg = _fine_tune_config(base_state, cfg, taft_params, cfg.epochs)
    seconds_left = cfg.minutes * 60 - (time.perf_counter() - started)
    steps = plan_steps(
        run_dir / "plan.json", cfg, seconds_left, lambda: _time_costs(train, held, probe_cfg, base, device)
    )
    tcfg = _fine_tune_config(base_state, cfg, taft_params, steps)
    n_train = sum(c.n_frames for c in train)
    log(f"adapt: fine-tuning {name} for {tcfg.epochs * tcfg.steps_per_epoch} steps on {n_train} frames")
    metrics = train_taft(
        train,
        held,
        tcfg,
        base,
        run_dir / MODEL,
        run_dir / "live",
        run_dir / "resume.pt",
        device,
        init=base_state,
        keep_best=True,
    )
    figures = {k: round(float(v), 4) for k, v in metrics.items()}
    card = {
        "format": FORMAT,
        "name": name,
        "key": key,
        "inputs": inputs,
        "base_model": {"path": str(cfg.base_model), "weights": state_digest(base_state["generator_ema"])},
        "size": size,
        "frames": {"train": n_train, "held_out": sum(c.n_frames for c in held)},
        "clips": [c.name for c in clips],
        "adapt": run,
        "figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
    }
    with atomic_dir(out) as tmp:
        shutil.copy2(run_dir / MODEL, tmp / MODEL)
        (tmp / "fit").mkdir()
        for fit in fits:
            shutil.copy2(fit, tmp / "fit" / fit.name)
        (tmp / AUDIO).mkdir()  # the person's speech, beside its fits: their speaking style
        for clip in clips:
            shutil.copy2(clip / "audio.wav", tmp / AUDIO / f"{clip.name}.wav")
        write_json(tmp / CARD, card)
    log(
        f"adapt: wrote {out} in {card['seconds']:.0f} s: held-out face PSNR "
        f"{figures.get('psnr_face', float('nan')):.2f} dB (blended input "
        f"{figures.get('psnr_face_blended', float('nan')):.2f}), SSIM {figures.get('ssim', float('nan')):.3f}"
    )
    return card
