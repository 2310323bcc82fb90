"""``gsmoothface translate``: a clip + 3DMM coefficients (any expression sequence) -> TAFT video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors, use_threads

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "blend", "taft", "face_model", "render")

app = typer.Typer()


@app.command()
def translate(
    clip: Annotated[Path, typer.Option(help="clip folder (video.mp4), the target video")],
    out: Annotated[Path, typer.Option(help="output mp4")],
    fit: Annotated[Path | None, typer.Option(help="3DMM fit npz (default data/3dmm/<clip>.npz)")] = None,
    expression: Annotated[
        Path | None,
        typer.Option(
            help="expressions to render: .npy (N,64) or (N,257), or .npz with exp/coeff; default: fit"
        ),
    ] = None,
    audio: Annotated[Path | None, typer.Option(help="audio muxed into the output")] = None,
    model: Annotated[Path, typer.Option(help="TAFT checkpoint")] = Path("models/taft.pt"),
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Render each frame with the given expression, blend (MAFB) and translate it with the EMA TAFT."""
    with stage_errors():
        import tempfile

        import numpy as np

        from gsmoothface.blend import MafbBlender
        from gsmoothface.errors import InputError
        from gsmoothface.face_model import load_face_model
        from gsmoothface.media import VideoWriter, iter_frames, probe
        from gsmoothface.progress import progress
        from gsmoothface.taft.checkpoint import load_generator
        from gsmoothface.taft.translate import read_expression, translate_clip

        stage = open_stage(params, SECTIONS)
        base, blend_cfg, taft_cfg = stage.base, stage["blend"], stage["taft"]
        fit = fit or Path("data/3dmm") / f"{clip.name}.npz"
        video = clip / "video.mp4"
        if not fit.is_file() or not video.is_file():
            raise InputError(f"missing {fit} or {video}")
        with np.load(fit) as data:
            coeff, trans_params = data["coeff"].astype(np.float32), data["trans_params"].astype(np.float64)
        exp = read_expression(expression) if expression is not None else None
        device = stage.device()
        generator, meta = load_generator(model, device)
        size = int(meta["size"])
        if size != blend_cfg.size:
            raise InputError(f"{model} was trained at {size} px but blend.size is {blend_cfg.size}")
        info = probe(video)
        if info.n_frames and info.n_frames < len(coeff):
            coeff, trans_params = coeff[: info.n_frames], trans_params[: info.n_frames]
        face = load_face_model(stage["face_model"])
        blender = MafbBlender(face, blend_cfg, stage["render"].backend, str(device))
        use_threads(taft_cfg.threads)
        n_out = len(exp) if exp is not None else len(coeff)
        with tempfile.TemporaryDirectory(
            prefix=".translate.", dir=out.parent if out.parent.exists() else None
        ) as tmp:
            # the clip's frames at the TAFT size, on disk: random access for ping-pong, flat memory
            frames = np.lib.format.open_memmap(
                Path(tmp) / "frames.npy", mode="w+", dtype=np.uint8, shape=(len(coeff), size, size, 3)
            )
            start = 0
            for chunk in iter_frames(video, chunk=64, size=size):
                take = chunk[: len(coeff) - start]
                frames[start : start + len(take)] = take
                start += len(take)
            if start < len(coeff):
                raise InputError(f"{video}: {start} frames decoded, the fit has {len(coeff)}")
            batches = translate_clip(
                generator, blender, frames, coeff, trans_params, exp, batch_size=taft_cfg.translate_batch
            )
            n_batches = -(-n_out // taft_cfg.translate_batch)
            with VideoWriter(out, size, size, fps=base.fps, audio_path=audio) as writer:
                for batch in progress(
                    batches, "translate batches", total=n_batches, every=base.progress_every
                ):
                    writer.write(batch)
        print(f"translate: wrote {out} ({n_out} frames at {size}x{size})")
