"""The clip manifest: the slicing plan of a folder of videos, one entry per clip.

``dvc.yaml`` loads it through ``vars`` and expands the per-clip stages (``slice@<clip>``,
``fit_3dmm@<clip>``, ...) over its ``clips`` mapping. Every value an entry holds is passed to
``gsmoothface slice`` on its command line, so ``dvc.lock`` records it and a changed entry re-runs
only its own clip. Entries are plain strings and integers (DVC interpolates nothing else into a
command): ``span`` is ``"<start>-<end>"`` in seconds with ``end`` for the end of the video, and
``crop`` is ``"auto"`` (placed from landmarks) or ``"<x0>,<y0>,<side>"`` in source pixels.
``landmarks`` names where the clip's landmarks come from, for ``dvc.yaml`` to list as a dependency:
the video's landmark sidecar (``<video>.landmarks.npz``, carried into the clip) or, without one,
the video itself (a detector reads its frames). A sidecar can change while its video does not
(landmark noise of the synthetic corpus), and the clip must then be cut again.

Long spans without annotations are cut at quiet points here, at plan time (the cut needs the
audio, which DVC cannot read before it runs anything), with the same rule as the folder mode of
``slice`` (:func:`gsmoothface.slicing.quiet.quiet_cuts`) and the same clip names
(``<video>`` for a single clip, ``<video>_<k:03d>`` for the pieces of one video).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from gsmoothface import media
from gsmoothface.atomic import atomic_path
from gsmoothface.errors import InputError
from gsmoothface.slicing.config import SliceConfig
from gsmoothface.slicing.geometry import Box
from gsmoothface.slicing.plan import ClipSpec, VideoPlan, plan_videos
from gsmoothface.slicing.quiet import quiet_cuts
from gsmoothface.slicing.sidecars import sidecar_paths


@dataclasses.dataclass(frozen=True)
class ClipEntry:
    """One clip of the manifest: where it comes from and its labels."""

    clip: str
    video: str  # source video path, as given to the manifest command (relative to the repo root)
    landmarks: str  # the video's landmark sidecar, or the video itself when it has none
    start_s: float
    end_s: float | None  # None: to the end of the video
    crop: Box | None  # (x0, y0, side) in source pixels; None: placed from landmarks
    speaker: str
    speaker_index: int
    split: str

    def to_yaml(self) -> dict[str, str | int]:
        """The entry as the manifest's plain values (strings and integers)."""
        return {
            "video": self.video,
            "landmarks": self.landmarks,
            "span": format_span(self.start_s, self.end_s),
            "crop": format_crop(self.crop),
            "speaker": self.speaker,
            "speaker_index": self.speaker_index,
            "split": self.split,
        }


def _seconds(value: float) -> str:
    return f"{round(value, 6):g}"


def format_span(start_s: float, end_s: float | None) -> str:
    """``"<start>-<end>"`` seconds; ``end`` stands for the end of the video."""
    return f"{_seconds(start_s)}-{'end' if end_s is None else _seconds(end_s)}"


def parse_span(text: str) -> tuple[float, float | None]:
    """Inverse of :func:`format_span`."""
    start, sep, end = text.partition("-")
    try:
        span = float(start), None if end == "end" else float(end)
    except ValueError:
        raise InputError(f"bad span '{text}': expected '<start>-<end>' seconds or '<start>-end'") from None
    if not sep or span[0] < 0 or (span[1] is not None and span[1] <= span[0]):
        raise InputError(f"bad span '{text}': expected 0 <= start < end")
    return span


def format_crop(box: Box | None) -> str:
    """``"auto"`` or ``"<x0>,<y0>,<side>"``."""
    return "auto" if box is None else ",".join(str(int(v)) for v in box)


def parse_crop(text: str) -> Box | None:
    """Inverse of :func:`format_crop`."""
    if text == "auto":
        return None
    try:
        x0, y0, side = (int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"bad crop '{text}': expected 'auto' or '<x0>,<y0>,<side>' pixels") from None
    if side <= 0:
        raise InputError(f"bad crop '{text}': the side must be positive")
    return x0, y0, side


