"""``gsmoothface blend``: clips + 3DMM fits -> data/blended/<clip>/ packed MAFB arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.common import open_stage, stage_errors

# the params sections the command reads (dvc.yaml lists the same for its stage)
SECTIONS = ("base", "blend", "face_model", "render")

app = typer.Typer()


@app.command()
def blend(
    clips: Annotated[Path, typer.Option(help="folder of clips (<clip>/video.mp4, meta.json)")] = Path(
        "data/clips"
    ),
    fits: Annotated[Path, typer.Option(help="3DMM fits (<clip>.npz: coeff, trans_params, valid)")] = Path(
        "data/3dmm"
    ),
    out: Annotated[Path, typer.Option(help="output folder (<clip>/ packed arrays)")] = Path("data/blended"),
    clip: Annotated[
        list[str] | None, typer.Option(help="only these clips (repeatable; default: every clip with a fit)")
    ] = None,
    params: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
) -> None:
    """Blend each clip's 3DMM render (fitted expression) into its frames through the MAFB mask."""
    with stage_errors():
        import json

        import numpy as np

        from gsmoothface.blend import MafbBlender, blend_clip, write_blended_clip
        from gsmoothface.config import config_to_dict
        from gsmoothface.errors import InputError
        from gsmoothface.face_model import load_face_model
        from gsmoothface.media import iter_frames
        from gsmoothface.progress import progress

        # small elementwise ops: a second thread only waits on a shared CPU
        stage = open_stage(params, SECTIONS, threads=1)
        cfg, backend = stage["blend"], stage["render"].backend
        names = clip or sorted(p.stem for p in fits.glob("*.npz") if (clips / p.stem / "meta.json").is_file())
        if not names:
            raise InputError(f"no clip in {clips} has a 3DMM fit in {fits}; run `gsmoothface fit-3dmm`")
        jobs = []
        for name in names:  # validate every input before the expensive work
            fit_path, clip_dir = fits / f"{name}.npz", clips / name
            if not fit_path.is_file() or not (clip_dir / "video.mp4").is_file():
                raise InputError(f"clip '{name}': missing {fit_path} or {clip_dir / 'video.mp4'}")
            with np.load(fit_path) as fit:
                coeff = fit["coeff"].astype(np.float32)
                trans_params = fit["trans_params"].astype(np.float64)
                valid = fit["valid"].astype(bool) if "valid" in fit else np.ones(len(coeff), bool)
            if coeff.shape[1:] != (257,) or trans_params.shape != (len(coeff), 5) or len(valid) != len(coeff):
                raise InputError(f"{fit_path}: expected coeff (T,257), trans_params (T,5), valid (T,)")
            meta = json.loads((clip_dir / "meta.json").read_text())
            jobs.append((name, clip_dir, coeff, trans_params, valid, meta))

        device = stage.device()
        face = load_face_model(stage["face_model"])
        blender = MafbBlender(face, cfg, backend=backend, device=str(device))
        for name, clip_dir, coeff, trans_params, valid, meta in progress(jobs, "blend clips", every=1):
            chunks = blend_clip(
                blender,
                iter_frames(clip_dir / "video.mp4", chunk=cfg.batch_size, size=cfg.size),
                coeff,
                trans_params,
            )
            info = {k: meta[k] for k in ("clip", "speaker", "speaker_index", "split", "fps") if k in meta}
            info |= {"clip": name, "fit": str(fits / f"{name}.npz"), "blend": config_to_dict(cfg)}
            write_blended_clip(out / name, chunks, len(coeff), cfg.size, valid, info)
        print(f"blend: wrote {len(jobs)} clips to {out}")
