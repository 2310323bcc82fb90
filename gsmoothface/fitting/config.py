"""Config of the ``fit_3dmm`` stage (params section ``fit_3dmm``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from gsmoothface.config import check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class Fit3dmmConfig:
    """Landmark source, fitter choice, and the optimisation fitter's schedule and loss weights.

    Loss weights follow Deep3DFace's training objective (``w_lm``, ``w_reg``, ``w_color``,
    ``w_gamma``, ``w_reflc``, ``w_id``/``w_exp``/``w_tex``); the temporal weights are this
    project's addition (Deep3DFace fits frames independently).
    """

    landmarks: Literal["sidecar", "fan", "dlib"] = "sidecar"  # landmark source (dlib: no download)
    fan_weights: Path | None = None  # FAN 2D-68 weights file for landmarks: fan (None = torch hub dir)
    # auto: optimisation, initialised from the R-Net when rnet_checkpoint is set;
    # rnet: R-Net predictions only (needs rnet_checkpoint); optimize: optimisation from landmarks only
    fitter: Literal["auto", "rnet", "optimize"] = "auto"
    rnet_checkpoint: Path | None = None  # Deep3DFace epoch_20.pth ({'net_recon': state_dict})
    rnet_batch: int = ranged(16, low=1)  # frames per R-Net forward pass
    frame_chunk: int = ranged(64, low=1)  # frames decoded / aligned at a time
    # torch CPU threads of the stage (small batched ops: 1 beats 2 on a busy machine)
    threads: int = ranged(1, low=1)
    # optimisation schedule
    landmark_steps: int = ranged(300, low=0)  # stage 1: Adam steps on landmarks + regularisation
    # stage 2: Adam steps of texture and lighting on the photometric terms
    photo_steps: int = ranged(30, low=0)
    photo_batch: int = ranged(128, low=1)  # frames per photometric window (rendered together)
    photo_size: int = ranged(112, low=1)  # render / compare size of the photometric loss (224 = Deep3DFace)
    # stage 2: steps per visit of a window (one rasterisation per visit)
    raster_every: int = ranged(10, low=1)
    lr: float = 0.1  # Adam learning rate (coefficients are ~N(0,1); angles rad; trans dm)
    # Deep3DFace loss weights
    w_lm: float = 1.6e-3  # landmark loss (squared px at 224)
    w_reg: float = 3.0e-4  # coefficient regularisation
    w_id: float = 0.01  # identity prior; Deep3DFace uses 1.0 per image, one identity here serves a clip
    w_exp: float = 0.8  # expression part of the regulariser
    w_tex: float = 1.7e-2  # texture part of the regulariser
    w_color: float = 1.92  # photometric loss (RGB in [0,1], sqrt form, masked)
    w_gamma: float = 10.0  # monochromatic lighting prior
    w_reflc: float = 5.0  # skin albedo uniformity
    lm_emphasis: float = 20.0  # landmark weight of the nose (iBUG 29-31) and inner lips (61-68)
    # temporal terms (weights relative to w_lm's scale)
    w_exp_smooth: float = 2.0e-3  # squared first differences of expression per frame
    w_pose_smooth: float = 1.0  # squared second differences of angle (rad) and translation (dm)

    def __post_init__(self) -> None:
        check_ranges(self, "fit_3dmm")
