"""Deep3DFace R-Net: ResNet-50 regressing the 257 coefficients from an aligned 224 crop.

Re-implements the network of Deep3DFaceRecon_pytorch (``ReconNetWrapper``): a ResNet-50 backbone
without classifier and seven zero-initialised 1x1 convolutions, one per coefficient group,
concatenated into (B, 257). Checkpoints are Deep3DFace's ``epoch_20.pth`` files, a dict whose
``net_recon`` entry is this module's ``state_dict``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.fitting.resnet import RESNET50_FEATURES, ResNet50Backbone

# Output widths of the seven heads: id | exp | tex | angle | gamma | (tx, ty) | tz = 257.
HEAD_WIDTHS = (80, 64, 80, 3, 27, 2, 1)
N_COEFF = sum(HEAD_WIDTHS)  # 257
RNET_INPUT_SIZE = 224  # aligned crop side in pixels
CHECKPOINT_KEY = "net_recon"
CHECKPOINT_SOURCE = (
    "Deep3DFaceRecon_pytorch's released model (checkpoints/face_recon_feat0.2_augment/epoch_20.pth, "
    "linked from the README of github.com/sicxu/Deep3DFaceRecon_pytorch)"
)


class ReconNet(nn.Module):
    """R-Net: aligned RGB crop (B,3,224,224) in [0,1] -> coefficients (B,257)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = ResNet50Backbone()
        self.final_layers = nn.ModuleList(
            nn.Conv2d(RESNET50_FEATURES, width, 1, bias=True) for width in HEAD_WIDTHS
        )
        # Zero heads, as Deep3DFace: an untrained net predicts the mean face, frontal, ambient light.
        for layer in self.final_layers:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone(images)  # (B, 2048, 1, 1)
        heads = torch.cat([layer(features) for layer in self.final_layers], dim=1)  # (B, 257, 1, 1)
        return torch.flatten(heads, 1)  # (B, 257)


def save_rnet_checkpoint(net: ReconNet, path: str | Path) -> None:
    """Save ``net`` in Deep3DFace's checkpoint layout ``{'net_recon': state_dict}``."""
    from gsmoothface.atomic import write_torch

    write_torch(path, {CHECKPOINT_KEY: net.state_dict()})


def load_rnet(path: str | Path | None, device: torch.device | str = "cpu") -> ReconNet:
    """Load a Deep3DFace R-Net checkpoint into an eval-mode :class:`ReconNet`.

    Parameters
    ----------
    path: ``epoch_20.pth``-style file holding ``{'net_recon': state_dict}`` (other entries, such as
        optimiser states, are ignored).
    device: where the network lives.

    Raises
    ------
    MissingAssetError: ``path`` is ``None`` or does not exist (names ``fit_3dmm.rnet_checkpoint``).
    InputError: the file is not such a checkpoint, or its keys/shapes do not match the R-Net.
    """
    if path is None or not Path(path).is_file():
        where = "not set" if path is None else f"'{path}' does not exist"
        raise MissingAssetError(
            f"R-Net checkpoint {where} (params key fit_3dmm.rnet_checkpoint); it is "
            f"{CHECKPOINT_SOURCE}; set fit_3dmm.rnet_checkpoint to its local path, or use "
            "fit_3dmm.fitter: optimize"
        )
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors of a file that is not a torch checkpoint
        raise InputError(f"{path}: not a readable torch checkpoint ({exc})") from exc
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint:
        found = sorted(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise InputError(
            f"{path}: not a Deep3DFace R-Net checkpoint: expected a dict with key '{CHECKPOINT_KEY}', "
            f"found {found}"
        )
    net = ReconNet()
    _check_state_dict(net, checkpoint[CHECKPOINT_KEY], path)
    net.load_state_dict(checkpoint[CHECKPOINT_KEY], strict=True)
    return net.to(device).eval()


def _check_state_dict(net: ReconNet, state: object, path: Path) -> None:
    """Raise a readable InputError when ``state`` does not fit ``net`` key for key, shape for shape."""
    if not isinstance(state, dict):
        raise InputError(f"{path}: '{CHECKPOINT_KEY}' must be a state_dict, got {type(state).__name__}")
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        hint = ""
        if any(key.startswith("module.") for key in unexpected):
            hint = " (keys start with 'module.': strip the DataParallel prefix)"
        raise InputError(
            f"{path}: the '{CHECKPOINT_KEY}' state_dict does not match the Deep3DFace R-Net: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} unexpected keys "
            f"(e.g. {unexpected[:3]}){hint}"
        )
    wrong = [key for key, value in expected.items() if tuple(state[key].shape) != tuple(value.shape)]
    if wrong:
        key = wrong[0]
        raise InputError(
            f"{path}: {len(wrong)} tensors have the wrong shape, e.g. '{key}' is "
            f"{tuple(state[key].shape)}, the R-Net needs {tuple(expected[key].shape)}"
        )


@torch.no_grad()
def predict_coeff(net: ReconNet, crops: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """Run the R-Net over aligned crops in batches.

    Parameters
    ----------
    crops: (T,224,224,3) uint8 RGB aligned crops (``align_image`` output), on any device.
    batch_size: frames per forward pass.

    Returns
    -------
    (T,257) float32 coefficients on the network's device.
    """
    if crops.ndim != 4 or tuple(crops.shape[1:]) != (RNET_INPUT_SIZE, RNET_INPUT_SIZE, 3):
        raise InputError(f"R-Net input must be (T,224,224,3) aligned crops, got {tuple(crops.shape)}")
    device = next(net.parameters()).device
    out = []
    for start in range(0, crops.shape[0], max(batch_size, 1)):
        batch = crops[start : start + batch_size].to(device)
        images = batch.permute(0, 3, 1, 2).float() / 255.0  # (B, 3, 224, 224) in [0, 1], no normalisation
        out.append(net(images))
    if not out:
        return torch.zeros(0, N_COEFF, device=device)
    return torch.cat(out)  # (T, 257)
