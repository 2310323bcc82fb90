"""Configuration of A2EP, the audio-to-expression predictor (``a2ep`` section of ``params.yaml``)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class A2EPConfig:
    """A2EP sizes, training and prediction settings; defaults are the tiny embedded model.

    The GSmoothFace recipe is ``d_model: 1024, n_heads: 4, ffn_dim: 2048, lr: 1e-4, batch_size: 1``
    with ``audio.frontend: wav2vec2`` (the encoder then takes its sizes from the checkpoint).
    """

    faithful: bool = False  # true: the released code's constant PE and unmasked AR training
    d_model: int = 64  # decoder width (recipe 1024)
    n_heads: int = 4  # decoder heads; also the number of ALiBi slopes
    ffn_dim: int = 128  # decoder feed-forward width (recipe 2048)
    n_layers: int = 1  # transformer decoder layers
    dropout: float = 0.1  # decoder and positional-encoding dropout
    period: int = 25  # ALiBi and periodic positional-encoding period in frames (1 s at 25 fps)
    exp_dim: int = 64  # expression coefficients predicted per frame
    encoder_hidden: int = 64  # log-mel encoder width (wav2vec2 front end: from the checkpoint, 768)
    encoder_layers: int = 2  # log-mel encoder transformer layers
    encoder_heads: int = 4  # log-mel encoder heads
    encoder_ffn: int = 128  # log-mel encoder feed-forward width
    encoder_pos_kernel: int = 16  # log-mel encoder convolutional positional embedding width, frames
    encoder_layerdrop: float = 0.0  # wav2vec2 LayerDrop (also overrides the checkpoint's value)
    mask_time_prob: float = 0.05  # SpecAugment time-masking probability on the projected features
    window: int = 50  # training window, frames (recipe 100 = 4 s; the demo's clips are ~3-4 s)
    batch_size: int = 8  # windows per optimiser step (all processes together)
    epochs: int = 60  # passes over the training windows (recipe 20)
    lr: float = 2e-3  # Adam learning rate (recipe 1e-4)
    eps: float = 1e-8  # Adam epsilon (recipe 1e-6; the synthetic model's gradients are below 1e-6)
    mouth_weight: float = 1.8  # vertex-loss weight of face_model.mouth_mask vertices
    supervise_exp: bool = False  # true: plain MSE on coefficients instead of the vertex loss
    scheduled_sampling: float = 0.5  # fixed mode: share of past frames fed from the model's own prediction
    val_every: int = 1  # epochs between validations (the last epoch is always validated)
    checkpoint_every: int = 100  # optimiser steps between resumable checkpoints
    predict_window: int = 50  # frames decoded per window at prediction time (recipe: 600, its 24 s chunks)
    predict_overlap: int = 10  # frames cross-faded between consecutive windows
    predict_batch: int = 16  # windows decoded together
    pause_hold: int = 3  # frames over which a pause's held expression fades in and out; 0 = no hold
    cpu_threads: int = 1  # torch threads on CPU (the tiny model is latency-bound: one is fastest)
    seed: int = 0  # added to base.seed
