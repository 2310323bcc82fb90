"""The ``slice`` stage's library: raw talking-face videos -> fixed-rate, face-centred clips."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from gsmoothface.errors import InputError
from gsmoothface.landmarks.source import LandmarkSource, open_landmark_source
from gsmoothface.progress import progress
from gsmoothface.slicing.config import SliceConfig
from gsmoothface.slicing.plan import VideoPlan, plan_videos
from gsmoothface.slicing.video import ClipResult, slice_video

__all__ = ["ClipResult", "SliceConfig", "SliceReport", "slice_folder"]


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
