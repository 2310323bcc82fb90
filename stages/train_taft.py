"""``gsmoothface train-taft``: packed MAFB arrays -> models/taft.pt and results/taft (DVCLive)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors, use_threads

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "taft")

app = typer.Typer()


@app.command()
def train_taft(
    blended: Annotated[
        Path, typer.Option(help="packed MAFB arrays (<clip>/), from `gsmoothface blend`")
    ] = Path("data/blended"),
    model: Annotated[Path, typer.Option(help="output checkpoint")] = Path("models/taft.pt"),
    checkpoint: Annotated[Path, typer.Option(help="resumable training state")] = Path("models/taft.ckpt"),
    live: Annotated[
        Path, typer.Option(help="DVCLive folder (losses, held-out PSNR/SSIM, sample grids)")
    ] = Path("results/taft"),
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Train TAFT (reference + blended frame -> true frame); resumes from --checkpoint.

    Runs unchanged as one CPU process or under ``torchrun`` (DistributedDataParallel).
    """
    with stage_errors():
        from gsmoothface.blend import list_blended
        from gsmoothface.errors import InputError
        from gsmoothface.taft.train import train_taft as train

        stage = open_stage(params, SECTIONS)
        base, cfg = stage.base, stage["taft"]
        train_clips = list_blended(blended, cfg.train_split)
        eval_clips = list_blended(blended, cfg.eval_split)
        if not train_clips or not eval_clips:
            raise InputError(
                f"{blended}: need clips of split '{cfg.train_split}' ({len(train_clips)} found) and "
                f"'{cfg.eval_split}' ({len(eval_clips)} found) (taft.train_split / taft.eval_split)"
            )
        sizes = {c.size for c in train_clips + eval_clips}
        if len(sizes) != 1 or next(iter(sizes)) % 2**cfg.layers:
            raise InputError(f"{blended}: clip sizes {sorted(sizes)} must agree and divide by 2**taft.layers")
        use_threads(cfg.threads)
        metrics = train(train_clips, eval_clips, cfg, base, model, live, checkpoint, stage.device())
        if metrics:
            summary = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            print(f"train-taft: wrote {model} ({summary})")
