"""``gsmoothface evaluate``: held-out clips driven by their own audio, compared with the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "evaluate", "audio", "blend", "face_model", "render")

app = typer.Typer()


@app.command()
def evaluate(
    out_dir: Annotated[Path, typer.Option(help="report folder")] = Path("results/eval"),
    cache_dir: Annotated[
        Path | None, typer.Option(help="keep decoded clip frames here (default: a temporary folder)")
    ] = None,
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """PSNR, SSIM, LMD, CPBD, lip vertex / expression error (and SyncNet when weights are given),
    with the reference-copy, blended and speaker-mean baselines, per clip and overall."""
    with stage_errors():
        import tempfile

        import torch

        from gsmoothface.atomic import atomic_dir
        from gsmoothface.config import config_to_dict
        from gsmoothface.errors import InputError
        from gsmoothface.evaluation.evaluate import Evaluator, eval_clips, speaker_mean_expressions
        from gsmoothface.evaluation.report import write_report
        from gsmoothface.generate import PipelineConfig, load_pipeline
        from gsmoothface.progress import progress

        stage = open_stage(params, SECTIONS, threads=2)
        base, cfg = stage.base, stage["evaluate"]
        clips = eval_clips(cfg)
        if not clips:
            raise InputError(f"{cfg.clips_dir}: no clip with split in {list(cfg.splits)} (meta.json)")
        device = stage.device()
        torch.manual_seed(base.seed)
        pipe_cfg = PipelineConfig(
            blend=stage["blend"], audio=stage["audio"], face_model=stage["face_model"], render=stage["render"]
        )
        pipe = load_pipeline(
            pipe_cfg, cfg.a2ep_model, cfg.taft_model, device, section="evaluate", precision=cfg.precision
        )
        syncnet, reason = None, "evaluate.syncnet_weights is not set (a local syncnet_v2.model)"
        if cfg.syncnet_weights is not None:
            from gsmoothface.evaluation.syncnet import load_syncnet

            syncnet, reason = load_syncnet(cfg.syncnet_weights, device), None
        landmarks = None
        if cfg.landmark_source != "sidecar":
            from gsmoothface.landmarks import open_landmark_source

            landmarks = open_landmark_source(
                cfg.landmark_source, fan_weights=cfg.fan_weights, device=str(device)
            )
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        # decoded clip frames (memory-mapped), next to the report rather than in a RAM-backed /tmp
        scratch = tempfile.TemporaryDirectory(prefix=".evaluate.", dir=out_dir.parent)
        evaluator = Evaluator(
            cfg,
            pipe.face_model,
            pipe.blender,
            pipe.translator,
            pipe.size,
            pipe.predictor,
            pipe.speakers,
            speaker_mean_expressions(cfg),
            cache_dir or Path(scratch.name),
            landmarks=landmarks,
            syncnet=syncnet,
            sample_rate=base.sample_rate,
        )
        rows, jaw = [], {}
        with scratch, atomic_dir(out_dir) as tmp:
            for k, (clip_dir, meta) in enumerate(progress(clips, "evaluate clips", every=1)):
                video = tmp / "videos" / f"{clip_dir.name}.mp4" if k < cfg.n_videos else None
                result = evaluator.evaluate_clip(clip_dir, meta, video)
                rows.append(result.row)
                jaw[result.row["clip"]] = result.jaw
            config = {"evaluate": config_to_dict(cfg), "base": config_to_dict(base)}
            summary = write_report(tmp, rows, jaw, reason, config)
        gen, copy = summary["generated"], summary["reference_copy"]
        print(
            f"evaluate: {summary['n_clips']} clips, PSNR {gen['psnr']:.2f} dB (reference copy "
            f"{copy['psnr']:.2f}), LMD {gen['lmd']:.2f} px (reference copy {copy['lmd']:.2f}), "
            f"LVE {summary['a2ep']['lve_mm']:.3f} mm; wrote {out_dir}/metrics.json"
        )
