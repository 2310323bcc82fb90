"""``gsmoothface audio-features``: clips' audio -> cached 50 Hz front-end features for A2EP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "audio")

app = typer.Typer()


@app.command()
def audio_features(
    clips: Annotated[Path, typer.Option(help="folder of clips (<clip>/audio.wav)")] = Path("data/clips"),
    out: Annotated[
        Path, typer.Option(help="output folder: <clip>.npy (n, C) f32 at 50 Hz + <clip>.json")
    ] = Path("data/audio"),
    clip: Annotated[list[str] | None, typer.Option(help="only these clips (repeatable); default all")] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="synth's speech.npz instead of clips: writes <out>/features.npz, clean + augmented"
        ),
    ] = None,
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Compute the frozen audio front end (phones, log-mel, or the wav2vec2 CNN) of every clip's audio."""
    with stage_errors():
        from gsmoothface.atomic import write_json, write_npy
        from gsmoothface.audio import load_audio, open_frontend
        from gsmoothface.config import config_to_dict
        from gsmoothface.errors import InputError
        from gsmoothface.progress import progress

        stage = open_stage(params, SECTIONS)
        base, cfg = stage.base, stage["audio"]
        if corpus is not None:
            from gsmoothface.audio.corpus import write_corpus_features

            write_corpus_features(corpus, out, cfg, base.sample_rate, base.seed, base.progress_every)
            return
        if clip:
            names = list(clip)
        else:
            names = sorted(p.parent.name for p in clips.glob("*/audio.wav")) if clips.is_dir() else []
        if not names:
            raise InputError(f"{clips}: no clips with audio.wav found (run gsmoothface slice)")
        wavs = [clips / name / "audio.wav" for name in names]
        for wav in wavs:
            if not wav.is_file():
                raise InputError(f"{wav}: clip audio not found")
        device = stage.device() if cfg.frontend == "wav2vec2" else "cpu"  # only wav2vec2 needs torch
        frontend = open_frontend(cfg, base.sample_rate, device)
        if cfg.frontend == "phonetic":
            print(frontend.describe()["language"])
        for name, wav in progress(
            list(zip(names, wavs, strict=True)), "audio features", every=base.progress_every
        ):
            audio = load_audio(wav, base.sample_rate, cfg.min_duration_s, cfg.silence_peak)
            feats = frontend(audio, str(wav))  # (n, C) at 50 Hz
            write_npy(out / f"{name}.npy", feats)
            meta = {
                **frontend.describe(),
                "clip": name,
                "frames_50hz": int(feats.shape[0]),
                "samples": int(audio.shape[0]),
                "sample_rate": base.sample_rate,
                "duration_s": audio.shape[0] / base.sample_rate,
                "config": config_to_dict(cfg),
            }
            write_json(out / f"{name}.json", meta)
