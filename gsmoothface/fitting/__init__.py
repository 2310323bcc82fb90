"""3DMM fitting: the Deep3DFace R-Net and the optimisation fitter, per clip."""

from gsmoothface.fitting.clip import ClipFit, fit_clip, fitter_name, load_fitter_net
from gsmoothface.fitting.config import Fit3dmmConfig
from gsmoothface.fitting.optimize import OptimizeResult, fit_optimize
from gsmoothface.fitting.rnet import ReconNet, load_rnet, predict_coeff, save_rnet_checkpoint

__all__ = [
    "ClipFit",
    "Fit3dmmConfig",
    "OptimizeResult",
    "ReconNet",
    "fit_clip",
    "fit_optimize",
    "fitter_name",
    "load_fitter_net",
    "load_rnet",
    "predict_coeff",
    "save_rnet_checkpoint",
]
