"""``gsmoothface generate``: speech + a reference clip -> a talking-face mp4 with the speech."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from gsmoothface.sections import INFERENCE_SECTIONS
from stages.common import stage_errors

# the params sections the command reads: those of the inference path it shares with the app
SECTIONS = INFERENCE_SECTIONS

app = typer.Typer()


@app.command()
def generate(
    audio: Annotated[Path, typer.Option(help="driving speech (any format, rate, channels, length)")],
    reference: Annotated[
        Path,
        typer.Option(
            help="reference: a clip (data/clips/<clip>, its video.mp4 or name) or any talking-face video"
        ),
    ],
    out: Annotated[Path, typer.Option(help="output mp4 (H.264 + AAC)")],
    speaker: Annotated[
        str | None,
        typer.Option(
            help="A2EP speaker style: a training speaker or 'mean' (default: params generate.speaker)"
        ),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option(
            help="person model from `gsmoothface adapt` (default: the one adapted on the reference video)"
        ),
    ] = None,
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Predict expressions for the audio (A2EP), render them with the reference's pose, identity and
    lighting, blend (MAFB), translate (TAFT), paste back and mux the audio."""
    with stage_errors():
        started = time.perf_counter()
        from gsmoothface.generate.inference import Inference
        from gsmoothface.timing import StepTimes

        Inference.check_output(out)
        inference = Inference.open(params, log=print)  # fails fast on bad params and missing models
        wave = inference.read_audio(audio)
        inference.speaker(speaker)  # an unknown speaker fails before any slicing
        if person is None and (person := inference.person_for(reference)) is not None:
            print(f"generate: using person model '{person}' (adapted on this reference video)")
        if person is not None:
            inference = inference.with_person(person)  # an unknown person fails before any slicing
        # a clip as it is; a raw video or photo sliced and fitted once (cached by content hash)
        ref = inference.reference(reference)
        if person is None and ref.source is not None:
            print(
                "generate: the face model has not seen this person, so the mouth will not look like "
                f"theirs; adapt it first: `gsmoothface adapt {reference} --name NAME`, then --person NAME"
            )
        print(f"generate: models: A2EP {inference.pipe.a2ep_model}, TAFT {inference.pipe.taft_model}")
        if inference.pipe.person_style is not None:
            print(f"generate: mouth motion mapped to {person}'s own speaking style (from their videos)")
        elif person is not None:
            print(f"generate: {person}'s model keeps no audio (adapted by an older version): mean style")
        style = inference.speaker(speaker, ref)
        times = StepTimes()
        summary = inference.generate(wave, ref, out, style, times=times)
        print(
            f"generate: wrote {out} ({summary['frames']} frames, {summary['duration_s']:.2f} s, "
            f"reference {ref.name}, speaker style {style or 'mean'})"
        )
        wall = time.perf_counter() - started
        print(
            f"generate: {wall:.1f} s in all, {summary['frames'] / wall:.1f} frames/s "
            f"({summary['duration_s'] / wall:.2f}x real time); {times.table()}"
        )
