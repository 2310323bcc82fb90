"""``gsmoothface train-a2ep``: clips' audio features + 3DMM expressions -> models/a2ep.pt."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from stages.common import open_stage, stage_errors, use_threads

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "a2ep", "audio", "face_model")

app = typer.Typer()


@app.command()
def train_a2ep(
    clips: Annotated[
        Path, typer.Option(help="folder of clips (<clip>/meta.json gives speaker and split)")
    ] = Path("data/clips"),
    features: Annotated[Path, typer.Option(help="cached audio features (<clip>.npy)")] = Path("data/audio"),
    fits: Annotated[Path, typer.Option(help="3DMM fits (<clip>.npz with coeff (T, 257))")] = Path(
        "data/3dmm"
    ),
    targets: Annotated[
        Literal["fit", "truth"], typer.Option(help="expression targets: 3DMM fits, or the demo's truth.npz")
    ] = "fit",
    speech: Annotated[
        Path | None,
        typer.Option(
            help="features of synth's audio-only speech (features.npz), trained on beside the clips"
        ),
    ] = None,
    model: Annotated[Path, typer.Option(help="output model file")] = Path("models/a2ep.pt"),
    checkpoint: Annotated[Path, typer.Option(help="resumable training state")] = Path("models/a2ep.ckpt"),
    live: Annotated[Path, typer.Option(help="DVCLive folder (per-step loss, metrics.json)")] = Path(
        "results/a2ep"
    ),
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Train A2EP (GSmoothFace's audio-to-expression transformer); resumes from --checkpoint."""
    with stage_errors():
        from gsmoothface.a2ep.data import load_clips, load_speech
        from gsmoothface.a2ep.loss import expression_basis
        from gsmoothface.a2ep.model import pretrained_encoder, tiny_encoder_config
        from gsmoothface.a2ep.train import train_a2ep as train
        from gsmoothface.audio import load_wav2vec2
        from gsmoothface.config import config_to_dict
        from gsmoothface.face_model import load_face_model

        stage = open_stage(params, SECTIONS)
        base, audio_cfg, cfg = stage.base, stage["audio"], stage["a2ep"]
        face = load_face_model(stage["face_model"])
        data = load_clips(clips, features, fits, targets, base.fps, base.sample_rate)
        if speech is not None:
            data += load_speech(speech / "features.npz", base.fps, base.sample_rate)
        feature_dim = int(data[0].features.shape[1])
        encoder_state = None
        if audio_cfg.frontend == "wav2vec2":
            encoder_config, encoder_state = pretrained_encoder(load_wav2vec2(audio_cfg.wav2vec2_dir), cfg)
        else:
            encoder_config = tiny_encoder_config(feature_dim, cfg)
        info = {
            "encoder_config": encoder_config,
            "audio": config_to_dict(audio_cfg),
            "feature_dim": feature_dim,
            "fps": base.fps,
            "sample_rate": base.sample_rate,
        }
        use_threads(cfg.cpu_threads)
        metrics = train(
            data,
            expression_basis(face, cfg.exp_dim),
            face.mouth_mask.cpu(),
            cfg,
            info,
            base.seed + cfg.seed,
            model,
            checkpoint,
            live,
            stage.device(),
            encoder_state,
            base.progress_every,
        )
        if metrics:  # rank 0 (the only process when not under torchrun)
            summary = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            print(f"a2ep: wrote {model} ({summary})")
