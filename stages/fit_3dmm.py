"""``gsmoothface fit-3dmm``: clips -> data/3dmm/<clip>.npz (257 coefficients per frame) + <clip>.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors, use_threads

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "fit_3dmm", "face_model", "render")

app = typer.Typer()


@app.command()
def fit_3dmm(
    clips: Annotated[Path, typer.Option(help="clips folder (data/clips/<clip>/video.mp4)")] = Path(
        "data/clips"
    ),
    out: Annotated[Path, typer.Option(help="output folder for <clip>.npz and <clip>.json")] = Path(
        "data/3dmm"
    ),
    clip: Annotated[
        list[str] | None, typer.Option(help="fit only this clip (folder name; repeatable)")
    ] = None,
    overlays: Annotated[
        Path | None, typer.Option(help="also write <clip>.png: detected vs fitted landmarks on a few frames")
    ] = None,
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Fit Deep3DFace 3DMM coefficients to every frame of every clip (R-Net and/or optimisation)."""
    with stage_errors():
        import time

        import torch

        from gsmoothface.atomic import write_json
        from gsmoothface.config import config_to_dict
        from gsmoothface.errors import InputError
        from gsmoothface.face_model import load_face_model
        from gsmoothface.fitting import fit_clip, load_fitter_net
        from gsmoothface.fitting.overlay import write_overlay
        from gsmoothface.fitting.truth import truth_metrics
        from gsmoothface.progress import progress

        stage = open_stage(params, SECTIONS)
        base, cfg, face_cfg, render_cfg = stage.base, stage["fit_3dmm"], stage["face_model"], stage["render"]
        if clip:
            clip_dirs = [clips / name for name in clip]
            missing = [str(d) for d in clip_dirs if not d.is_dir()]
            if missing:
                raise InputError(f"clip folder(s) not found: {', '.join(missing)}")
        else:
            clip_dirs = (
                sorted(d for d in clips.iterdir() if (d / "video.mp4").is_file()) if clips.is_dir() else []
            )
        if not clip_dirs:
            raise InputError(f"no clips (folders with video.mp4) in {clips}: run `gsmoothface slice` first")

        use_threads(cfg.threads)
        torch.manual_seed(base.seed)
        device = stage.device()
        model = load_face_model(face_cfg).to(device)
        model_name = (
            str(face_cfg.path) if face_cfg.path is not None else f"synthetic(seed={face_cfg.synthetic_seed})"
        )
        net = load_fitter_net(cfg, device)
        resolved = {
            "base": config_to_dict(base),
            "face_model": config_to_dict(face_cfg),
            "fit_3dmm": config_to_dict(cfg),
        }
        for clip_dir in progress(clip_dirs, "fit_3dmm clips", every=1):
            start = time.perf_counter()
            fit = fit_clip(
                clip_dir, cfg, model, model_name=model_name, net=net, render_backend=render_cfg.backend
            )
            seconds = time.perf_counter() - start
            fit.save(out / f"{clip_dir.name}.npz")
            summary = fit.summary()
            # timings go to stdout only: the report is an output and must not change between runs
            report = {"clip": clip_dir.name, "fit": summary, "config": resolved}
            if face_cfg.path is None and (clip_dir / "truth.npz").is_file():
                # the embedded demo knows its coefficients: score the fit against them
                report["truth"] = truth_metrics(fit, clip_dir / "truth.npz", model)
            write_json(out / f"{clip_dir.name}.json", report)
            if overlays is not None:
                write_overlay(overlays / f"{clip_dir.name}.png", clip_dir, fit, model)
            print(
                f"fit_3dmm {clip_dir.name}: {summary['frames']} frames, "
                f"{summary['valid_fraction']:.1%} valid, "
                f"residual {summary['residual_mean_px']:.2f} px at 224, "
                f"{fit.coeff.shape[0] / seconds:.1f} frames/s"
            )
