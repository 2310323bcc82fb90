"""``gsmoothface convert-bfm``: raw BFM09 files -> the BFM09 front model (BFM_model_front)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import stage_errors

SECTIONS: tuple[str, ...] = ()  # reads no params

app = typer.Typer()


@app.command()
def convert_bfm(
    bfm_dir: Annotated[
        Path,
        typer.Option(
            help="folder with 01_MorphableModel.mat, Exp_Pca.bin, std_exp.txt, BFM_exp_idx.mat, "
            "BFM_front_idx.mat, facemodel_info.mat"
        ),
    ] = Path("BFM"),
    out: Annotated[
        Path, typer.Option(help="output front model: .npz, or .mat as Deep3DFace writes it")
    ] = Path("models/BFM_model_front.npz"),
    n_exp_vertices: Annotated[
        int, typer.Option(help="vertices of the expression topology in Exp_Pca.bin")
    ] = 53215,
) -> None:
    """Convert the raw BFM09 files into the front model that `face_model.path` points at."""
    with stage_errors():
        from gsmoothface.face_model.bfm_io import convert_bfm09, write_model

        arrays = convert_bfm09(bfm_dir, n_exp_vertices=n_exp_vertices)
        write_model(out, arrays)
        n_vertices = arrays["meanshape"].size // 3
        typer.echo(f"wrote {out}: {n_vertices} vertices, {len(arrays['tri'])} triangles")
