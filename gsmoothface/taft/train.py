"""TAFT training loop: one explicit function, single process on CPU or ``torchrun`` DDP unchanged.

Checkpoints (``torch.save`` dicts) hold the generator, its EMA copy, the discriminator (when
``gan_weight > 0``), optimisers, schedulers and the step; the resume checkpoint is written every
``checkpoint_every`` steps and at each epoch end, and a run restarted with the same config and data
continues from it with the same result as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from gsmoothface.blend.store import BlendedClip
from gsmoothface.config import BaseConfig, config_to_dict
from gsmoothface.live import prepare_live_resume
from gsmoothface.progress import progress
from gsmoothface.taft import checkpoint as checkpoint_file
from gsmoothface.taft.config import TaftConfig
from gsmoothface.taft.data import TaftBatches, eval_batch, from_model
from gsmoothface.taft.losses import (
    build_loss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from gsmoothface.taft.model import Ema, MultiScaleDiscriminator
from gsmoothface.taft.ssim import psnr, ssim


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank), initialising the process group under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def fingerprint(
    cfg: TaftConfig, base: BaseConfig, clips: list[BlendedClip], init: dict[str, Any] | None = None
) -> str:
    """Hash of what determines a run; a resume checkpoint is used only when it matches."""
    key = {
        "taft": config_to_dict(cfg),
        "seed": base.seed,
        "clips": [(c.name, c.n_frames, c.size) for c in clips],
        "init": None if init is None else state_digest(init["generator_ema"]),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """Hash of a state dict's names and values (the starting weights of a fine-tuning run)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _quantised(x: torch.Tensor) -> torch.Tensor:
    """Model-range images rounded to uint8 as a video stores them, back as float32 in [0, 1]."""
    return torch.from_numpy(from_model(x.cpu())).permute(0, 3, 1, 2).float() / 255.0


def _scores(
    images: torch.Tensor, target: torch.Tensor, face: torch.Tensor | None, name: str
) -> dict[str, float]:
    """PSNR, SSIM and (with a face mask) face-region PSNR of quantised images against the target."""
    x = _quantised(images)
    scores = {f"psnr{name}": float(psnr(x, target).mean()), f"ssim{name}": float(ssim(x, target).mean())}
    if face is not None:  # over the face alone: the frame outside it is the input's own
        mse = ((x - target) ** 2 * face).sum((1, 2, 3)) / (3 * face.sum((1, 2, 3))).clamp_min(1)
        scores[f"psnr_face{name}"] = float((10 * torch.log10(1 / mse.clamp_min(1e-12))).mean())
    return scores


def baseline_scores(batch: dict[str, torch.Tensor]) -> dict[str, float]:
    """The held-out figures of the blended input and of the reference copy: fixed over a run."""
    target, face = _quantised(batch["target"]), batch.get("mask")
    return {
        **_scores(batch["blended"], target, face, "_blended"),
        **_scores(batch["reference"], target, face, "_reference"),
    }


@torch.no_grad()
def evaluate(
    generator: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    chunk: int = 8,
    baseline: dict[str, float] | None = None,
) -> dict[str, float]:
    """PSNR (dB) and SSIM against the true frame of the generator, the blended input and the reference.

    Images are rounded to uint8 first, as they would be written to video; the figures are float32
    (within 1e-6 of float64). ``baseline`` is :func:`baseline_scores` of the batch when already known.
    """
    device = next(generator.parameters()).device
    outs = []
    for i in range(0, len(batch["target"]), chunk):
        outs.append(
            generator(
                batch["reference"][i : i + chunk].to(device), batch["blended"][i : i + chunk].to(device)
            )
        )
    target = _quantised(batch["target"])
    generated = _scores(torch.cat(outs), target, batch.get("mask"), "")
    return {**generated, **(baseline_scores(batch) if baseline is None else baseline)}


def sample_grid(generator: torch.nn.Module, batch: dict[str, torch.Tensor], n: int) -> np.ndarray:
    """Rows of [reference | blended | output | target] for the first ``n`` frames -> (H, W, 3) uint8."""
    device = next(generator.parameters()).device
    with torch.no_grad():
        out = generator(batch["reference"][:n].to(device), batch["blended"][:n].to(device)).cpu()
    columns = [batch["reference"][:n], batch["blended"][:n], out, batch["target"][:n]]
    tiles = np.stack([from_model(c) for c in columns], axis=1)  # (n, 4, S, S, 3)
    n_rows, n_cols, s = tiles.shape[0], tiles.shape[1], tiles.shape[2]
    return tiles.transpose(0, 2, 1, 3, 4).reshape(n_rows * s, n_cols * s, 3)


