"""``gsmoothface synth``: the embedded default dataset -> data/raw/demo (videos, truth, sidecars)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from stages.common import stage_errors

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
        import torch

        from gsmoothface.config import BaseConfig, load_section, read_params
        from gsmoothface.face_model import FaceModelConfig
        from gsmoothface.synth import SynthConfig, build_corpus

        # many small tensor ops per frame: one thread avoids oversubscribing the renderer's threads
        torch.set_num_threads(1)
        raw = read_params(params)
        base = load_section(BaseConfig, "base", raw)
        cfg = load_section(SynthConfig, "synth", raw)
        face_cfg = load_section(FaceModelConfig, "face_model", raw)
        start = time.perf_counter()
        # the corpus renders on the CPU whatever the device, so its frames never depend on the GPU
        meta = build_corpus(out_dir, contact_sheet, cfg, base, face_cfg, render_backend="cpu")
        print(
            f"synth: {len(meta['videos'])} videos, {meta['total_duration_s']:.1f} s of video "
            f"({meta['voice_source']} speech) in {out_dir}, {time.perf_counter() - start:.1f} s"
        )
