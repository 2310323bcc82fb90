"""Configuration of TAFT training and inference, params section ``taft``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gsmoothface.config import ConfigError, check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class TaftConfig:
    """TAFT settings (``taft`` section). Defaults are the embedded default (small, CPU, minutes);
    the GSmoothFace recipe is base_channels 64, max_channels 256, residual false, patch 0, lr 1e-4,
    batch 10, 200 epochs of one pass (steps_per_epoch 0), ema_decay 0.99778, vgg19_weights set, at
    blend.size 512."""

    base_channels: int = ranged(32, low=1)  # generator channels at full resolution (recipe 64)
    max_channels: int = ranged(128, low=1)  # generator channel cap (recipe 256)
    layers: int = ranged(3, low=1)  # 2x downsamplings of the generator (recipe 3)
    residual: bool = True  # generator adds a correction to the blended image (recipe: false, tanh image)
    batch_size: int = ranged(8, low=1)  # frames per optimiser step over all processes (recipe 10)
    patch: int = ranged(64, low=0)  # side of the face-centred training crops; 0 = whole frames (recipe 0)
    epochs: int = ranged(20, low=1)  # training epochs (recipe 200)
    steps_per_epoch: int = 50  # optimiser steps per epoch; 0 = one pass over the training frames (recipe)
    lr: float = 5e-4  # Adam learning rate (recipe 1e-4)
    beta1: float = 0.5  # Adam beta1 (recipe 0.5)
    beta2: float = 0.999  # Adam beta2 (recipe 0.999)
    lr_step: int = ranged(300000, low=1)  # StepLR period in steps (recipe 300000)
    lr_gamma: float = 0.2  # StepLR factor (recipe 0.2)
    # EMA decay of the generator (recipe 0.99778 = 0.5 ** (32 / 10000))
    ema_decay: float = ranged(0.99, low=0.0, high=1.0, high_open=True)
    l1_weight: float = 1.0  # photometric L1 weight
    perceptual_weight: float = (
        4.0  # weight of (multi-scale VGG19 perceptual + style) when VGG weights are set
    )
    style_weight: float = 250.0  # Gram style term relative to the perceptual term
    # image scales of the perceptual term (each a bilinear 0.5x downsample)
    perceptual_scales: int = ranged(4, low=1)
    vgg19_weights: Path | None = None  # torchvision vgg19-dcbb9e9d.pth; null = L1 + SSIM loss instead
    ssim_weight: float = 1.0  # weight of (1 - SSIM) when vgg19_weights is null
    gan_weight: float = 0.0  # adversarial (LSGAN) weight; 0 = no discriminator, as the released TAFT
    feature_matching_weight: float = 10.0  # discriminator feature matching weight (with gan_weight > 0)
    disc_channels: int = 64  # PatchGAN channels of the first layer
    disc_layers: int = 3  # PatchGAN strided layers
    disc_scales: int = 2  # discriminator scales (pix2pixHD)
    train_split: str = "train"  # clips (meta split) used for training
    eval_split: str = "val"  # held-out clips evaluated every epoch
    eval_frames: int = ranged(48, low=1)  # held-out frames evaluated per epoch (evenly spaced)
    grid_frames: int = 4  # frames in the per-epoch sample grid
    log_every: int = ranged(10, low=1)  # steps between logged training losses
    checkpoint_every: int = ranged(100, low=1)  # steps between resume checkpoints
    num_workers: int = 0  # data loader worker processes
    threads: int = ranged(2, low=1, high=2)  # torch CPU threads (1-2; 2 is 1.6x faster on an idle 2-core CPU)
    translate_batch: int = ranged(8, low=1)  # frames per generator call at inference
    seed: int = 0  # added to base.seed for TAFT's sampling and initialisation

    def __post_init__(self) -> None:
        check_ranges(self, "taft")
        if self.patch % 2**self.layers:
            raise ConfigError(
                f"key 'patch' in params section 'taft' must be 0 or a multiple of 2**layers "
                f"({2**self.layers}), got {self.patch}"
            )
