"""``gsmoothface predict-exp``: audio -> (T, 64) expression coefficients at 25 fps (optional video)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors, use_threads

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "audio", "face_model")

app = typer.Typer()


@app.command()
def predict_exp(
    audio: Annotated[Path, typer.Option(help="driving audio (any format, rate, channels)")],
    out: Annotated[Path, typer.Option(help="output .npy, (T, 64) f32, T = round(duration * fps)")],
    speaker: Annotated[str, typer.Option(help="training speaker whose style to use, or 'mean'")] = "mean",
    model: Annotated[Path, typer.Option(help="trained A2EP model")] = Path("models/a2ep.pt"),
    video: Annotated[
        Path | None, typer.Option(help="also render the mean face (no pose) to this mp4")
    ] = None,
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Predict expression coefficients for audio of any length (windows cross-faded, no seams)."""
    with stage_errors():
        from gsmoothface.a2ep.checkpoint import load_model, trained_audio_config
        from gsmoothface.a2ep.predict import predict_audio
        from gsmoothface.atomic import write_npy
        from gsmoothface.audio import load_audio, open_frontend

        stage = open_stage(params, SECTIONS)
        device = stage.device()
        net, info = load_model(model, device)
        use_threads(net.cfg.cpu_threads)
        # the front end the model was trained with; only the weights folder comes from this machine's params
        audio_cfg = trained_audio_config(info, stage["audio"])
        wave = load_audio(audio, info["sample_rate"], audio_cfg.min_duration_s, audio_cfg.silence_peak)
        frontend = open_frontend(audio_cfg, info["sample_rate"], device)
        if "language" in frontend.describe():
            print(frontend.describe()["language"])
        exp = predict_audio(net, info, frontend, wave, None if speaker == "mean" else speaker)
        write_npy(out, exp)
        print(f"predict-exp: wrote {out} {exp.shape}")
        if video is not None:
            from gsmoothface.a2ep.visualize import render_expressions
            from gsmoothface.face_model import load_face_model

            face = load_face_model(stage["face_model"]).to(device)
            render_expressions(exp, face, video, audio, fps=info["fps"])
            print(f"predict-exp: wrote {video}")
