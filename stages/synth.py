"""``gsmoothface synth``: the embedded default dataset -> data/raw/demo (videos, truth, sidecars)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "synth", "face_model", "render")

app = typer.Typer()


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option(help="corpus folder (replaced when complete)")] = Path(
        "data/raw/demo"
    ),
    contact_sheet: Annotated[Path, typer.Option(help="PNG of decoded frames to look at")] = Path(
        "results/synth/contact_sheet.png"
    ),
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Generate the synthetic talking-face corpus: speakers, speech, videos, ground truth, split."""
    with stage_errors():
        from gsmoothface.synth import build_corpus

        # many small tensor ops per frame: one thread avoids oversubscribing the renderer's threads
        stage = open_stage(params, SECTIONS, threads=1)
        base, cfg, face_cfg = stage.base, stage["synth"], stage["face_model"]
        start = time.perf_counter()
        # the corpus renders on the CPU whatever the device, so its frames never depend on the GPU
        meta = build_corpus(out_dir, contact_sheet, cfg, base, face_cfg, render_backend="cpu")
        print(
            f"synth: {len(meta['videos'])} videos, {meta['total_duration_s']:.1f} s of video "
            f"({meta['voice_source']} speech) in {out_dir}, {time.perf_counter() - start:.1f} s"
        )