def _mean_over_ranks(
    loss: torch.Tensor, parts: dict[str, float], world: int
) -> tuple[torch.Tensor, dict[str, float]]:
    """The step's loss and its parts averaged over the processes (each saw its share of the batch)."""
    if world == 1:
        return loss, parts
    values = torch.tensor([loss.item(), *parts.values()], dtype=torch.float64)
    torch.distributed.all_reduce(values)
    values /= world
    return values[0], dict(zip(parts, values[1:].tolist(), strict=True))


def train_taft(
    train_clips: list[BlendedClip],
    eval_clips: list[BlendedClip],
    cfg: TaftConfig,
    base: BaseConfig,
    model_path: Path,
    live_dir: Path,
    resume_path: Path,
    device: torch.device,
    init: dict[str, Any] | None = None,
    keep_best: bool = False,
) -> dict[str, float]:
    """Train TAFT and write the final checkpoint to ``model_path``.

    Parameters
    ----------
    train_clips, eval_clips: blended clips for training and for the per-epoch held-out metrics.
    model_path: final checkpoint (written by rank 0 at the end).
    live_dir: DVCLive directory (losses per step, held-out PSNR/SSIM and a sample grid per epoch).
    resume_path: rolling checkpoint; resumed from when its fingerprint matches, removed at the end.
    init: a TAFT file's dict (:func:`gsmoothface.taft.checkpoint.read`) to fine-tune from: its EMA
        generator starts both the generator and its average (the architecture must match ``cfg``).
    keep_best: the final model is the EMA generator of the epoch with the best held-out face PSNR
        (the epoch's figures are in the file), not the last one.

    Returns
    -------
    the last held-out metrics (EMA generator, blended input and reference copy).
    """
    from dvclive import Live

    rank, world, local_rank = _distributed()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
    size = train_clips[0].size
    seed = base.seed + cfg.seed
    torch.manual_seed(seed)
    generator = checkpoint_file.build_generator(cfg).to(device)
    if init is not None:
        generator.load_state_dict(init["generator_ema"])
    ema = Ema(generator, cfg.ema_decay)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    sched_g = torch.optim.lr_scheduler.StepLR(opt_g, cfg.lr_step, cfg.lr_gamma)
    disc = opt_d = sched_d = None
    if cfg.gan_weight > 0:
        disc = MultiScaleDiscriminator(cfg.disc_channels, cfg.disc_layers, cfg.disc_scales).to(device)
        opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        sched_d = torch.optim.lr_scheduler.StepLR(opt_d, cfg.lr_step, cfg.lr_gamma)
    loss_fn = build_loss(cfg).to(device)

    data = TaftBatches(train_clips, cfg.batch_size, seed, rank, world, cfg.patch)
    steps_per_epoch = cfg.steps_per_epoch or max(1, len(data.targets) // cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    held_out = eval_batch(eval_clips, cfg.eval_frames)
    held_out_baseline = baseline_scores(held_out)
    print_fp = fingerprint(cfg, base, train_clips, init)
    best: dict[str, Any] = {"score": -float("inf"), "state": None, "metrics": {}, "epoch": 0}

    start = 0
    resumed = False
    if resume_path.is_file():
        state = torch.load(resume_path, map_location=device, weights_only=False)
        if state.get("fingerprint") == print_fp:
            generator.load_state_dict(state["generator"])
            ema.model.load_state_dict(state["generator_ema"])
            ema.updates = state["ema_updates"]
            opt_g.load_state_dict(state["opt_G"])
            sched_g.load_state_dict(state["sched_G"])
            if disc is not None:
                disc.load_state_dict(state["discriminator"])
                opt_d.load_state_dict(state["opt_D"])
                sched_d.load_state_dict(state["sched_D"])
            start = state["step"]
            best = state.get("best") or best
            resumed = True
            if rank == 0:  # rows logged after the checkpoint are logged again; a kill may cut one short
                prepare_live_resume(live_dir, start + 1)
            if rank == 0:
                print(f"resuming TAFT from step {start} ({resume_path})", flush=True)
        elif rank == 0:
            print(f"ignoring {resume_path}: it belongs to another config or data", flush=True)

    net_g: torch.nn.Module = generator
    net_d = disc
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net_g = torch.nn.parallel.DistributedDataParallel(generator, device_ids=ids)
        if disc is not None:
            net_d = torch.nn.parallel.DistributedDataParallel(disc, device_ids=ids)

    def checkpoint(step: int) -> dict[str, Any]:
        return {
            "format": checkpoint_file.FORMAT,
            "fingerprint": print_fp,
            "config": config_to_dict(cfg),
            "size": size,
            "step": step,
            "epoch": step // steps_per_epoch,
            "generator": generator.state_dict(),
            "generator_ema": ema.model.state_dict(),
            "ema_updates": ema.updates,
            "discriminator": disc.state_dict() if disc is not None else None,
            "opt_G": opt_g.state_dict(),
            "sched_G": sched_g.state_dict(),
            "opt_D": opt_d.state_dict() if opt_d is not None else None,
            "sched_D": sched_d.state_dict() if sched_d is not None else None,
            "best": best if keep_best else None,
        }

    live = Live(str(live_dir), resume=resumed, save_dvc_exp=False, dvcyaml=None) if rank == 0 else None
    loader = torch.utils.data.DataLoader(
        data,
        batch_size=None,
        sampler=range(start, total_steps),
        num_workers=cfg.num_workers,
        persistent_workers=False,
    )
    metrics: dict[str, float] = {}
    started = time.perf_counter()
    generator.train()
    for step, batch in zip(
        range(start, total_steps),
        progress(loader, "train TAFT steps", total=total_steps - start, every=base.progress_every),
        strict=True,
    ):
        reference, blended, target = (batch[k].to(device) for k in ("reference", "blended", "target"))
        fake = net_g(reference, blended)
        loss, parts = loss_fn(fake, target)
        if net_d is not None:
            fake_feats = net_d(blended, fake)
            with torch.no_grad():
                real_feats = net_d(blended, target)
            adv = generator_adversarial_loss(fake_feats)
            fm = feature_matching_loss(real_feats, fake_feats)
            loss = loss + cfg.gan_weight * adv + cfg.feature_matching_weight * fm
            parts |= {"g_adv": adv.item(), "feature_matching": fm.item()}
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        sched_g.step()
        if net_d is not None:
            # one forward over real and generated halves: DDP allows one forward per backward
            both = net_d(torch.cat([blended, blended]), torch.cat([target, fake.detach()]))
            n = len(target)
            real_d = [[f[:n] for f in scale] for scale in both]
            fake_d = [[f[n:] for f in scale] for scale in both]
            d_loss = discriminator_loss(real_d, fake_d)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            sched_d.step()
            parts["d"] = d_loss.item()
        ema.update(generator)
        done = step + 1
        if done % cfg.log_every == 0:
            loss, parts = _mean_over_ranks(loss.detach(), parts, world)
        if live is not None and done % cfg.log_every == 0:
            live.step = done
            live.log_metric("train/loss", loss.item())
            for name, value in parts.items():
                live.log_metric(f"train/{name}", value)
            live.log_metric("train/lr", sched_g.get_last_lr()[0])
        epoch_end = done % steps_per_epoch == 0
        if rank == 0 and (epoch_end or done % cfg.checkpoint_every == 0):
            if epoch_end and live is not None:
                epoch = done // steps_per_epoch
                metrics = evaluate(ema.model, held_out, baseline=held_out_baseline)
                live.step = done
                for name, value in metrics.items():
                    live.log_metric(f"eval/{name}", value)
                live.log_metric("epoch", epoch)
                grid = sample_grid(ema.model, held_out, cfg.grid_frames)
                live.log_image(f"samples/epoch_{epoch:03d}.png", Image.fromarray(grid))
                score = metrics.get("psnr_face", metrics["psnr"])
                if keep_best and score > best["score"]:
                    state_copy = {k: v.detach().clone() for k, v in ema.model.state_dict().items()}
                    best = {"score": score, "state": state_copy, "metrics": dict(metrics), "epoch": epoch}
                print(
                    f"epoch {epoch}/{cfg.epochs} step {done}: held-out PSNR {metrics['psnr']:.2f} dB "
                    f"(blended {metrics['psnr_blended']:.2f}, reference {metrics['psnr_reference']:.2f}), "
                    f"SSIM {metrics['ssim']:.3f}",
                    flush=True,
                )
            checkpoint_file.save(resume_path, checkpoint(done))
        if world > 1 and (epoch_end or done % cfg.checkpoint_every == 0):
            torch.distributed.barrier()
    if rank == 0:
        if not metrics:
            metrics = evaluate(ema.model, held_out, baseline=held_out_baseline)
        metrics["train_seconds"] = time.perf_counter() - started
        metrics["steps"] = float(total_steps)
        final = checkpoint(total_steps)
        final.pop("fingerprint")
        final.pop("best")
        if keep_best and best["state"] is not None:
            final["generator_ema"] = best["state"]
            final["best_epoch"] = best["epoch"]
            metrics = {**best["metrics"], **{k: metrics[k] for k in ("train_seconds", "steps")}}
        checkpoint_file.save(model_path, final)
        resume_path.unlink(missing_ok=True)
        if live is not None:
            live.end()
    if world > 1:
        torch.distributed.barrier()
    return metrics
