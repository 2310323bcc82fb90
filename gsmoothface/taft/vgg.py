"""VGG19 feature extractor as a plain torch module with torchvision's state-dict keys.

torchvision is not a dependency (its CPU builds do not pair with the project's torch); the layer
layout of ``torchvision.models.vgg19`` (``features.0.weight`` ... ``features.34.bias``) is rebuilt
here so that its ImageNet checkpoint ``vgg19-dcbb9e9d.pth`` loads unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gsmoothface.errors import InputError, MissingAssetError

# Configuration "E" of Simonyan & Zisserman (2015): conv widths, "M" = 2x2 max-pool.
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M")
VGG19_LAYOUT += (512, 512, 512, 512, "M")
# Indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (the TAFT perceptual layers).
PERCEPTUAL_LAYERS = (1, 6, 11, 20, 29)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
TORCHVISION_URL = f"https://download.pytorch.org/models/{TORCHVISION_FILE}"


class Vgg19Features(nn.Module):
    """``torchvision.models.vgg19().features`` with a forward returning chosen ReLU outputs.

    Parameters
    ----------
    layers: indices in ``features`` whose outputs are returned (ascending).
    """

    def __init__(self, layers: tuple[int, ...] = PERCEPTUAL_LAYERS) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        c_in = 3
        for item in VGG19_LAYOUT:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(c_in, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                c_in = int(item)
        self.features = nn.Sequential(*modules)
        self.layers = tuple(sorted(layers))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Features of (B, 3, H, W) images in [0, 1] (ImageNet-normalised inside)."""
        x = (image - self.mean) / self.std
        out = []
        for i, module in enumerate(self.features[: self.layers[-1] + 1]):
            x = module(x)
            if i in self.layers:
                out.append(x)
        return out


def load_vgg19(path: Path, layers: tuple[int, ...] = PERCEPTUAL_LAYERS) -> Vgg19Features:
    """Build :class:`Vgg19Features` from a torchvision VGG19 checkpoint, frozen and in eval mode.

    Parameters
    ----------
    path: a ``torch.save``d state dict of ``torchvision.models.vgg19`` (``classifier.*`` keys are
        ignored), e.g. torchvision's ImageNet ``vgg19-dcbb9e9d.pth``.

    Raises
    ------
    MissingAssetError: the file does not exist.
    InputError: the file is not a VGG19 state dict (missing, unexpected or mis-shaped keys).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(
            f"VGG19 weights not found at {path} (params key taft.vgg19_weights): download torchvision's "
            f"ImageNet checkpoint {TORCHVISION_FILE} from {TORCHVISION_URL}, or set taft.vgg19_weights "
            "to null to train with L1 + SSIM instead of the perceptual loss"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise InputError(f"{path}: expected a VGG19 state dict, got {type(state).__name__}")
    model = Vgg19Features(layers)
    features = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(features))
    unexpected = sorted(set(features) - set(expected))
    wrong = [k for k in expected if k in features and features[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        kind = "missing" if missing else "unexpected" if unexpected else "mis-shaped"
        raise InputError(
            f"{path} is not a torchvision VGG19 state dict ({kind} key '{first}'; "
            f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} mis-shaped)"
        )
    model.load_state_dict(features)
    return model.eval().requires_grad_(False)
