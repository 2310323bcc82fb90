"""A2EP training: one explicit loop, DVCLive logging, resumable checkpoints, DDP under torchrun.

The same function runs single-process on a laptop and under ``torchrun --nproc_per_node N``
(DistributedDataParallel; gloo on CPU, NCCL on GPUs): every process takes its share of each global
batch of ``a2ep.batch_size`` windows, and only rank 0 validates, logs and writes files.

Randomness is a function of ``(seed, step, rank)``: the data order comes from
:class:`~gsmoothface.a2ep.data.WindowSampler` and the dropout/SpecAugment generators are reseeded
every step, so a run resumed from a checkpoint (weights, Adam state, step, loss history) repeats
the uninterrupted run's loss curve exactly.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gsmoothface.a2ep import checkpoint as ckpt
from gsmoothface.a2ep.config import A2EPConfig
from gsmoothface.a2ep.data import ClipData, WindowSampler, collate, training_speakers
from gsmoothface.a2ep.loss import ExpressionLoss, lip_vertex_error, pearson
from gsmoothface.a2ep.model import A2EP
from gsmoothface.a2ep.predict import predict_expressions, speaker_code
from gsmoothface.config import config_to_dict
from gsmoothface.errors import GsmoothfaceError
from gsmoothface.live import prepare_live_resume
from gsmoothface.progress import progress


class TrainingDiverged(GsmoothfaceError):
    """The training loss became NaN or infinite."""


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _reseed(seed: int, step: int, rank: int) -> None:
    """Seed torch and numpy (HF SpecAugment draws from numpy) for one step of one process."""
    value = (seed * 1_000_003 + step * 7_919 + rank) % (2**32)
    torch.manual_seed(value)
    np.random.seed(value)


def speaker_means(clips: list[ClipData], speakers: list[str]) -> dict[str, np.ndarray]:
    """Mean training expression per speaker, plus ``"mean"`` over all training frames: the baselines."""
    train = [c for c in clips if c.split == "train"]
    means = {s: np.concatenate([c.exp for c in train if c.speaker == s]).mean(0) for s in speakers}
    means["mean"] = np.concatenate([c.exp for c in train]).mean(0)
    return means


def evaluate(
    model: A2EP,
    clips: list[ClipData],
    speakers: list[str],
    baselines: dict[str, np.ndarray],
    lip_basis: np.ndarray,
) -> dict[str, float]:
    """Held-out metrics per split (``val``: seen speakers, later time; ``test``: unseen speakers).

    For each split: ``lve`` (FaceFormer lip vertex error of the prediction), ``lve_baseline`` (of the
    speaker's mean training expression; the overall mean for unseen speakers), ``lve_reduction``
    (1 - lve / lve_baseline), ``jaw_pearson`` (correlation of expression component 0, the jaw
    opening of the synthetic model) and ``exp_mse``. Unseen speakers use the mean style.
    """
    cfg = model.cfg
    metrics: dict[str, float] = {}
    for split in ("val", "test"):
        held = [c for c in clips if c.split == split]
        if not held:
            continue
        preds, truths, bases = [], [], []
        for clip in held:
            style = clip.speaker if clip.speaker in speakers else None
            code = speaker_code(speakers, style)
            pred = predict_expressions(
                model, clip.features, code, cfg.predict_window, cfg.predict_overlap, cfg.predict_batch
            )
            preds.append(pred)
            truths.append(clip.exp)
            bases.append(np.broadcast_to(baselines[style or "mean"], clip.exp.shape))
        pred, truth, base = (np.concatenate(x) for x in (preds, truths, bases))  # (sum T, 64)
        lve = lip_vertex_error(pred, truth, lip_basis)
        lve_base = lip_vertex_error(base, truth, lip_basis)
        metrics[f"{split}/lve"] = lve
        metrics[f"{split}/lve_baseline"] = lve_base
        metrics[f"{split}/lve_reduction"] = 1.0 - lve / lve_base if lve_base > 0 else 0.0
        metrics[f"{split}/jaw_pearson"] = pearson(pred[:, 0], truth[:, 0])
        metrics[f"{split}/exp_mse"] = float(((pred - truth) ** 2).mean())
    return metrics


def train_a2ep(
    clips: list[ClipData],
    basis: torch.Tensor,
    mouth_mask: torch.Tensor,
    cfg: A2EPConfig,
    info: dict[str, Any],
    seed: int,
    model_path: Path,
    checkpoint_path: Path,
    live_dir: Path,
    device: torch.device,
    encoder_state: dict[str, torch.Tensor] | None = None,
    progress_every: int = 50,
) -> dict[str, float]:
    """Train A2EP and write ``model_path`` (format in :mod:`gsmoothface.a2ep.checkpoint`).

    Parameters
    ----------
    clips: all clips; ``train`` ones are trained on, ``val``/``test`` ones evaluated every epoch.
    basis: (64, N, 3) expression basis of the face model; mouth_mask: (N,) bool.
    cfg: the ``a2ep`` section.
    info: model-file metadata: ``encoder_config``, ``audio``, ``feature_dim``, ``fps``, ``sample_rate``.
    seed: ``base.seed + a2ep.seed``.
    model_path, checkpoint_path, live_dir: outputs (final model, resumable state, DVCLive folder).
    encoder_state: pretrained wav2vec2 weights without the CNN (recipe), or None.

    Returns
    -------
    The final held-out metrics (also in ``live_dir/metrics.json`` and the model file).

    Raises
    ------
    TrainingDiverged: the loss became NaN or infinite.
    """
    rank, world = _distributed()
    speakers = training_speakers(clips)
    train_clips = [c for c in clips if c.split == "train"]
    sampler = WindowSampler(train_clips, cfg.window, cfg.batch_size, seed)
    total_steps = cfg.epochs * sampler.steps_per_epoch
    info = {**info, "format": ckpt.FORMAT, "config": config_to_dict(cfg), "speakers": speakers}
    data_key = [(c.name, c.split, c.speaker, c.exp.shape[0], float(np.abs(c.exp).sum())) for c in clips]
    key = ckpt.fingerprint(info, seed, data_key)

    torch.manual_seed(seed)
    model = ckpt.build_model(info)
    if encoder_state is not None:
        model.audio_encoder.wav2vec2.load_state_dict(encoder_state)
    model.to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, eps=cfg.eps)
    loss_fn = ExpressionLoss(basis, mouth_mask, cfg.mouth_weight, cfg.supervise_exp).to(device)
    lip_basis = basis[:, mouth_mask.cpu()].numpy()  # (64, L, 3)
    baselines = speaker_means(clips, speakers)

    start, history = 0, []
    if checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        if state.get("fingerprint") == key:
            model.load_state_dict(state["state_dict"])
            optimizer.load_state_dict(state["optimizer"])
            start, history = state["step"], state["history"]
            if rank == 0:
                print(f"a2ep: resuming from {checkpoint_path} at step {start}/{total_steps}", flush=True)
        elif rank == 0:
            print(f"a2ep: {checkpoint_path} belongs to another config or data; starting afresh", flush=True)
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )

    live = None
    if rank == 0:
        from dvclive import Live

        if start:
            prepare_live_resume(live_dir, start)
        live = Live(str(live_dir), resume=start > 0, dvcyaml=False, save_dvc_exp=False)
        live.step = start
        live.log_params({"a2ep": config_to_dict(cfg), "speakers": speakers, "world_size": world})

    def save_checkpoint(step: int) -> None:
        state = {**info, "state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}
        ckpt.save(checkpoint_path, {**state, "step": step, "history": history, "fingerprint": key})

    metrics: dict[str, float] = {}
    started = time.perf_counter()
    steps = range(start, total_steps)
    for step in progress(steps, "train a2ep", every=progress_every) if rank == 0 else steps:
        net.train()
        _reseed(seed, step, rank)
        feats, one_hot, exp = collate(train_clips, sampler.batch(step)[rank::world], cfg.window, speakers)
        pred = net(feats.to(device), one_hot.to(device), exp.to(device))
        loss = loss_fn(pred, exp.to(device))
        value = loss.detach().clone()
        if world > 1:
            torch.distributed.all_reduce(value)
            value /= world
        if not torch.isfinite(value):
            raise TrainingDiverged(
                f"a2ep: training loss became {value.item()} at step {step} "
                f"(epoch {step // sampler.steps_per_epoch}); "
                f"lower a2ep.lr (now {cfg.lr:g}) or check the expression targets; "
                f"the last good state is in {checkpoint_path}"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(float(value))
        done = step + 1
        if live is not None:
            live.log_metric("train/loss", float(value))
            if done % (sampler.steps_per_epoch * cfg.val_every) == 0 or done == total_steps:
                metrics = evaluate(model, clips, speakers, baselines, lip_basis)
                metrics["epoch"] = float(done // sampler.steps_per_epoch)
                for name, val in metrics.items():
                    live.log_metric(name, val)
            if done % cfg.checkpoint_every == 0 or done == total_steps:
                save_checkpoint(done)
            live.next_step()

    if live is not None:
        if not metrics:  # resumed after the last step: evaluate the loaded model
            metrics = evaluate(model, clips, speakers, baselines, lip_basis)
            metrics["epoch"] = float(total_steps // sampler.steps_per_epoch)
            for name, val in metrics.items():
                live.log_metric(name, val, plot=False)
        metrics["final_train_loss"] = history[-1] if history else float("nan")
        # the model file holds only what the run determines (no wall-clock time), so identical runs
        # give identical files and DVC's run cache and downstream stages see no change
        ckpt.save(model_path, {**info, "state_dict": model.state_dict(), "metrics": dict(metrics)})
        checkpoint_path.unlink(missing_ok=True)  # finished: a forced re-run trains afresh
        live.log_metric("final_train_loss", metrics["final_train_loss"], plot=False)
        live.end()
        # printed by the stage, kept out of the logged metrics so that identical runs log identical files
        metrics["train_seconds_this_run"] = time.perf_counter() - started
    if world > 1:
        torch.distributed.barrier()
    return metrics
