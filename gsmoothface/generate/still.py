"""A still photo as a reference: a short still video with a silent track, which ``slice`` then cuts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
MAX_SIDE = 1280  # px: larger photos are shrunk (the face crop is far smaller; fitting cost grows with it)


def is_image(path: Path) -> bool:
    """Whether ``path`` names a still photo (by its suffix)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def still_video(
    image: Path, cache_dir: Path, seconds: float, fps: int = 25, sample_rate: int = 16000
) -> Path:
    """Write ``image`` as a ``seconds``-long still mp4 with silent audio under ``cache_dir`` (once per
    content hash) and return its path.

    Raises
    ------
    InputError: the file is not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from gsmoothface.generate.reference import file_digest
    from gsmoothface.media import VideoWriter, write_wav

    out = Path(cache_dir) / f"{file_digest(image)}.mp4"
    if out.is_file():
        return out
    try:
        with Image.open(image) as img:
            photo = ImageOps.exif_transpose(img).convert("RGB")  # phones store rotation in EXIF
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{image}: not a readable image ({exc})") from None
    photo.thumbnail((MAX_SIDE, MAX_SIDE))
    frame = np.asarray(photo)  # (H, W, 3) uint8
    n_frames = max(1, round(seconds * fps))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".still.") as tmp:
        wav = Path(tmp) / "silence.wav"  # a clip needs an audio track; the speech comes from elsewhere
        write_wav(wav, np.zeros(n_frames * sample_rate // fps, np.float32), sample_rate)
        with VideoWriter(out, frame.shape[1], frame.shape[0], fps=fps, audio_path=wav) as writer:
            writer.write(np.repeat(frame[None], n_frames, axis=0))
    return out
