"""``gsmoothface adapt``: a person's own videos -> ``models/people/<name>/`` (TAFT fine-tuned on them)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors, use_threads

# the params sections the command reads (dvc.yaml lists the same for the adapt stage)
SECTIONS = ("base", "adapt", "taft", "slice", "fit_3dmm", "face_model", "blend", "render")

app = typer.Typer()


@app.command()
def adapt(
    videos: Annotated[
        list[Path], typer.Argument(help="videos of one person, or folders of them (8 s to minutes in all)")
    ],
    name: Annotated[str, typer.Option(help="the person's name: models/people/<name>/")],
    minutes: Annotated[
        float | None, typer.Option(help="wall-clock budget in minutes (default: params adapt.minutes)")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="exact optimiser steps instead of the budget (default: adapt.steps)")
    ] = None,
    glob: Annotated[str, typer.Option(help="in a folder, only the videos matching this pattern")] = "*",
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Slice, fit and blend the videos, then fine-tune TAFT from the base model on them, scoring a
    held-out tail every epoch and keeping the best; resumes after a kill, returns at once when up to date."""
    with stage_errors():
        from gsmoothface.people.adapt import adapt_person

        stage = open_stage(params, SECTIONS)
        cfg = stage["adapt"]
        overrides = {k: v for k, v in (("minutes", minutes), ("steps", steps)) if v is not None}
        cfg = dataclasses.replace(cfg, **overrides)
        use_threads(stage["taft"].threads)
        card = adapt_person(videos, name, stage.params, cfg, stage.base, stage.device(), glob)
        print(f"adapt: person '{card['name']}' ready: use `gsmoothface generate --person {card['name']} ...`")
