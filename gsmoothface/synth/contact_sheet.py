"""A PNG contact sheet of decoded frames: a few videos, mouth closed and open, for a human to look at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from gsmoothface.atomic import atomic_path
from gsmoothface.media import read_frames

THUMB = 192  # pixels per thumbnail side


def pick_frames(jaw: np.ndarray, n: int) -> np.ndarray:
    """``n`` frame indices in time order: half the most open mouths, half the most closed.

    Chosen frames are at least 3 frames apart, so the sheet shows different moments.
    """
    chosen: list[int] = []

    def take(order: np.ndarray, count: int) -> None:
        for index in order:
            if count == 0:
                return
            if all(abs(int(index) - c) >= 3 for c in chosen):
                chosen.append(int(index))
                count -= 1

    take(np.argsort(-jaw, kind="stable"), (n + 1) // 2)
    take(np.argsort(jaw, kind="stable"), n - (n + 1) // 2)
    return np.sort(np.asarray(chosen, dtype=np.int64))


def write_contact_sheet(
    path: Path, videos: Sequence[Path], jaws: Sequence[np.ndarray], n_frames: int
) -> None:
    """One row per video of ``n_frames`` thumbnails picked by :func:`pick_frames` from its jaw track.

    Parameters
    ----------
    videos: mp4 files (decoded, so the sheet shows the compressed frames).
    jaws: (T,) jaw opening per video, in [0, 1].
    """
    rows = []
    for video, jaw in zip(videos, jaws, strict=True):
        frames = read_frames(video, size=THUMB)
        picks = pick_frames(jaw[: len(frames)], n_frames)
        row = np.zeros((THUMB, THUMB * n_frames, 3), np.uint8)
        for k, index in enumerate(picks):
            row[:, k * THUMB : (k + 1) * THUMB] = frames[index]
        rows.append(row)
    with atomic_path(path) as tmp:
        Image.fromarray(np.concatenate(rows, axis=0)).save(tmp, format="PNG")
