"""TAFT networks: the face-to-face generator and an optional PatchGAN discriminator.

The generator follows PIRender's editing network (Ren et al. 2021) as GSmoothFace's TAFT uses it:
no warping net and no AdaIN, so an encoder-decoder with skip connections over the 6-channel
``cat(reference, blended)`` input, LayerNorm2d, LeakyReLU(0.1) and a tanh output in [-1, 1].
The discriminator is pix2pixHD's multi-scale PatchGAN (Wang et al. 2018), conditioned on the blended
image, for the optional adversarial and feature-matching losses (``taft.gan_weight``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.Module):
    """Normalise each sample over (C, H, W), then a per-channel affine (PIRender's LayerNorm2d)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x, x.shape[1:], eps=self.eps)
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """conv -> LayerNorm2d -> LeakyReLU(0.1), size preserving."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), LayerNorm2d(c_out), nn.LeakyReLU(0.1)
    )


class TaftGenerator(nn.Module):
    """Encoder-decoder with skips: ``G(reference, blended) -> frame``.

    Parameters
    ----------
    base_channels: channels at full resolution (64 in the recipe).
    max_channels: channel cap of the deeper levels (256 in the recipe).
    layers: number of 2x downsamplings (3 in the recipe); the input side must be divisible by 2**layers.
    residual: predict a correction added to the blended image instead of the image through tanh
        (the recipe is False). The blended frame is already right outside the face, so a residual
        generator starts at the blended input and only learns the face, which a short CPU run can.
    """

    def __init__(
        self, base_channels: int = 64, max_channels: int = 256, layers: int = 3, residual: bool = False
    ) -> None:
        super().__init__()
        self.layers = layers
        self.residual = residual
        ch = [min(base_channels * 2**i, max_channels) for i in range(layers + 1)]  # [64, 128, 256, 256]
        self.first = _conv_block(6, ch[0], 7)
        self.down = nn.ModuleList(
            nn.Sequential(_conv_block(ch[i], ch[i + 1], 3), nn.AvgPool2d(2)) for i in range(layers)
        )
        # Decoder level i goes from ch[i+1] at H/2^(i+1) to ch[i] at H/2^i. The two plain convs are
        # what PIRender's res blocks reduce to with AdaIN disabled (no norm, no activation, no skip).
        self.res = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(ch[i + 1], ch[i + 1], 3, padding=1), nn.Conv2d(ch[i + 1], ch[i + 1], 3, padding=1)
            )
            for i in range(layers)
        )
        self.up = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv_block(ch[i + 1], ch[i], 3))
            for i in range(layers)
        )
        self.jump = nn.ModuleList(_conv_block(ch[i], ch[i], 3) for i in range(layers))
        self.final = nn.Conv2d(ch[0], 3, 7, padding=3)
        self.apply(init_weights)
        if residual:  # start as the identity on the blended image (a zero-initialised last layer)
            nn.init.zeros_(self.final.weight)

    def forward(self, reference: torch.Tensor, blended: torch.Tensor) -> torch.Tensor:
        """Translate a blended frame.

        Parameters
        ----------
        reference, blended: (B, 3, H, W) in [-1, 1].

        Returns
        -------
        (B, 3, H, W) in [-1, 1] (a residual generator may overshoot slightly; clamp for images).
        """
        side = 2**self.layers
        if reference.shape[-1] % side or reference.shape[-2] % side:
            raise ValueError(f"image size {tuple(reference.shape[-2:])} must be divisible by {side}")
        x = self.first(torch.cat([reference, blended], dim=1))  # (B, ch0, H, W)
        skips = [x]
        for down in self.down:
            x = down(x)
            skips.append(x)
        x = skips.pop()  # bottleneck (B, ch[L], H/2^L, W/2^L)
        for i in reversed(range(self.layers)):
            x = self.up[i](self.res[i](x)) + self.jump[i](skips.pop())
        if self.residual:
            return blended + self.final(x)
        return torch.tanh(self.final(x))


def init_weights(module: nn.Module) -> None:
    """PIRender's init: conv/linear weights ~ N(0, 0.02), biases 0."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class PatchDiscriminator(nn.Module):
    """One PatchGAN (70x70 receptive field for 3 layers) returning its intermediate features.

    Input: ``cat(blended, image)`` (B, 6, H, W) in [-1, 1]; output: a list of feature maps, the last
    one the (B, 1, h, w) patch logits.
    """

    def __init__(self, channels: int = 64, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(6, channels, 4, stride=2, padding=2), nn.LeakyReLU(0.2))
        ]
        c = channels
        for i in range(1, layers + 1):
            c_out = min(c * 2, 512)
            stride = 2 if i < layers else 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(c, c_out, 4, stride=stride, padding=2),
                    nn.InstanceNorm2d(c_out),
                    nn.LeakyReLU(0.2),
                )
            )
            c = c_out
        blocks.append(nn.Conv2d(c, 1, 4, stride=1, padding=2))
        self.blocks = nn.ModuleList(blocks)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """pix2pixHD's discriminator: PatchGANs on the input and on 2x average-pooled copies."""

    def __init__(self, channels: int = 64, layers: int = 3, scales: int = 2) -> None:
        super().__init__()
        self.nets = nn.ModuleList(PatchDiscriminator(channels, layers) for _ in range(scales))

    def forward(self, blended: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        """Per scale, the features of ``cat(blended, image)`` (B, 6, H, W) in [-1, 1]."""
        x = torch.cat([blended, image], dim=1)
        outputs = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(net(x))
        return outputs


class Ema:
    """Exponential moving average of a model's parameters and buffers (the generator used for inference).

    The decay is capped at ``(1 + n) / (10 + n)`` after n updates (TensorFlow's
    ``ExponentialMovingAverage`` num_updates rule), so a short run's average is not dominated by
    the random initialisation; for long runs it is the recipe's ``0.5 ** (32 / 10000)``.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_state = self.model.state_dict()
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                ema_state[name].mul_(d).add_(value.detach(), alpha=1 - d)
            else:
                ema_state[name].copy_(value)
