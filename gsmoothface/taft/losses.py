"""TAFT losses: L1 + 4 x (multi-scale VGG19 perceptual + 250 x Gram style), or L1 + SSIM without VGG,
and the optional LSGAN adversarial and feature-matching losses (pix2pixHD)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gsmoothface.taft.config import TaftConfig
from gsmoothface.taft.ssim import ssim
from gsmoothface.taft.vgg import Vgg19Features, load_vgg19

# relu5_1 comes after four 2x2 max-pools: images under 16 px have no features there.
MIN_VGG_SIDE = 16


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``F F^T / (c h w)`` of (B, C, H, W) features -> (B, C, C)."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


class TaftLoss(nn.Module):
    """The generator's reconstruction loss (PIRender / GSmoothFace TAFT ``PerceptualLoss``).

    With ``vgg``: ``l1 |G - GT| + w_p [sum_{scales, relu1_1..relu5_1} |phi(G_s) - phi(GT_s)|
    + w_s sum_l |Gram(phi(G)) - Gram(phi(GT))|]`` (style at full scale only). Scales whose image
    would be under 16 px are left out (the recipe's 4 scales of 512 px frames all reach 64 px).
    Without: ``l1 |G - GT| + w_ssim (1 - SSIM(G, GT))``.
    """

    def __init__(self, cfg: TaftConfig, vgg: Vgg19Features | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.vgg = vgg

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of generated (B, 3, H, W) ``fake`` against ``real``, both in [-1, 1].

        Returns
        -------
        total loss (scalar tensor), and its named parts as floats.
        """
        cfg = self.cfg
        fake01, real01 = (fake + 1) / 2, (real + 1) / 2
        l1 = F.l1_loss(fake, real)
        parts = {"l1": l1.item()}
        total = cfg.l1_weight * l1
        if self.vgg is None:
            structural = 1.0 - ssim(fake01, real01).mean()
            parts["ssim"] = structural.item()
            return total + cfg.ssim_weight * structural, parts
        perceptual = fake.new_zeros(())
        style = fake.new_zeros(())
        x, y = fake01, real01
        for scale in range(cfg.perceptual_scales):
            if scale:
                if min(x.shape[-2:]) < 2 * MIN_VGG_SIDE:
                    break  # the remaining scales are too small for the deepest VGG layer
                x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
                y = F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False)
            fx = self.vgg(x)
            with torch.no_grad():
                fy = self.vgg(y)
            for a, b in zip(fx, fy, strict=True):
                perceptual = perceptual + F.l1_loss(a, b)
                if scale == 0:
                    style = style + F.l1_loss(gram(a), gram(b))
        parts["perceptual"] = perceptual.item()
        parts["style"] = style.item()
        return total + cfg.perceptual_weight * (perceptual + cfg.style_weight * style), parts


def build_loss(cfg: TaftConfig) -> TaftLoss:
    """The loss of ``cfg``: VGG19 from ``taft.vgg19_weights`` when set, else L1 + SSIM."""
    vgg = load_vgg19(cfg.vgg19_weights) if cfg.vgg19_weights is not None else None
    return TaftLoss(cfg, vgg)


def discriminator_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """LSGAN loss of the multi-scale discriminator: real patches -> 1, generated -> 0."""
    loss = real[0][-1].new_zeros(())
    for r, f in zip(real, fake, strict=True):
        loss = loss + F.mse_loss(r[-1], torch.ones_like(r[-1])) + F.mse_loss(f[-1], torch.zeros_like(f[-1]))
    return loss / (2 * len(real))


def generator_adversarial_loss(fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """LSGAN loss of the generator: generated patches -> 1."""
    return sum(F.mse_loss(f[-1], torch.ones_like(f[-1])) for f in fake) / len(fake)


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Mean L1 between the discriminator's intermediate features of real and generated images."""
    terms = [
        F.l1_loss(f, r.detach())
        for r_scale, f_scale in zip(real, fake, strict=True)
        for r, f in zip(r_scale[:-1], f_scale[:-1], strict=True)
    ]
    return sum(terms) / len(terms)
