"""The corpus manifest (``manifest.csv``) and its split proposal.

Splits honour both ways a talking-face model can cheat: ``test`` holds out the last
``test_speakers`` speakers entirely (speaker-disjoint); ``val`` holds out the last
``val_utterances`` utterances of every training speaker (time-disjoint: they were spoken after
the training utterances); everything else is ``train``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from gsmoothface.atomic import atomic_path
from gsmoothface.errors import InputError
from gsmoothface.synth.config import SynthConfig

MANIFEST_COLUMNS = ("video", "speaker", "speaker_index", "utterance", "frames", "duration_s", "split")


def split_of(speaker_index: int, utterance: int, cfg: SynthConfig) -> str:
    """``train``, ``val`` or ``test`` for utterance ``utterance`` of speaker ``speaker_index``."""
    if speaker_index >= cfg.n_speakers - cfg.test_speakers:
        return "test"
    if utterance >= cfg.utterances_per_speaker - cfg.val_utterances:
        return "val"
    return "train"


def check_split(cfg: SynthConfig) -> None:
    """Fail before any work when the split leaves a part empty.

    Raises
    ------
    InputError: no training speaker, or no training utterance per speaker.
    """
    if cfg.n_speakers < 1 or cfg.utterances_per_speaker < 1:
        raise InputError("synth.n_speakers and synth.utterances_per_speaker must be >= 1")
    if not 0 <= cfg.test_speakers < cfg.n_speakers:
        raise InputError(
            f"synth.test_speakers={cfg.test_speakers} must leave at least one of "
            f"synth.n_speakers={cfg.n_speakers} speakers for training"
        )
    if not 0 <= cfg.val_utterances < cfg.utterances_per_speaker:
        raise InputError(
            f"synth.val_utterances={cfg.val_utterances} must leave at least one of "
            f"synth.utterances_per_speaker={cfg.utterances_per_speaker} utterances for training"
        )


def write_manifest(path: Path, rows: Sequence[dict[str, object]]) -> None:
    """Write ``rows`` (dicts with :data:`MANIFEST_COLUMNS`) as CSV, atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row[key] for key in MANIFEST_COLUMNS})
