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
    clip: Annotated[Path, typer.Option(help="clip folder (video.mp4, meta.json), the target video")],
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
    """Render each frame with the given expression, blend (MAFB), translate it with the EMA TAFT and
    paste the lower face back into the clip's frame (``generate``'s path, without A2EP)."""
    with stage_errors():
        import tempfile

        from gsmoothface.blend import MafbBlender
        from gsmoothface.errors import InputError
        from gsmoothface.face_model import load_face_model
        from gsmoothface.generate import GenerateConfig, drive, frame_store, open_reference, taft_translator
        from gsmoothface.generate.drive import EXP
        from gsmoothface.media import VideoWriter
        from gsmoothface.model_file import check_model_file
        from gsmoothface.progress import progress
        from gsmoothface.taft.checkpoint import load_generator
        from gsmoothface.taft.translate import read_expression

        stage = open_stage(params, SECTIONS)
        base, blend_cfg, taft_cfg = stage.base, stage["blend"], stage["taft"]
        fit = fit or Path("data/3dmm") / f"{clip.name}.npz"
        reference = open_reference(clip, GenerateConfig(clips_dir=clip.parent), fit=fit)
        exp = read_expression(expression) if expression is not None else reference.coeff[:, EXP]
        check_model_file(model, "TAFT model", "--model; train it with `dvc repro train_taft`")
        device = stage.device()
        generator, meta = load_generator(model, device)
        size = int(meta["size"])
        if size != blend_cfg.size:
            raise InputError(f"{model} was trained at {size} px but blend.size is {blend_cfg.size}")
        blender = MafbBlender(
            load_face_model(stage["face_model"]), blend_cfg, stage["render"].backend, str(device)
        )
        use_threads(taft_cfg.threads)
        chunk = taft_cfg.translate_batch
        folder = out.parent if out.parent.exists() else None
        with tempfile.TemporaryDirectory(prefix=".translate.", dir=folder) as tmp:
            store = frame_store(reference.video, Path(tmp), reference.n_frames)  # flat memory, any order
            _, height, width, _ = store.shape
            chunks = drive(reference, exp, store, blender, taft_translator(generator), size, chunk)
            with VideoWriter(out, width, height, fps=base.fps, audio_path=audio) as writer:
                total = -(-len(exp) // chunk)
                for driven in progress(chunks, "translate batches", total=total, every=base.progress_every):
                    writer.write(driven.generated)
        print(f"translate: wrote {out} ({len(exp)} frames at {width}x{height}, TAFT at {size} px)")
