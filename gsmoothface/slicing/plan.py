"""What to cut from each source video: time spans, crop boxes and speaker labels.

Sources of this information, all optional:

- HDTF annotation files in the input folder (format of the HDTF dataset release):
  ``<group>_annotion_time.txt`` lines ``<video>.mp4 mm:ss-mm:ss mm:ss-mm:ss ...`` (one span per clip),
  ``<group>_crop_wh.txt`` lines ``<video>_<clip index>.mp4 x_min width y_min height`` (a fixed crop
  window per clip) and ``<group>_resolution.txt`` lines ``<video>.mp4 <height>`` (the frame height
  the crop windows refer to). Videos may be named with or without the ``<group>_`` prefix.
- A manifest CSV (``slice.manifest``) with a ``video`` column (file name or stem) and any of
  ``speaker``, ``speaker_index``, ``split``, ``crop_x0``, ``crop_y0``, ``crop_side``.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from gsmoothface.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts")

Box = tuple[int, int, int]  # (x0, y0, side) in source pixels


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """One annotated span of a video and its optional fixed crop box."""

    start_s: float
    end_s: float | None  # None: to the end of the video
    crop_box: Box | None = None
    crop_height: int | None = None  # frame height ``crop_box`` refers to (None: the video's own)
    crop_from: str = "annotation"  # where ``crop_box`` comes from: annotation | manifest


@dataclasses.dataclass(frozen=True)
class VideoPlan:
    """Everything known about one source video before it is opened."""

    path: Path
    name: str
    clips: tuple[ClipSpec, ...]
    speaker: str
    speaker_index: int
    split: str


def find_videos(input_dir: Path) -> list[Path]:
    """Video files of ``input_dir`` (by suffix, case-insensitive), sorted by name."""
    if not input_dir.is_dir():
        raise InputError(f"{input_dir}: input folder not found")
    return sorted(p for p in input_dir.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def parse_time(text: str) -> float:
    """``ss``, ``mm:ss`` or ``hh:mm:ss`` (fractions allowed) -> seconds."""
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _read_table(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [line.split() for line in lines if line.strip()]


def _keys(group: str, name: str) -> tuple[str, ...]:
    stem = Path(name).stem
    return (stem, f"{group}_{stem}")


def read_hdtf_annotations(input_dir: Path) -> dict[str, list[ClipSpec]]:
    """HDTF time spans and crop windows by video stem (with and without the group prefix)."""
    spans: dict[str, list[ClipSpec]] = {}
    for time_file in sorted(input_dir.glob("*_annotion_time.txt")):
        group = time_file.name.removesuffix("_annotion_time.txt")
        heights = {}
        res_file = input_dir / f"{group}_resolution.txt"
        if res_file.is_file():
            heights = {k: int(row[1]) for row in _read_table(res_file) for k in _keys(group, row[0])}
        crops: dict[str, Box] = {}
        crop_file = input_dir / f"{group}_crop_wh.txt"
        if crop_file.is_file():
            for row in _read_table(crop_file):
                x, w, y, h = (int(float(v)) for v in row[1:5])
                side = max(w, h)  # HDTF windows are square; centre a square on any that is not
                for key in _keys(group, row[0]):
                    crops[key] = (x + (w - side) // 2, y + (h - side) // 2, side)
        for row in _read_table(time_file):
            try:
                ranges = [tuple(parse_time(t) for t in item.split("-")) for item in row[1:]]
            except ValueError:
                raise InputError(f"{time_file}: bad time span in line '{' '.join(row)}'") from None
            for key in _keys(group, row[0]):
                spans[key] = [
                    ClipSpec(start, end, crops.get(f"{key}_{i}"), heights.get(key))
                    for i, (start, end) in enumerate(ranges)
                ]
    return spans


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Manifest rows by video stem."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "video" not in rows[0]:
        raise InputError(f"{path}: manifest needs a 'video' column (has {', '.join(rows[0])})")
    return {Path(row["video"]).stem if Path(row["video"]).suffix else row["video"]: row for row in rows}


def _manifest_box(row: dict[str, str], path: Path) -> Box | None:
    values = [row.get(k, "") for k in ("crop_x0", "crop_y0", "crop_side")]
    if not any(v.strip() for v in values):
        return None
    try:
        x0, y0, side = (int(float(v)) for v in values)
    except ValueError:
        raise InputError(f"{path}: bad crop box {values} for video {row['video']}") from None
    return x0, y0, side


def plan_videos(input_dir: Path, manifest_name: str = "manifest.csv") -> list[VideoPlan]:
    """One plan per video of ``input_dir``, combining annotations and the manifest."""
    videos = find_videos(input_dir)
    annotations = read_hdtf_annotations(input_dir)
    manifest_path = input_dir / manifest_name
    manifest = read_manifest(manifest_path)
    plans = []
    for index, path in enumerate(videos):
        row = manifest.get(path.stem, {})
        clips = annotations.get(path.stem)
        if clips is None:
            box = _manifest_box(row, manifest_path) if row else None
            clips = [ClipSpec(0.0, None, box, crop_from="manifest")]
        try:
            speaker_index = int(row.get("speaker_index") or index)
        except ValueError:
            raise InputError(f"{manifest_path}: bad speaker_index for video {path.stem}") from None
        plans.append(
            VideoPlan(
                path=path,
                name=path.stem,
                clips=tuple(clips),
                speaker=row.get("speaker") or path.stem,
                speaker_index=speaker_index,
                split=row.get("split") or "train",
            )
        )
    return plans
