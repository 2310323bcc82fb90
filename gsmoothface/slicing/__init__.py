"""The ``slice`` stage's library: raw talking-face videos -> fixed-rate, face-centred clips."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from gsmoothface.errors import InputError
from gsmoothface.landmarks.source import LandmarkSource, open_landmark_source
from gsmoothface.progress import progress
from gsmoothface.slicing.config import SliceConfig
from gsmoothface.slicing.manifest import ClipEntry
from gsmoothface.slicing.plan import ClipSpec, VideoPlan, plan_videos
from gsmoothface.slicing.video import (
    ClipResult,
    place_crop,
    plan_pieces,
    slice_video,
    validate_video,
    write_clip,
)

__all__ = ["ClipEntry", "ClipResult", "SliceConfig", "SliceReport", "slice_clip", "slice_folder"]


@dataclasses.dataclass
class SliceReport:
    """What a run produced: the clips written and one line per failure."""

    clips: list[ClipResult] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)


class _LazyDetector:
    """Opens the landmark detector on first use only (most demo videos bring sidecars)."""

    def __init__(self, cfg: SliceConfig, device: str) -> None:
        self.kind = "dlib" if cfg.detector in ("auto", "sidecar") else cfg.detector
        self.cfg, self.device = cfg, device
        self._source: LandmarkSource | None = None

    def __call__(self) -> LandmarkSource:
        if self._source is None:
            self._source = open_landmark_source(
                self.kind, fan_weights=self.cfg.fan_weights, device=self.device
            )
        return self._source


def slice_folder(
    cfg: SliceConfig,
    fps: int = 25,
    sample_rate: int = 16000,
    device: str = "cpu",
    videos: Sequence[str] = (),
    progress_every: int = 50,
    log: Callable[[str], None] = print,
) -> SliceReport:
    """Slice every video of ``cfg.input_dir`` (or only those named in ``videos``, by file name or stem).

    A video or span that fails is reported (``log`` and the returned report) and the others go on.
    """
    plans: list[VideoPlan] = plan_videos(cfg.input_dir, cfg.manifest)
    if videos:
        wanted = set(videos)
        unknown = wanted - {p.name for p in plans} - {p.path.name for p in plans}
        if unknown:
            raise InputError(f"{cfg.input_dir}: no video named {', '.join(sorted(unknown))}")
        plans = [p for p in plans if p.name in wanted or p.path.name in wanted]
    if not plans:
        raise InputError(f"{cfg.input_dir}: no video files found")
    detector = _LazyDetector(cfg, device)
    report = SliceReport()
    for plan in progress(plans, "slice", every=progress_every):
        try:
            clips, failures = slice_video(plan, cfg, fps, sample_rate, detector)
        except InputError as exc:
            clips, failures = [], [str(exc)]
        report.clips += clips
        report.failures += failures
        seconds = sum(c.frames for c in clips) / fps
        log(
            f"slice: {plan.path.name}: {len(clips)} clip(s), {seconds:.2f} s"
            + (" (with failures)" if failures else "")
        )
        for failure in failures:
            log(f"slice: FAILED {failure}")
    return report


def slice_clip(
    entry: ClipEntry, cfg: SliceConfig, fps: int = 25, sample_rate: int = 16000, device: str = "cpu"
) -> ClipResult:
    """Write the one clip a manifest entry describes to ``cfg.output_dir / entry.clip``.

    Raises
    ------
    InputError: the video is missing or corrupt, the span is too short, or longer than
    ``cfg.max_seconds`` (the manifest, not this function, cuts long spans).
    """
    path = Path(entry.video)
    spec = ClipSpec(entry.start_s, entry.end_s, entry.crop, crop_from="manifest")
    plan = VideoPlan(path, path.stem, (spec,), entry.speaker, entry.speaker_index, entry.split)
    info = validate_video(path)
    pieces, failures = plan_pieces(plan, info, cfg, fps, sample_rate)
    if failures:
        raise InputError(failures[0])
    if len(pieces) != 1:
        raise InputError(
            f"clip {entry.clip}: span longer than slice.max_seconds={cfg.max_seconds}; "
            "rewrite the manifest with `gsmoothface manifest`"
        )
    box, box_source = place_crop(plan, info, pieces[0], cfg, fps, _LazyDetector(cfg, device))
    return write_clip(plan, info, pieces[0], entry.clip, box, box_source, cfg, fps, sample_rate)
