"""Packed per-clip MAFB arrays on disk: ``data/blended/<clip>/``.

Each clip directory holds uint8 ``.npy`` arrays at the TAFT resolution S, memory-mapped for reading
at random frame index (a few files per clip, never one per frame):
``blended.npy`` (T,S,S,3), ``mask.npy`` (T,S,S), ``frame.npy`` (T,S,S,3) the true frame,
``valid.npy`` (T,) bool (frames whose 3DMM fit is valid), and ``meta.json``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gsmoothface.atomic import atomic_dir, write_json
from gsmoothface.errors import InputError

ARRAYS = ("blended", "mask", "frame")


@dataclasses.dataclass
class BlendedClip:
    """One clip's packed MAFB arrays (memory-mapped, read-only)."""

    name: str
    blended: np.ndarray  # (T, S, S, 3) uint8
    mask: np.ndarray  # (T, S, S) uint8, the soft MAFB mask x 255
    frame: np.ndarray  # (T, S, S, 3) uint8, the true frame
    valid: np.ndarray  # (T,) bool
    meta: dict[str, Any]

    @property
    def n_frames(self) -> int:
        return len(self.frame)

    @property
    def size(self) -> int:
        return int(self.frame.shape[1])

    @property
    def split(self) -> str:
        return str(self.meta.get("split", "train"))

    @classmethod
    def open(cls, path: str | Path) -> BlendedClip:
        """Open ``path`` (a ``data/blended/<clip>`` directory) without reading the frames."""
        path = Path(path)
        meta_path = path / "meta.json"
        if not meta_path.is_file():
            raise InputError(f"{path}: not a blended clip (no meta.json); run `gsmoothface blend`")
        arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        valid = np.load(path / "valid.npy")
        lengths = {len(a) for a in arrays.values()} | {len(valid)}
        if len(lengths) != 1:
            raise InputError(f"{path}: arrays disagree on the frame count ({sorted(lengths)})")
        return cls(name=path.name, valid=valid, meta=json.loads(meta_path.read_text()), **arrays)


def write_blended_clip(
    out_dir: str | Path,
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_frames: int,
    size: int,
    valid: np.ndarray,
    meta: dict[str, Any],
) -> None:
    """Write a clip's MAFB arrays chunk by chunk (memory independent of T), atomically.

    Parameters
    ----------
    chunks: (blended (n,S,S,3), mask (n,S,S), frame (n,S,S,3)) uint8, consecutive frames.
    n_frames: T, the total number of frames the chunks deliver.
    valid: (T,) bool.

    Raises
    ------
    InputError: the chunks deliver a different number of frames than ``n_frames``.
    """
    shapes = {
        "blended": (n_frames, size, size, 3),
        "mask": (n_frames, size, size),
        "frame": (n_frames, size, size, 3),
    }
    with atomic_dir(out_dir) as tmp:
        maps = {
            name: np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=np.uint8, shape=shape)
            for name, shape in shapes.items()
        }
        start = 0
        for blended, mask, frame in chunks:
            stop = start + len(frame)
            if stop > n_frames:
                raise InputError(f"{out_dir}: more frames than the {n_frames} expected")
            for name, chunk in zip(ARRAYS, (blended, mask, frame), strict=True):
                maps[name][start:stop] = chunk
            start = stop
        if start != n_frames:
            raise InputError(f"{out_dir}: got {start} frames, expected {n_frames}")
        for array in maps.values():
            array.flush()
        del maps
        np.save(tmp / "valid.npy", np.asarray(valid, dtype=bool))
        write_json(tmp / "meta.json", {**meta, "frames": n_frames, "size": size})


def list_blended(root: str | Path, split: str | None = None) -> list[BlendedClip]:
    """Blended clips under ``root`` (sorted by name), optionally only those of one ``split``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no blended clips; run `gsmoothface blend` first")
    clips = [BlendedClip.open(p) for p in sorted(root.iterdir()) if (p / "meta.json").is_file()]
    return [c for c in clips if split is None or c.split == split]
