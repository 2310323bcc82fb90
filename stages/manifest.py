"""``gsmoothface manifest``: a folder of videos -> the clip manifest that dvc.yaml expands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "slice")

app = typer.Typer()


@app.command()
def manifest(
    input_dir: Annotated[
        Path, typer.Argument(help="folder of source videos (+ HDTF annotation files, manifest.csv)")
    ],
    out: Annotated[Path | None, typer.Option(help="manifest file to write (default: print it)")] = None,
    params: Annotated[Path, typer.Option(help="params file (sections base, slice)")] = Path("params.yaml"),
) -> None:
    """Plan the clips of a folder of videos: HDTF spans and crops, labels, quiet-point cuts.

    Write it to data/manifests/<name>.yaml and point dvc.yaml's `vars` at it; a new video then
    re-runs only its own per-clip stages and what depends on the clip folders.
    """
    with stage_errors():
        import sys

        from gsmoothface.errors import InputError
        from gsmoothface.slicing.manifest import manifest_text, plan_clips, write_clip_manifest

        stage = open_stage(params, SECTIONS)
        base, cfg = stage.base, stage["slice"]
        log = (lambda line: print(line, file=sys.stderr)) if out is None else print
        entries = plan_clips(input_dir, cfg, base.fps, base.sample_rate, log=log)
        if not entries:
            raise InputError(f"{input_dir}: no video could be planned")
        if out is None:
            sys.stdout.write(manifest_text(entries, input_dir.as_posix()))
            return
        write_clip_manifest(out, entries, input_dir.as_posix())
        print(f"manifest: {len(entries)} clip(s) from {input_dir} -> {out}")
