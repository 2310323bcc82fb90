"""``gsmoothface slice``: raw videos -> data/clips/<clip>/{video.mp4, audio.wav, meta.json} (+ sidecars)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import stage_errors

app = typer.Typer()


@app.command()
def slice(
    input_dir: Annotated[
        Path | None, typer.Option(help="folder of source videos (default: params slice.input_dir)")
    ] = None,
    output_dir: Annotated[
        Path | None, typer.Option(help="clips folder (default: params slice.output_dir)")
    ] = None,
    video: Annotated[
        list[str] | None, typer.Option(help="only this video, by file name or stem (repeatable)")
    ] = None,
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Cut, crop (one stable face box per clip) and resample videos to 25 fps / 16 kHz clips."""
    with stage_errors():
        import dataclasses

        from gsmoothface.config import BaseConfig, load_section, read_params
        from gsmoothface.errors import InputError
        from gsmoothface.slicing import SliceConfig, slice_folder

        raw = read_params(params)
        base = load_section(BaseConfig, "base", raw)
        cfg = load_section(SliceConfig, "slice", raw)
        overrides = {"input_dir": input_dir, "output_dir": output_dir}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
        device = "cpu"
        if cfg.detector == "fan":
            from gsmoothface.device import resolve_device

            device = str(resolve_device(base.device))
        report = slice_folder(
            cfg,
            fps=base.fps,
            sample_rate=base.sample_rate,
            device=device,
            videos=video or (),
            progress_every=base.progress_every,
        )
        print(f"slice: {len(report.clips)} clip(s) in {cfg.output_dir}, {len(report.failures)} failure(s)")
        if not report.clips:
            first = report.failures[0] if report.failures else "no span to cut"
            raise InputError(f"no clip was written from {cfg.input_dir}: {first}")
        if report.failures and cfg.strict:
            raise InputError(
                f"{len(report.failures)} video(s)/span(s) failed and slice.strict is true; first: "
                f"{report.failures[0]}"
            )
