"""``gsmoothface generate``: speech + a reference clip -> a talking-face mp4 with the speech."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "generate", "audio", "blend", "face_model", "render", "slice", "fit_3dmm")

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
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Predict expressions for the audio (A2EP), render them with the reference's pose, identity and
    lighting, blend (MAFB), translate (TAFT), paste back and mux the audio."""
    with stage_errors():
        from gsmoothface.audio import check_audio
        from gsmoothface.generate import (
            check_output,
            generate_video,
            load_pipeline,
            resolve_reference,
            resolve_speaker,
        )
        from gsmoothface.media import load_audio

        stage = open_stage(params, SECTIONS, threads=2)
        base, cfg, audio_cfg = stage.base, stage["generate"], stage["audio"]
        check_output(out)
        wave = load_audio(audio, base.sample_rate)  # ffmpeg: any container, codec, rate and layout
        check_audio(wave, base.sample_rate, audio_cfg.min_duration_s, audio_cfg.silence_peak, str(audio))
        device = stage.device()
        # fails fast on missing models
        pipe = load_pipeline(stage.params, cfg.a2ep_model, cfg.taft_model, device)
        requested = speaker if speaker is not None else cfg.speaker
        resolve_speaker(requested, None, pipe.speakers)  # an unknown speaker fails before any slicing
        # a clip as it is; a raw video sliced and fitted once (cached by content hash)
        ref = resolve_reference(
            reference, cfg, stage.params, device, fps=base.fps, sample_rate=base.sample_rate
        )
        style = resolve_speaker(requested, ref.speaker, pipe.speakers)
        summary = generate_video(
            wave,
            ref,
            pipe.predictor,
            pipe.blender,
            pipe.translator,
            out,
            cfg,
            pipe.size,
            speaker=style,
            sample_rate=base.sample_rate,
            fps=base.fps,
            progress_every=base.progress_every,
        )
        print(
            f"generate: wrote {out} ({summary['frames']} frames, {summary['duration_s']:.2f} s, "
            f"reference {ref.name}, speaker style {style or 'mean'})"
        )
