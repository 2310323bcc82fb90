"""The inference path end to end: speech + a reference clip -> a talking-face mp4 with the speech.

GSmoothFace's demo in one pass (spec section 5): A2EP predicts expression coefficients for the
audio (step 3.1); each output frame takes a reference frame's pose, identity, texture and lighting
with the predicted expression and is rendered and blended into that frame by MAFB (step 3.2); TAFT
translates the blended frame, with the reference clip's first frame as the appearance reference
(step 3.3); the translated face is pasted back into the reference's full-resolution frame through
the MAFB mask, and the frames are encoded with the audio (H.264 yuv420p + AAC). The reference is
walked forwards and backwards (ping-pong) when the audio is longer than it, so motion never jumps.
Frames stream in chunks through a memory-mapped copy of the reference, so memory does not grow with
the audio's length.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from gsmoothface.atomic import atomic_path
from gsmoothface.errors import InputError

EXP = slice(80, 144)  # expression coefficients inside the 257-vector
SAMPLES_PER_FRAME = 640  # 16 kHz audio samples per 25 fps video frame

# (audio (S,) float32 at 16 kHz, n_frames, speaker) -> (n_frames, 64) expression coefficients
ExpressionPredictor = Callable[[np.ndarray, int, str | None], np.ndarray]
# (reference (B,3,S,S), blended (B,3,S,S)) in [0,1] -> translated (B,3,S,S) in [0,1]
Translator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """``generate`` section: models, reference handling and encoding of ``gsmoothface generate``."""

    speaker: str | None = (
        None  # A2EP speaker style; None: the reference clip's speaker if trained, else the first
    )
    a2ep_model: Path = Path("models/a2ep.pt")  # trained A2EP checkpoint
    taft_model: Path = Path("models/taft.pt")  # trained TAFT checkpoint
    clips_dir: Path = Path("data/clips")  # where `slice` writes clips (reference given by clip name)
    fit_dir: Path = Path("data/3dmm")  # where `fit_3dmm` writes each clip's coefficients
    cache_dir: Path = Path("data/cache")  # decoded references, keyed by content hash
    loop: Literal["pingpong", "loop"] = "pingpong"  # how a reference shorter than the audio repeats
    chunk: int = 32  # frames rendered, translated and encoded at once (bounds memory)
    crf: int = 18  # H.264 constant rate factor of the output


@dataclasses.dataclass(frozen=True)
class Reference:
    """A reference clip: its frames (a square face crop) and its per-frame 3DMM fit."""

    name: str
    video: Path  # the clip's video.mp4
    coeff: np.ndarray  # (T, 257) float32
    trans_params: np.ndarray  # (T, 5) float64, align_img parameters of the clip frames
    size: int  # clip frame side, px
    speaker: str | None  # the clip's speaker (meta.json), if known

    @property
    def n_frames(self) -> int:
        return len(self.coeff)


def reference_indices(n_out: int, n_ref: int, loop: str = "pingpong") -> np.ndarray:
    """Reference frame index of each output frame.

    ``pingpong`` walks 0..n-1, n-2..1, 0..n-1, ... (no jump at the turns); ``loop`` restarts at 0.

    Returns
    -------
    (n_out,) int64.
    """
    if n_ref < 1:
        raise InputError("the reference has no frames")
    t = np.arange(n_out)
    if loop == "loop" or n_ref == 1:
        return t % n_ref
    period = 2 * n_ref - 2
    phase = t % period
    return np.where(phase < n_ref, phase, period - phase).astype(np.int64)


def open_reference(path: Path, cfg: GenerateConfig) -> Reference:
    """Open a reference given as a clip folder, a clip's ``video.mp4`` or a clip name.

    The clip's coefficients come from ``<fit_dir>/<clip>.npz`` (the ``fit_3dmm`` output).

    Raises
    ------
    InputError: no such clip, or its fit does not match its frames.
    """
    path = Path(path)
    if path.is_file() and path.name == "video.mp4":
        path = path.parent
    if not path.is_dir() and (cfg.clips_dir / path.name).is_dir():
        path = cfg.clips_dir / path.name
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise InputError(
            f"{path}: not a clip folder (no meta.json); give a clip of `gsmoothface slice` "
            f"(e.g. {cfg.clips_dir}/<clip>) or its video.mp4"
        )
    meta = json.loads(meta_path.read_text())
    name = str(meta.get("clip", path.name))
    fit_path = cfg.fit_dir / f"{name}.npz"
    if not fit_path.is_file():
        raise InputError(f"{fit_path}: no 3DMM fit of clip {name}; run `gsmoothface fit-3dmm` first")
    with np.load(fit_path) as fit:
        coeff = fit["coeff"].astype(np.float32)
        trans_params = fit["trans_params"].astype(np.float64)
    if len(coeff) != int(meta["frames"]):
        raise InputError(f"{fit_path}: {len(coeff)} fitted frames but the clip has {meta['frames']}")
    return Reference(
        name=name,
        video=path / "video.mp4",
        coeff=coeff,
        trans_params=trans_params,
        size=int(meta["size"]),
        speaker=meta.get("speaker"),
    )


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content (hex, first 16 characters), the cache key of a reference."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def frame_store(video: Path, cache_dir: Path, n_frames: int) -> np.ndarray:
    """The video's frames as a read-only memory map (T,H,W,3) uint8, decoded once per content hash.

    Random access in any order (ping-pong) without holding the clip in memory.
    """
    from gsmoothface.media import iter_frames, probe

    info = probe(video)
    path = cache_dir / "frames" / f"{file_digest(video)}_{info.width}x{info.height}.npy"
    if not path.is_file():
        with atomic_path(path) as tmp:
            store = np.lib.format.open_memmap(
                tmp, mode="w+", dtype=np.uint8, shape=(n_frames, info.height, info.width, 3)
            )
            start = 0
            for chunk in iter_frames(video, chunk=64):
                take = min(len(chunk), n_frames - start)
                store[start : start + take] = chunk[:take]
                start += take
                if start == n_frames:
                    break
            if start < n_frames:
                raise InputError(f"{video}: {start} frames decoded, {n_frames} expected")
            store.flush()
            del store
    return np.load(path, mmap_mode="r")


def resize(images: torch.Tensor, side: int, mode: str = "bilinear") -> torch.Tensor:
    """(B,C,H,W) -> (B,C,side,side); antialiased when shrinking."""
    if images.shape[-1] == side and images.shape[-2] == side:
        return images
    shrink = images.shape[-1] > side
    kwargs = {"antialias": shrink} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(images, size=(side, side), mode=mode, **kwargs)


@dataclasses.dataclass
class DrivenChunk:
    """One chunk of driven frames, all (n,H,W,3) uint8 at the reference clip's resolution."""

    start: int  # index of the first output frame
    reference_index: np.ndarray  # (n,) reference frame of each output frame
    frames: np.ndarray  # the reference frames driven
    blended: np.ndarray  # MAFB blended frames (render pasted into the frame), up-sampled
    generated: np.ndarray  # TAFT output pasted back into the reference frames
    mask: np.ndarray  # (n,H,W) float32 in [0,1], the soft paste-back mask
    coeff: np.ndarray  # (n,257) the driven coefficients (reference pose, predicted expression)


