"""Checks on a model file before ``torch.load`` reads it, so a bad file gives one clear line."""

from __future__ import annotations

import zipfile
from pathlib import Path

from gsmoothface.errors import MissingAssetError


def check_model_file(path: Path, what: str, remedy: str) -> Path:
    """Return ``path`` when it is a readable ``torch.save`` file (a zip archive, as torch writes).

    Parameters
    ----------
    what: the kind of model, for the message (``"TAFT model"``).
    remedy: what to do, for the message (``"train it with `gsmoothface train-taft`"``).

    Raises
    ------
    MissingAssetError: no file at ``path``, or a corrupt or truncated one.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"{path}: {what} not found; {remedy}")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip; a cut or damaged one has no directory
        raise MissingAssetError(f"{path}: not a readable {what} file (corrupt or truncated); {remedy}")
    return path
