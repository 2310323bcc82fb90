"""Raw videos to fitted clips with the pipeline's own ``slice`` and ``fit_3dmm`` code.

Shared by a raw reference video of ``generate`` (:mod:`gsmoothface.generate.reference`) and a
person's videos of ``adapt`` (:mod:`gsmoothface.people.prepare`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from gsmoothface.face_model import FaceModelConfig
    from gsmoothface.fitting import Fit3dmmConfig
    from gsmoothface.render import RenderConfig
    from gsmoothface.slicing import SliceConfig


@dataclasses.dataclass(frozen=True)
class PreparationConfig:
    """The ``params.yaml`` sections that turn raw videos into fitted clips."""

    slice: SliceConfig
    fit: Fit3dmmConfig
    face_model: FaceModelConfig
    render: RenderConfig

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PreparationConfig:
        """The ``slice``, ``fit_3dmm``, ``face_model`` and ``render`` sections of the read ``params``.

        Raises
        ------
        ConfigError: a section is missing or wrong (one line naming the key).
        """
        from gsmoothface.config import load_section
        from gsmoothface.face_model import FaceModelConfig
        from gsmoothface.fitting.config import Fit3dmmConfig
        from gsmoothface.render import RenderConfig
        from gsmoothface.slicing import SliceConfig

        return cls(
            slice=load_section(SliceConfig, "slice", params),
            fit=load_section(Fit3dmmConfig, "fit_3dmm", params),
            face_model=load_section(FaceModelConfig, "face_model", params),
            render=load_section(RenderConfig, "render", params),
        )


def link_raw_video(video: Path, raw_dir: Path, stem: str) -> Path:
    """Symlink ``video`` and its landmark/truth sidecars into ``raw_dir`` under ``stem``, as ``slice``
    reads a raw video (a suffix it does not know becomes ``.mp4``); return the video's link.

    Links already there are kept, so a folder can be filled again after a kill.
    """
    from gsmoothface.slicing.plan import VIDEO_SUFFIXES
    from gsmoothface.slicing.sidecars import sidecar_paths

    suffix = video.suffix if video.suffix.lower() in VIDEO_SUFFIXES else ".mp4"
    link = raw_dir / f"{stem}{suffix}"
    if not link.is_symlink():
        link.symlink_to(video.resolve())
    for path in sidecar_paths(video).values():
        side = raw_dir / path.name.replace(video.stem, stem, 1)
        if not side.is_symlink():
            side.symlink_to(path.resolve())
    return link


def clip_fitter(cfg: PreparationConfig, device: torch.device | str) -> Callable[[Path, Path], None]:
    """Load the face model (and R-Net) once; return ``fit(clip_dir, out)``, which writes the 3DMM fit
    of a sliced clip to ``out`` (.npz).

    A fit whose landmark source is ``sidecar`` uses dlib's detector on a clip without
    ``landmarks.npz`` (a video that brought no landmark sidecar).
    """
    from gsmoothface.face_model import load_face_model
    from gsmoothface.fitting.clip import fit_clip, load_fitter_net

    face = load_face_model(cfg.face_model).to(device)
    net = load_fitter_net(cfg.fit, device)
    model_name = str(cfg.face_model.path or "synthetic")

    def fit(clip_dir: Path, out: Path) -> None:
        fit_cfg = cfg.fit
        if fit_cfg.landmarks == "sidecar" and not (clip_dir / "landmarks.npz").is_file():
            fit_cfg = dataclasses.replace(fit_cfg, landmarks="dlib")
        fit_clip(clip_dir, fit_cfg, face, model_name, net, cfg.render.backend).save(out)

    return fit
