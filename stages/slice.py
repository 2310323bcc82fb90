"""``gsmoothface slice``: raw videos -> data/clips/<clip>/{video.mp4, audio.wav, meta.json} (+ sidecars)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "slice")

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
    clip: Annotated[
        str | None,
        typer.Option(help="write only this clip of a manifest (with --source, --span, --crop, labels)"),
    ] = None,
    source: Annotated[Path | None, typer.Option(help="--clip: the source video file")] = None,
    span: Annotated[
        str, typer.Option(help="--clip: '<start>-<end>' seconds, 'end' = end of video")
    ] = "0-end",
    crop: Annotated[
        str, typer.Option(help="--clip: 'auto' (from landmarks) or '<x0>,<y0>,<side>' px")
    ] = "auto",
    speaker: Annotated[str | None, typer.Option(help="--clip: speaker label (default: video stem)")] = None,
    speaker_index: Annotated[int, typer.Option(help="--clip: speaker index (A2EP style)")] = 0,
    split: Annotated[str, typer.Option(help="--clip: train | val | test")] = "train",
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Cut, crop (one stable face box per clip) and resample videos to 25 fps / 16 kHz clips.

    Without --clip every video of the input folder is sliced; with --clip one manifest entry
    (`gsmoothface manifest`) is written to <output-dir>/<clip>, as the per-clip DVC stage does.
    """
    with stage_errors():
        import dataclasses

        from gsmoothface.errors import InputError
        from gsmoothface.slicing import ClipEntry, slice_clip, slice_folder
        from gsmoothface.slicing.manifest import parse_crop, parse_span

        stage = open_stage(params, SECTIONS)
        base, cfg = stage.base, stage["slice"]
        overrides = {"input_dir": input_dir, "output_dir": output_dir}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
        device = str(stage.device()) if cfg.detector == "fan" else "cpu"
        if clip is not None:
            if source is None:
                raise InputError("--clip needs --source (the video the clip is cut from)")
            start_s, end_s = parse_span(span)
            entry = ClipEntry(
                clip,
                source.as_posix(),
                source.as_posix(),  # landmarks: a sidecar next to the video is found by the slicer
                start_s,
                end_s,
                parse_crop(crop),
                speaker or source.stem,
                speaker_index,
                split,
            )
            result = slice_clip(entry, cfg, base.fps, base.sample_rate, device)
            print(f"slice: {result.path}: {result.frames} frames from {source} at {result.start_s:.2f} s")
            return
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