def drive(
    reference: Reference,
    exp: np.ndarray,
    store: np.ndarray,
    blender: Callable,
    translator: Translator,
    size: int,
    chunk: int = 32,
    loop: str = "pingpong",
) -> Iterator[DrivenChunk]:
    """Drive the reference's frames with an expression sequence, chunk by chunk.

    Parameters
    ----------
    reference: the reference clip; store: its frames (T,H,W,3) (e.g. :func:`frame_store`).
    exp: (N, 64) expression coefficients, one row per output frame.
    blender: a ``gsmoothface.blend.MafbBlender`` (frames, coeff, trans_params) -> BlendResult.
    translator: TAFT at ``size``.
    size: the MAFB/TAFT working resolution (``blend.size``).

    Yields
    ------
    :class:`DrivenChunk` per ``chunk`` output frames.
    """
    indices = reference_indices(len(exp), reference.n_frames, loop)
    device = getattr(blender, "device", torch.device("cpu"))
    appearance = resize(_to_tensor(np.asarray(store[:1])), size).to(device)  # (1,3,S,S): the demo's frame 0
    for start in range(0, len(exp), chunk):
        idx = indices[start : start + chunk]
        frames = np.asarray(store[idx])  # (n,H,W,3)
        full = _to_tensor(frames).to(device)  # (n,3,H,W)
        coeff = reference.coeff[idx].copy()
        coeff[:, EXP] = exp[start : start + chunk]
        result = blender(resize(full, size), torch.from_numpy(coeff), reference.trans_params[idx])
        with torch.no_grad():
            out = translator(appearance.expand(len(idx), -1, -1, -1), result.blended).clamp(0, 1)
        side = full.shape[-1]
        mask = resize(result.mask, side, "bilinear").clamp(0, 1)  # (n,1,H,W) soft paste-back mask
        generated = full * (1 - mask) + resize(out, side, "bicubic").clamp(0, 1) * mask
        blended = full * (1 - mask) + resize(result.blended, side, "bicubic").clamp(0, 1) * mask
        yield DrivenChunk(
            start, idx, frames, _to_uint8(blended), _to_uint8(generated), mask[:, 0].cpu().numpy(), coeff
        )


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(B,H,W,3) uint8 -> (B,3,H,W) float in [0,1]."""
    return torch.from_numpy(np.array(frames, dtype=np.uint8)).permute(0, 3, 1, 2).float() / 255.0


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B,3,H,W) float in [0,1] -> (B,H,W,3) uint8."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def n_output_frames(n_samples: int, sample_rate: int = 16000, fps: int = 25) -> int:
    """Video frames covering the audio: round(duration * fps), at least 1."""
    return max(1, round(n_samples * fps / sample_rate))


def generate_video(
    audio: np.ndarray,
    reference: Reference,
    predictor: ExpressionPredictor,
    blender: Callable,
    translator: Translator,
    out: Path,
    cfg: GenerateConfig,
    size: int,
    speaker: str | None = None,
    sample_rate: int = 16000,
    fps: int = 25,
    progress_every: int = 50,
) -> dict[str, object]:
    """Generate the talking-face video of ``audio`` on ``reference`` and write ``out`` (mp4 + AAC).

    Parameters
    ----------
    audio: (S,) float32 mono speech at ``sample_rate``.
    predictor: A2EP, ``(audio, n_frames, speaker) -> (n_frames, 64)``.
    blender, translator: MAFB and TAFT at ``size``.

    Returns
    -------
    A summary: frames, duration, speaker, reference.
    """
    from gsmoothface.media import VideoWriter, write_wav
    from gsmoothface.progress import progress

    if audio.ndim != 1 or len(audio) == 0:
        raise InputError(f"expected mono audio (S,), got shape {audio.shape}")
    n_out = n_output_frames(len(audio), sample_rate, fps)
    exp = np.asarray(predictor(audio, n_out, speaker), dtype=np.float32)
    if exp.shape != (n_out, 64):
        raise InputError(f"the expression predictor returned {exp.shape}, expected ({n_out}, 64)")
    store = frame_store(reference.video, cfg.cache_dir, reference.n_frames)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".generate.") as tmp:
        wav = Path(tmp) / "audio.wav"  # muxed into the video, then removed
        write_wav(wav, audio, sample_rate)
        writer = VideoWriter(out, store.shape[2], store.shape[1], fps=fps, crf=cfg.crf, audio_path=wav)
        with writer:
            chunks = drive(reference, exp, store, blender, translator, size, cfg.chunk, cfg.loop)
            total = -(-n_out // cfg.chunk)
            for driven in progress(
                chunks, "generate", total=total, every=max(1, progress_every // cfg.chunk)
            ):
                writer.write(driven.generated)
    return {
        "out": str(out),
        "frames": n_out,
        "duration_s": len(audio) / sample_rate,
        "reference": reference.name,
        "reference_frames": reference.n_frames,
        "speaker": speaker,
    }


def load_predictor(
    path: Path, local_audio: object, device: torch.device | str = "cpu"
) -> tuple[ExpressionPredictor, list[str]]:
    """A trained A2EP as an :data:`ExpressionPredictor`, and its training speakers.

    The audio front end is the one the model was trained with (stored in the model file); only the
    wav2vec2 weights folder comes from this machine's ``audio`` section (``local_audio``).
    """
    from gsmoothface.a2ep.checkpoint import load_model
    from gsmoothface.a2ep.predict import predict_audio
    from gsmoothface.audio import AudioConfig, open_frontend
    from gsmoothface.config import load_section

    model, info = load_model(path, device)
    trained = load_section(AudioConfig, "audio", {"audio": info["audio"]})
    weights = getattr(local_audio, "wav2vec2_dir", None) or trained.wav2vec2_dir
    frontend = open_frontend(dataclasses.replace(trained, wav2vec2_dir=weights), info["sample_rate"], device)
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


def load_translator(path: Path, device: torch.device | str = "cpu") -> tuple[Translator, int]:
    """The EMA generator of a TAFT checkpoint as a :data:`Translator`, and its resolution."""
    from gsmoothface.taft.train import load_checkpoint

    generator, meta = load_checkpoint(Path(path), device)
    return taft_translator(generator), int(meta["size"])


def taft_translator(generator: torch.nn.Module) -> Translator:
    """Wrap a TAFT generator working in [-1, 1] (tanh output) as a [0, 1] :data:`Translator`."""

    device = next(generator.parameters()).device

    def translate(reference: torch.Tensor, blended: torch.Tensor) -> torch.Tensor:
        out = generator(reference.to(device) * 2 - 1, blended.to(device) * 2 - 1)
        return (out.clamp(-1, 1) + 1) / 2

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


def load_pipeline(
    params: dict[str, Any], a2ep_model: Path, taft_model: Path, device: torch.device
) -> Pipeline:
    """Load the trained models and build MAFB from the ``params.yaml`` sections they depend on.

    Raises
    ------
    MissingAssetError: a model file is missing (names the stage that trains it).
    InputError: TAFT was trained at another resolution than ``blend.size``.
    """
    from gsmoothface.audio import AudioConfig
    from gsmoothface.blend import BlendConfig, MafbBlender
    from gsmoothface.config import load_section
    from gsmoothface.face_model import FaceModelConfig, load_face_model
    from gsmoothface.render import RenderConfig

    blend_cfg = load_section(BlendConfig, "blend", params)
    translator, size = load_translator(taft_model, device)
    if size != blend_cfg.size:
        raise InputError(f"{taft_model} was trained at {size} px but blend.size is {blend_cfg.size}")
    predictor, speakers = load_predictor(a2ep_model, load_section(AudioConfig, "audio", params), device)
    face = load_face_model(load_section(FaceModelConfig, "face_model", params))
    backend = load_section(RenderConfig, "render", params).backend
    blender = MafbBlender(face, blend_cfg, backend, str(device))
    return Pipeline(predictor, speakers, blender.face_model, blender, translator, size)
