"""A still photo as a reference: a one-frame clip (one frame of silence as its audio track), held for
the whole speech, which ``slice`` and ``fit_3dmm`` take as they take any clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
MAX_SIDE = 1280  # px: larger photos are shrunk (the face crop is far smaller; fitting cost grows with it)


def is_image(path: Path) -> bool:
    """Whether ``path`` names a still photo (by its suffix)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_photo(image: Path) -> np.ndarray:
    """``image`` upright (EXIF rotation applied) and shrunk to at most :data:`MAX_SIDE` px.

    Returns
    -------
    (H, W, 3) uint8 RGB.

    Raises
    ------
    InputError: the file is not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(image) as img:
            photo = ImageOps.exif_transpose(img).convert("RGB")  # phones store rotation in EXIF
    except UnidentifiedImageError:  # not a format Pillow reads (a one-frame video?): ffmpeg's frame
        from gsmoothface.media import read_frames

        photo = Image.fromarray(read_frames(image)[0])
    except OSError as exc:
        raise InputError(f"{image}: not a readable image ({exc})") from None
    photo.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(photo)


def write_still_clip(image: Path, target: Path, fps: int = 25, sample_rate: int = 16000) -> None:
    """Write ``image`` (see :func:`read_photo`) as a one-frame video ``target`` with one frame of
    silent audio (a clip needs an audio track; the speech comes from elsewhere).

    Raises
    ------
    InputError: the file is not a readable image.
    """
    from gsmoothface.media import VideoWriter, write_wav

    frame = read_photo(image)  # (H, W, 3)
    wav = target.with_suffix(".wav")
    write_wav(wav, np.zeros(sample_rate // fps, np.float32), sample_rate)
    with VideoWriter(target, frame.shape[1], frame.shape[0], fps=fps, crf=1, audio_path=wav) as writer:
        writer.write(frame[None])
    wav.unlink()
