"""Slice one source video into clips: validate, cut at quiet points, place the crop, write.

Each clip folder holds ``video.mp4`` (constant ``fps``, H.264, ``size`` x ``size``), ``audio.wav``
(mono PCM16 at ``sample_rate``, exactly ``frames * sample_rate / fps`` samples), ``meta.json`` and
the carried sidecars; it is written into a temporary folder renamed into place when complete.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gsmoothface import media
from gsmoothface.atomic import atomic_dir, write_json, write_npz
from gsmoothface.config import config_to_dict
from gsmoothface.errors import InputError
from gsmoothface.landmarks.sidecar import read_sidecar
from gsmoothface.landmarks.source import LandmarkSource
from gsmoothface.media.tools import tool_version
from gsmoothface.slicing.config import SliceConfig
from gsmoothface.slicing.geometry import Box, clamp_box, crop_box_from_landmarks
from gsmoothface.slicing.plan import VideoPlan
from gsmoothface.slicing.quiet import quiet_cuts
from gsmoothface.slicing.sidecars import carry_landmarks, carry_truth, sidecar_paths, source_indices

MAX_MISSING_FRAMES = 3  # decoded video/audio may fall this many frames short of the span (stream ends)


@dataclasses.dataclass(frozen=True)
class Piece:
    """One clip to write: a frame-aligned span of the source and its audio."""

    start_s: float
    n_frames: int
    audio: np.ndarray  # (n_frames * samples_per_frame,) float32
    crop_box: Box | None  # from annotations or the manifest; None: from landmarks
    box_source: str


@dataclasses.dataclass(frozen=True)
class ClipResult:
    """A written clip."""

    name: str
    path: Path
    frames: int
    start_s: float
    crop_box: Box


def plan_pieces(
    plan: VideoPlan, info: media.MediaInfo, cfg: SliceConfig, fps: int, sample_rate: int
) -> tuple[list[Piece], list[str]]:
    """Validate the video's spans, load their audio and cut them at quiet points.

    Returns
    -------
    (pieces, failures): failures are one-line messages for spans that cannot become clips.
    """
    spf = sample_rate // fps  # audio samples per video frame
    end_of_media = info.av_duration_s
    pieces, failures = [], []
    for spec in plan.clips:
        start = max(spec.start_s, 0.0)
        end = min(spec.end_s if spec.end_s is not None else end_of_media, end_of_media)
        n_frames = round((end - start) * fps)
        label = f"{plan.path.name} [{start:.2f}-{end:.2f} s]"
        if n_frames / fps < cfg.min_seconds:
            failures.append(
                f"{label}: {max(end - start, 0.0):.2f} s is shorter than slice.min_seconds={cfg.min_seconds}"
            )
            continue
        audio = media.load_audio(plan.path, sample_rate, start_s=start, duration_s=n_frames / fps)
        if len(audio) < n_frames * spf - MAX_MISSING_FRAMES * spf:
            failures.append(
                f"{label}: decoded only {len(audio) / sample_rate:.2f} s of audio (truncated or corrupt?)"
            )
            continue
        audio = _fit_length(audio, n_frames * spf)
        box, box_source = None, ""
        if spec.crop_box is not None:
            scale = info.height / spec.crop_height if spec.crop_height else 1.0
            x0, y0, side = (v * scale for v in spec.crop_box)
            box, box_source = clamp_box((x0, y0, side), info.width, info.height), spec.crop_from
        cuts = [0, n_frames]
        if n_frames > cfg.max_seconds * fps:
            cuts = quiet_cuts(
                audio,
                n_frames,
                spf,
                max_frames=int(cfg.max_seconds * fps),
                window=int(cfg.quiet_window_s * sample_rate),
                search_frames=int(cfg.quiet_search_s * fps),
                min_frames=math.ceil(cfg.min_seconds * fps),
            )
        for a, b in itertools.pairwise(cuts):
            pieces.append(Piece(start + a / fps, b - a, audio[a * spf : b * spf], box, box_source))
    return pieces, failures


def _fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad ``audio`` to ``n`` samples (decoders round spans to their own packets)."""
    if len(audio) >= n:
        return audio[:n]
    return np.pad(audio, (0, n - len(audio)))


def place_crop(
    plan: VideoPlan,
    info: media.MediaInfo,
    piece: Piece,
    cfg: SliceConfig,
    fps: int,
    detector: Callable[[], LandmarkSource],
) -> tuple[Box, str]:
    """The piece's crop box: given, or from landmarks sampled at ``cfg.detect_fps`` over the piece."""
    if piece.crop_box is not None:
        return piece.crop_box, piece.box_source
    duration = piece.n_frames / fps
    n_samples = max(1, int(duration * cfg.detect_fps))
    landmark_sidecar = sidecar_paths(plan.path).get("landmarks")
    if landmark_sidecar is not None and cfg.detector in ("auto", "sidecar"):
        lm68, valid = read_sidecar(landmark_sidecar)
        idx = source_indices(n_samples, piece.start_s, cfg.detect_fps, info.fps, len(lm68))
        lm68, valid, source = lm68[idx], valid[idx], "sidecar"
    elif cfg.detector == "sidecar":
        raise InputError(
            f"{plan.path}: slice.detector is 'sidecar' but {plan.path.stem}.landmarks.npz is missing"
        )
    else:
        landmark_source = detector()
        found = [
            landmark_source.detect(chunk)
            for chunk in media.iter_frames(
                plan.path, chunk=16, fps=cfg.detect_fps, start_s=piece.start_s, duration_s=duration
            )
        ]
        lm68 = np.concatenate([lm for lm, _ in found])
        valid = np.concatenate([v for _, v in found])
        source = landmark_source.name
    try:
        box = crop_box_from_landmarks(
            lm68, valid, info.width, info.height, scale=cfg.crop_scale, shift=cfg.crop_shift
        )
    except InputError as exc:
        raise InputError(f"{plan.path} at {piece.start_s:.2f} s: {exc} (landmarks: {source})") from None
    return box, source


