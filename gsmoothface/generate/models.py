"""Loading the trained inference pipeline: A2EP as an expression predictor, TAFT as a translator."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from gsmoothface.audio.config import AudioConfig
from gsmoothface.errors import InputError
from gsmoothface.generate.drive import ExpressionPredictor, Translator

if TYPE_CHECKING:
    from gsmoothface.blend import BlendConfig
    from gsmoothface.face_model import FaceModelConfig
    from gsmoothface.render import RenderConfig


def load_predictor(
    path: Path,
    local_audio: AudioConfig,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] | None = None,
) -> tuple[ExpressionPredictor, list[str]]:
    """A trained A2EP as an :data:`ExpressionPredictor`, and its training speakers.

    The audio front end is the one the model was trained with (stored in the model file); only the
    wav2vec2 weights folder comes from this machine's ``audio`` section (``local_audio``). ``log``
    receives the front end's language limit, if it has one.
    """
    from gsmoothface.a2ep.checkpoint import load_model, trained_audio_config
    from gsmoothface.a2ep.predict import predict_audio
    from gsmoothface.audio import open_frontend

    model, info = load_model(path, device)
    frontend = open_frontend(trained_audio_config(info, local_audio), info["sample_rate"], device)
    if log is not None and "language" in frontend.describe():
        log(frontend.describe()["language"])
    speakers = list(info["speakers"])

    def predict(audio: np.ndarray, n_frames: int, speaker: str | None) -> np.ndarray:
        exp = predict_audio(model, info, frontend, audio, speaker)
        if len(exp) < n_frames:  # rounding of the frame count: hold the last frame
            exp = np.concatenate([exp, np.repeat(exp[-1:], n_frames - len(exp), axis=0)])
        return exp[:n_frames]

    return predict, speakers


def resolve_speaker(requested: str | None, reference_speaker: str | None, speakers: list[str]) -> str | None:
    """The A2EP style to use: ``requested`` (a training speaker, or ``mean``); by default the
    reference clip's own speaker when A2EP was trained on it, else the mean style (None).

    Raises
    ------
    InputError: ``requested`` is neither a training speaker nor ``mean``.
    """
    if requested is not None and requested != "mean" and requested not in speakers:
        raise InputError(
            f"speaker '{requested}' was not a training speaker; choose one of: {', '.join(speakers)}, mean"
        )
    if requested is not None:
        return None if requested == "mean" else requested
    return reference_speaker if reference_speaker in speakers else None


def inference_dtype(precision: str, device: torch.device | str) -> torch.dtype:
    """The dtype TAFT runs in: ``float32``, ``bfloat16``, or ``auto`` (bfloat16 where the hardware
    computes it natively: a CUDA GPU with bf16, or a CPU with AVX512-BF16/AMX whose kernels are not
    pinned to AVX2 by ``base.cpu_kernels``; else float32)."""
    if precision != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]
    if torch.device(device).type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    native = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    return torch.bfloat16 if native and torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


def load_translator(
    path: Path, device: torch.device | str = "cpu", precision: str = "float32"
) -> tuple[Translator, int]:
    """The EMA generator of a TAFT checkpoint as a :data:`Translator`, and its resolution."""
    from gsmoothface.taft.checkpoint import load_generator

    generator, meta = load_generator(Path(path), device)
    return taft_translator(generator, dtype=inference_dtype(precision, device)), int(meta["size"])


def taft_translator(
    generator: torch.nn.Module, batch: int = 4, dtype: torch.dtype = torch.float32
) -> Translator:
    """Wrap a TAFT generator working in [-1, 1] (tanh output) as a [0, 1] :data:`Translator`.

    Any image size is taken: the inputs are edge-padded to a multiple of the generator's
    downsampling and the output cropped back. Frames go through ``batch`` at a time (on a CPU a
    few frames at once keep the activations in cache: faster than one large batch). With ``dtype``
    bfloat16 the convolutions run under autocast (on the embedded default's held-out clips: output
    within 2 levels of 255 of float32, the same PSNR, 1.3-2.6x faster on an AVX512-BF16 CPU).
    """

    device = next(generator.parameters()).device
    multiple = 2 ** getattr(generator, "layers", 0)
    low = dtype != torch.float32

    def translate(reference: torch.Tensor, blended: torch.Tensor) -> torch.Tensor:
        h, w = blended.shape[-2:]
        pad = (0, -w % multiple, 0, -h % multiple)
        outs = []
        for i in range(0, len(blended), batch):
            ref, blend = (
                F.pad(x[i : i + batch].to(device) * 2 - 1, pad, mode="replicate")
                for x in (reference, blended)
            )
            with torch.autocast(device.type, dtype=dtype, enabled=low):
                outs.append(generator(ref, blend)[..., :h, :w].float())
        return (torch.cat(outs).clamp(-1, 1) + 1) / 2

    return translate


@dataclasses.dataclass
class Pipeline:
    """The trained inference pipeline: A2EP, the face model, MAFB and TAFT."""

    predictor: ExpressionPredictor
    speakers: list[str]  # A2EP's training speakers
    face_model: torch.nn.Module
    blender: Any  # gsmoothface.blend.MafbBlender at `size`
    translator: Translator
    size: int  # the MAFB/TAFT resolution, px
    a2ep_model: Path | None = None  # the files the models came from, for the user's record
    taft_model: Path | None = None
    person_style: str | None = None  # the person whose own speaking style the predictor is fitted to


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """The ``params.yaml`` sections the trained pipeline is built with (besides the model files)."""

    blend: BlendConfig  # MAFB, at the resolution TAFT was trained at
    audio: AudioConfig  # this machine's wav2vec2 weights folder
    face_model: FaceModelConfig
    render: RenderConfig


def load_pipeline(
    cfg: PipelineConfig,
    a2ep_model: Path,
    taft_model: Path,
    device: torch.device,
    section: str = "generate",
    log: Callable[[str], None] | None = None,
    precision: str = "float32",
) -> Pipeline:
    """Load the trained models and build MAFB with the configs of ``cfg``.

    ``section`` is the params section naming the model files (for the error messages); ``precision``
    is TAFT's: ``float32``, ``bfloat16`` or ``auto`` (:func:`inference_dtype`).

    Raises
    ------
    MissingAssetError: a model file is missing, corrupt or truncated (names ``<section>.a2ep_model``/
        ``taft_model`` and the stage that trains it).
    InputError: TAFT was trained at another resolution than ``blend.size``.
    """
    from gsmoothface.model_file import check_model_file

    for path, what, key, stage in (
        (a2ep_model, "A2EP model", "a2ep_model", "train_a2ep"),
        (taft_model, "TAFT model", "taft_model", "train_taft"),
    ):
        check_model_file(path, what, f"params key {section}.{key}; train it with `dvc repro {stage}`")
    from gsmoothface.blend import MafbBlender
    from gsmoothface.face_model import load_face_model

    translator, size = load_translator(taft_model, device, precision)
    if size != cfg.blend.size:
        raise InputError(f"{taft_model} was trained at {size} px but blend.size is {cfg.blend.size}")
    predictor, speakers = load_predictor(a2ep_model, cfg.audio, device, log)
    face = load_face_model(cfg.face_model)
    blender = MafbBlender(face, cfg.blend, cfg.render.backend, str(device))
    return Pipeline(
        predictor, speakers, blender.face_model, blender, translator, size, Path(a2ep_model), Path(taft_model)
    )
