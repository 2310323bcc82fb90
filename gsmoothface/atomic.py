"""Atomic outputs: write to a temporary sibling, then rename, so a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # earliest zip date: no wall-clock time in outputs


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    The temporary file keeps ``target``'s suffix so that tools choosing a format by extension
    (ffmpeg, numpy) behave the same. On an exception the temporary file is removed and
    ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            tmp.chmod(0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory next to ``target``; it replaces ``target`` on success.

    An existing ``target`` is replaced only once the new content is complete; on an exception the
    temporary directory is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        tmp.chmod(0o777 & ~_umask())  # mkdtemp creates 0700; give the usual folder mode
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_npz(path: str | Path, **arrays: Any) -> None:
    """Write arrays to an uncompressed ``.npz``, atomically.

    Unlike ``np.savez``, the zip entries carry a fixed timestamp, so identical arrays give a
    byte-identical file (DVC hashes and determinism tests rely on it). ``np.load`` reads it as usual.
    """
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_ZIP_TIME)
            with archive.open(info, "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(value), allow_pickle=False)


def write_torch(path: str | Path, obj: Any) -> None:
    """``torch.save`` atomically, byte-identical for identical content.

    ``torch.save`` names the zip archive inside the file after the file it writes to; saving to a
    buffer first keeps the temporary file's random name out of the output.
    """
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def write_npy(path: str | Path, array: np.ndarray) -> None:
    """Write one array to ``.npy``, atomically."""
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.save(fh, array)