def write_clip(
    plan: VideoPlan,
    info: media.MediaInfo,
    piece: Piece,
    name: str,
    box: Box,
    box_source: str,
    cfg: SliceConfig,
    fps: int,
    sample_rate: int,
) -> ClipResult:
    """Decode, crop, resize and encode one clip with its audio, meta and sidecars, atomically."""
    target = cfg.output_dir / name
    x0, y0, side = box
    with atomic_dir(target) as tmp:
        media.write_wav(tmp / "audio.wav", piece.audio, sample_rate)
        audio_path = tmp / "audio.wav" if cfg.mux_audio else None
        written, last = 0, None
        with media.VideoWriter(tmp / "video.mp4", cfg.size, cfg.size, fps, cfg.crf, audio_path) as writer:
            for chunk in media.iter_frames(
                plan.path,
                fps=fps,
                start_s=piece.start_s,
                duration_s=piece.n_frames / fps,
                crop=(x0, y0, side, side),
                size=cfg.size,
            ):
                chunk = chunk[: piece.n_frames - written]
                if len(chunk):
                    writer.write(chunk)
                    written, last = written + len(chunk), chunk[-1]
            missing = piece.n_frames - written
            if missing > MAX_MISSING_FRAMES or last is None:
                raise InputError(
                    f"{plan.path}: decoded only {written} of {piece.n_frames} frames from "
                    f"{piece.start_s:.2f} s (truncated or corrupt video?)"
                )
            if missing:
                writer.write(np.repeat(last[None], missing, axis=0))  # hold the last frame
        sidecars = sidecar_paths(plan.path)
        args = (piece.n_frames, piece.start_s, fps, info.fps, box, cfg.size)
        if "landmarks" in sidecars:
            write_npz(tmp / "landmarks.npz", **carry_landmarks(sidecars["landmarks"], *args))
        if "truth" in sidecars:
            write_npz(tmp / "truth.npz", **carry_truth(sidecars["truth"], *args))
        write_json(
            tmp / "meta.json",
            {
                "source": str(plan.path),
                "video": plan.name,
                "clip": name,
                "start_s": round(piece.start_s, 6),
                "end_s": round(piece.start_s + piece.n_frames / fps, 6),
                "crop_box": [int(x0), int(y0), int(side)],
                "crop_from": box_source,
                "frames": piece.n_frames,
                "fps": fps,
                "sample_rate": sample_rate,
                "size": cfg.size,
                "speaker": plan.speaker,
                "speaker_index": plan.speaker_index,
                "split": plan.split,
                "source_fps": info.fps,
                "source_size": [info.width, info.height],
                "sidecars": sorted(sidecars),
                "slice_config": config_to_dict(cfg),
                "ffmpeg": tool_version("ffmpeg"),  # the decoder, scaler and encoder that made the clip
            },
        )
    return ClipResult(name, target, piece.n_frames, piece.start_s, box)


def validate_video(path: Path) -> media.MediaInfo:
    """Probe a source video and reject what cannot be sliced, with one-line reasons."""
    info = media.probe(path)
    if not info.has_video:
        raise InputError(f"{path}: no video stream")
    if not info.has_audio:
        raise InputError(f"{path}: no audio stream (clips need the speech)")
    if info.n_frames <= 0 or info.av_duration_s <= 0:
        raise InputError(f"{path}: zero-length video (no frames or no audio samples)")
    return info


def slice_video(
    plan: VideoPlan,
    cfg: SliceConfig,
    fps: int,
    sample_rate: int,
    detector: Callable[[], LandmarkSource],
) -> tuple[list[ClipResult], list[str]]:
    """Turn one source video into clips.

    Returns
    -------
    (clips, failures): written clips, and one-line messages for the spans that failed. A failure
    of the whole video raises :class:`InputError`.
    """
    info = validate_video(plan.path)
    pieces, failures = plan_pieces(plan, info, cfg, fps, sample_rate)
    clips = []
    for k, piece in enumerate(pieces):
        name = plan.name if len(pieces) == 1 else f"{plan.name}_{k:03d}"
        try:
            box, box_source = place_crop(plan, info, piece, cfg, fps, detector)
            clips.append(write_clip(plan, info, piece, name, box, box_source, cfg, fps, sample_rate))
        except InputError as exc:
            failures.append(str(exc))
    return clips, failures