def _spans(
    plan: VideoPlan, spec: ClipSpec, cfg: SliceConfig, fps: int, sample_rate: int, info: media.MediaInfo
) -> list[tuple[float, float | None]]:
    """The span of ``spec``, cut at quiet points when it is longer than ``cfg.max_seconds``."""
    end = info.av_duration_s if spec.end_s is None else min(spec.end_s, info.av_duration_s)
    n_frames = round((end - spec.start_s) * fps)
    if n_frames <= cfg.max_seconds * fps:
        return [(spec.start_s, spec.end_s)]
    spf = sample_rate // fps  # audio samples per frame
    audio = media.load_audio(plan.path, sample_rate, start_s=spec.start_s, duration_s=n_frames / fps)
    cuts = quiet_cuts(
        audio,
        min(n_frames, len(audio) // spf),
        spf,
        max_frames=int(cfg.max_seconds * fps),
        window=int(cfg.quiet_window_s * sample_rate),
        search_frames=int(cfg.quiet_search_s * fps),
        min_frames=math.ceil(cfg.min_seconds * fps),
    )
    return [(spec.start_s + a / fps, spec.start_s + b / fps) for a, b in itertools.pairwise(cuts)]


def plan_clips(
    input_dir: Path,
    cfg: SliceConfig,
    fps: int = 25,
    sample_rate: int = 16000,
    log: Callable[[str], None] = print,
) -> list[ClipEntry]:
    """The clips of every video of ``input_dir`` (HDTF annotations and ``cfg.manifest`` honoured).

    A video that cannot be probed is skipped with a line to ``log``; only spans longer than
    ``cfg.max_seconds`` have their audio decoded (to find the quiet cut points).
    """
    entries = []
    for plan in plan_videos(input_dir, cfg.manifest):
        try:
            info = media.probe(plan.path)
        except InputError as exc:
            log(f"manifest: skipped {plan.path.name}: {exc}")
            continue
        spans: list[tuple[float, float | None, Box | None]] = []
        for spec in plan.clips:
            box = None
            if spec.crop_box is not None:  # annotation windows refer to spec.crop_height rows
                scale = info.height / spec.crop_height if spec.crop_height else 1.0
                box = tuple(round(v * scale) for v in spec.crop_box)
            spans += [(s, e, box) for s, e in _spans(plan, spec, cfg, fps, sample_rate, info)]
        video = (input_dir / plan.path.name).as_posix()
        sidecar = sidecar_paths(plan.path).get("landmarks")
        landmarks = (input_dir / sidecar.name).as_posix() if sidecar is not None else video
        for k, (start, end, box) in enumerate(spans):
            entries.append(
                ClipEntry(
                    clip=plan.name if len(spans) == 1 else f"{plan.name}_{k:03d}",
                    video=video,
                    landmarks=landmarks,
                    start_s=start,
                    end_s=end,
                    crop=box,
                    speaker=plan.speaker,
                    speaker_index=plan.speaker_index,
                    split=plan.split,
                )
            )
    return entries


def manifest_text(entries: Sequence[ClipEntry], source: str) -> str:
    """The manifest YAML: ``clips: {<clip>: {video, span, crop, speaker, speaker_index, split}}``."""
    names = [e.clip for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"clip names are not unique: {', '.join(duplicates)}")
    header = (
        f"# Clip manifest of {source}: written by `gsmoothface manifest {source}`.\n"
        "# dvc.yaml expands the per-clip stages over `clips` (loaded through `vars`).\n"
    )
    return header + yaml.safe_dump({"clips": {e.clip: e.to_yaml() for e in entries}}, sort_keys=False)


def write_clip_manifest(path: Path, entries: Sequence[ClipEntry], source: str) -> None:
    """Write :func:`manifest_text` to ``path`` atomically."""
    text = manifest_text(entries, source)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_clip_manifest(path: Path) -> dict[str, dict[str, str | int]]:
    """The ``clips`` mapping of a manifest file."""
    if not path.is_file():
        raise InputError(
            f"{path}: manifest not found (write it with `gsmoothface manifest DIR --out {path}`)"
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    clips = data.get("clips")
    if not isinstance(clips, dict):
        raise InputError(f"{path}: no 'clips' mapping")
    return clips
