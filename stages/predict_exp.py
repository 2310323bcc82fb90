"""``gsmoothface predict-exp``: audio -> (T, 64) expression coefficients at 25 fps (optional video)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import stage_errors

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
        import torch

        from gsmoothface.a2ep.checkpoint import load_model, trained_audio_config
        from gsmoothface.a2ep.predict import predict_audio
        from gsmoothface.atomic import write_npy
        from gsmoothface.audio import AudioConfig, load_audio, open_frontend
        from gsmoothface.config import BaseConfig, load_section, read_params
        from gsmoothface.device import resolve_device

        raw = read_params(params)
        base = load_section(BaseConfig, "base", raw)
        device = resolve_device(base.device)
        net, info = load_model(model, device)
        torch.set_num_threads(net.cfg.cpu_threads)
        # the front end the model was trained with; only the weights folder comes from this machine's params
        audio_cfg = trained_audio_config(info, load_section(AudioConfig, "audio", raw))
        wave = load_audio(audio, info["sample_rate"], audio_cfg.min_duration_s, audio_cfg.silence_peak)
        frontend = open_frontend(audio_cfg, info["sample_rate"], device)
        if "language" in frontend.describe():
            print(frontend.describe()["language"])
        exp = predict_audio(net, info, frontend, wave, None if speaker == "mean" else speaker)
        write_npy(out, exp)
        print(f"predict-exp: wrote {out} {exp.shape}")
        if video is not None:
            from gsmoothface.a2ep.visualize import render_expressions
            from gsmoothface.face_model import FaceModelConfig, load_face_model

            face = load_face_model(load_section(FaceModelConfig, "face_model", raw)).to(device)
            render_expressions(exp, face, video, audio, fps=info["fps"])
            print(f"predict-exp: wrote {video}")
