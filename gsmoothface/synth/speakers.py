"""The synthetic speakers: identity, texture, lighting, voice, speaking and motion styles, looks."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy import ndimage

from gsmoothface.face_model.model import FaceModel
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.layers import Appearance, background_texture, fractal_noise
from gsmoothface.synth.mapping import SpeakingStyle
from gsmoothface.synth.motion import MotionStyle, sample_motion_style
from gsmoothface.synth.speech import Voice, sample_voice

DETAIL_RES = 256  # texels of the skin-detail texture across the face (~0.7 mm per texel)

HAIR_COLOURS = ((0.08, 0.06, 0.05), (0.25, 0.15, 0.08), (0.45, 0.3, 0.15), (0.6, 0.5, 0.35), (0.5, 0.5, 0.5))
IRIS_COLOURS = ((0.3, 0.18, 0.08), (0.2, 0.35, 0.55), (0.3, 0.4, 0.25), (0.45, 0.3, 0.15))


@dataclasses.dataclass(frozen=True)
class Speaker:
    """Everything fixed about one synthetic speaker."""

    index: int
    name: str
    id_coeff: np.ndarray  # (80,)
    tex_coeff: np.ndarray  # (80,)
    gamma: np.ndarray  # (27,) base SH lighting
    trans: np.ndarray  # (3,) base translation (dm)
    voice: Voice
    speaking: SpeakingStyle
    motion: MotionStyle
    look: Appearance
    specular: float  # strength of the skin's highlights
    background: np.ndarray = dataclasses.field(repr=False)  # (S, S, 3) float32
    detail: np.ndarray = dataclasses.field(repr=False)  # (DETAIL_RES, DETAIL_RES) float32, zero mean
    hair_texture: np.ndarray = dataclasses.field(repr=False)  # (S, S) float32, unit std


def sample_speaker(rng: np.random.Generator, index: int, cfg: SynthConfig, model: FaceModel) -> Speaker:
    """Draw speaker ``index`` from ``rng``; the face size follows ``cfg.face_size_px``."""
    id_coeff = rng.normal(0.0, 0.9, 80)
    tex_coeff = rng.normal(0.0, 0.35, 80)  # mild local colour variation
    tex_coeff[:3] = rng.normal(0.0, 1.0, 3)  # skin tone: brightness, redness, yellowness
    gamma = np.zeros((3, 9))
    gamma[:, 0] = rng.uniform(-0.1, 0.25) + rng.uniform(-0.06, 0.06, 3)  # brightness and colour cast
    # key light direction in the first-order bands (Y1 ~ -y, Y2 ~ z, Y3 ~ -x): from above, in front,
    # to either side, as indoor light mostly is
    key = np.array([-rng.uniform(0.0, 0.2), rng.uniform(0.0, 0.15), rng.normal(0.0, 0.12)])
    gamma[:, 1:4] = key[None] * rng.uniform(0.85, 1.15, (3, 1))
    gamma[:, 4:9] = rng.normal(0.0, 0.05, 5)[None]
    speaking = SpeakingStyle(
        scale=float(rng.uniform(*cfg.speaker_scale_range)),
        bias=float(rng.uniform(*cfg.speaker_bias_range)),
        round_gain=float(rng.uniform(0.5, 1.0)),
        stretch_gain=float(rng.uniform(0.4, 0.9)),
        smile=float(rng.uniform(-0.3, 1.0)),
    )
    motion = sample_motion_style(rng, cfg.head_yaw_rad, cfg.head_pitch_rad, cfg.head_roll_rad)
    skin = _mean_skin(model, id_coeff, tex_coeff)
    look = Appearance(
        skin_rgb=tuple(float(c) for c in skin),
        hair_rgb=tuple(
            float(c) * rng.uniform(0.85, 1.15) for c in HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))]
        ),
        cloth_rgb=tuple(float(c) for c in rng.uniform(0.1, 0.8, 3)),
        iris_rgb=IRIS_COLOURS[int(rng.integers(len(IRIS_COLOURS)))],
        hair_volume=float(rng.uniform(1.0, 1.15)),
        hair_length=float(rng.uniform(0.0, 1.0)),
    )
    voice = sample_voice(rng, index)
    return Speaker(
        index=index,
        name=f"spk{index:02d}",
        id_coeff=id_coeff,
        tex_coeff=tex_coeff,
        gamma=gamma.reshape(-1),
        trans=np.array([0.0, 0.2, _depth_for_size(model, id_coeff, cfg.size, cfg.face_size_px)]),
        voice=voice,
        speaking=speaking,
        motion=motion,
        look=look,
        specular=float(rng.uniform(0.02, 0.07)),
        background=background_texture(rng, cfg.size),
        detail=_skin_detail(rng),
        hair_texture=_hair_texture(rng, cfg.size),
    )


def _mean_skin(model: FaceModel, id_coeff: np.ndarray, tex_coeff: np.ndarray) -> np.ndarray:
    """Mean albedo (3,) over the skin mask, darkened by the average shading, for the neck."""
    with torch.no_grad():
        albedo = model.compute_texture(torch.as_tensor(tex_coeff, dtype=torch.float32)[None])[0]  # (N, 3)
    weights = model.skin_mask[:, None]
    mean = (albedo * weights).sum(0) / weights.sum()
    return np.clip(mean.numpy() * 0.85, 0.0, 1.0)


def _depth_for_size(model: FaceModel, id_coeff: np.ndarray, size: int, face_px: float) -> float:
    """Translation z (dm) at which the face's width spans ``face_px`` pixels of a ``size`` frame."""
    with torch.no_grad():
        shape = model.compute_shape(torch.as_tensor(id_coeff, dtype=torch.float32)[None], torch.zeros(1, 64))[
            0
        ]
    width = float(shape[:, 0].max() - shape[:, 0].min())
    focal = 1015.0 * size / 224.0
    distance = focal * width / face_px  # camera-space depth of the face
    return 10.0 - distance


def _skin_detail(rng: np.random.Generator) -> np.ndarray:
    """Pores, blotches and freckles finer than the texture basis, zero mean, about unit std."""
    pores = fractal_noise(rng, DETAIL_RES, (0.6, 1.2))
    blotches = fractal_noise(rng, DETAIL_RES, (6.0, 14.0))
    freckles = (rng.random((DETAIL_RES, DETAIL_RES)) < rng.uniform(0.0, 0.01)).astype(np.float32)
    detail = 0.45 * pores + 0.35 * blotches - 2.5 * freckles
    return (detail - detail.mean()).astype(np.float32)


def _hair_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Strands: noise stretched vertically (long correlation along y), unit std."""
    strands = ndimage.gaussian_filter(rng.standard_normal((size, size)), (8.0, 1.5), mode="wrap")
    strands /= strands.std() + 1e-9
    strands += ndimage.gaussian_filter(rng.standard_normal((size, size)), 16.0, mode="wrap") * 20
    return (strands / (strands.std() + 1e-9)).astype(np.float32)
