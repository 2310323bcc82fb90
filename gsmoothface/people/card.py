"""Person models on disk: ``<out_dir>/<name>/`` with ``taft.pt``, ``fit/``, ``audio/`` and ``card.json``.

The card describes the model: its name, the content hashes of the videos it was adapted on, the
base model and params it started from, the held-out figures of every epoch and of the kept one,
and the cache key of the whole recipe (a second ``adapt`` with the same key returns at once).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gsmoothface.errors import InputError

CARD = "card.json"
MODEL = "taft.pt"
AUDIO = "audio"  # the clips' audio, <clip>.wav beside fit/<clip>.npz: the person's speaking style
FORMAT = "gsmoothface-person-1"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    """``name`` when it can name a folder (letters, digits, ``_ . -``), else an InputError."""
    if not NAME_PATTERN.match(name):
        raise InputError(f"person name {name!r}: use letters, digits, '_', '.' or '-' (at most 64)")
    return name


def read_card(folder: Path) -> dict[str, Any] | None:
    """The card of a person folder, or None when there is none (or it is not one)."""
    path = Path(folder) / CARD
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return card if isinstance(card, dict) and card.get("format") == FORMAT else None


def known_people(out_dir: Path) -> dict[str, dict[str, Any]]:
    """name -> card of every person model under ``out_dir``."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return {}
    cards = {p.name: read_card(p) for p in sorted(out_dir.iterdir()) if p.is_dir()}
    return {n: c for n, c in cards.items() if c is not None and (out_dir / n / MODEL).is_file()}


def person_model(out_dir: Path, name: str) -> Path:
    """The TAFT file of person ``name``.

    Raises
    ------
    InputError: no such person; the message lists the known ones and how to adapt.
    """
    people = known_people(out_dir)
    if name not in people:
        known = ", ".join(people) or "none yet"
        raise InputError(
            f"no person model '{name}' in {out_dir} (known: {known}); "
            f"create it with `gsmoothface adapt VIDEO --name {name}`"
        )
    return Path(out_dir) / name / MODEL


def person_for_video(out_dir: Path, digest: str) -> str | None:
    """The person adapted on a video with content hash ``digest`` (the first by name), if any."""
    for name, card in known_people(out_dir).items():
        if any(item.get("sha256") == digest for item in card.get("inputs", [])):
            return name
    return None
