"""Settings of the ``slice`` stage (params section ``slice``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal


@dataclasses.dataclass(frozen=True)
class SliceConfig:
    """How raw talking-face videos become fixed-rate, face-centred clips."""

    input_dir: Path = Path("data/raw/demo")  # folder of source videos (+ optional annotations/manifest)
    output_dir: Path = Path("data/clips")  # one sub-folder per clip
    size: int = 512  # side of the square output crop (px)
    min_seconds: float = 1.0  # shorter clips are rejected
    max_seconds: float = 60.0  # longer spans are cut at quiet points
    strict: bool = False  # fail the stage at the end when any video or clip failed
    detector: Literal["auto", "sidecar", "dlib", "fan"] = "auto"  # auto: sidecar if present, else dlib
    fan_weights: Path | None = None  # FAN folder/file for detector=fan (None: $TORCH_HOME/hub/checkpoints)
    detect_fps: float = 5.0  # frames per second sampled to place the crop box
    crop_scale: float = 2.4  # crop side / landmark box side (HDTF-like head-and-shoulders framing)
    crop_shift: float = 0.1  # crop centre above the landmark centre, in landmark box sides
    quiet_window_s: float = 0.2  # RMS window used to find a quiet cut point (s)
    quiet_search_s: float = 3.0  # a cut is searched within this distance of the target length (s)
    crf: int = 18  # H.264 quality of video.mp4 (lower = better)
    mux_audio: bool = True  # also put the clip's audio (AAC) into video.mp4 for viewing
    manifest: str = "manifest.csv"  # optional per-video table in input_dir (speaker, split, crop box)
