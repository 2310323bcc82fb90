"""ResNet-50 backbone as a plain torch module whose ``state_dict`` keys match torchvision's.

The Deep3DFace R-Net (Deng et al. 2019, "Accurate 3D Face Reconstruction with Weakly-Supervised
Learning") is a torchvision ResNet-50 without its classifier. torchvision cannot be installed beside
the CPU torch build, so the architecture is written out here (He et al. 2016, "Deep Residual
Learning", ResNet v1.5: the stride sits on the 3x3 convolution of each bottleneck) with the same
attribute names, so real checkpoints load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

BOTTLENECK_EXPANSION = 4  # output channels of a bottleneck = 4 x its width
RESNET50_LAYERS = (3, 4, 6, 3)  # bottleneck blocks per stage
RESNET50_FEATURES = 512 * BOTTLENECK_EXPANSION  # 2048 channels after the last stage


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (strided) -> 1x1 expand, with an identity or projected shortcut."""

    def __init__(self, in_planes: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        out_planes = width * BOTTLENECK_EXPANSION
        self.conv1 = nn.Conv2d(in_planes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50Backbone(nn.Module):
    """ResNet-50 up to global average pooling: (B,3,H,W) -> (B,2048,1,1).

    No ``fc`` layer, as Deep3DFace builds it with ``use_last_fc=False``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_planes = 64
        stages = []
        for index, (width, blocks) in enumerate(zip((64, 128, 256, 512), RESNET50_LAYERS, strict=True)):
            stride = 1 if index == 0 else 2
            stage, in_planes = _make_stage(in_planes, width, blocks, stride)
            stages.append(stage)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's initialisation: He-normal convolutions, unit BatchNorm.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)  # (B, 2048, 1, 1)


def _make_stage(in_planes: int, width: int, blocks: int, stride: int) -> tuple[nn.Sequential, int]:
    """One ResNet stage; the first block projects the shortcut when shape or stride changes."""
    out_planes = width * BOTTLENECK_EXPANSION
    downsample = None
    if stride != 1 or in_planes != out_planes:
        downsample = nn.Sequential(
            nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
            nn.BatchNorm2d(out_planes),
        )
    layers = [Bottleneck(in_planes, width, stride, downsample)]
    layers += [Bottleneck(out_planes, width) for _ in range(blocks - 1)]
    return nn.Sequential(*layers), out_planes
