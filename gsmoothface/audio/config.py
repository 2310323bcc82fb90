"""Configuration of the audio front end (``audio`` section of ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from gsmoothface.config import check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    """How clips' audio becomes the cached 50 Hz features that A2EP reads.

    ``frontend`` ``phonetic`` is the embedded default (phones recognised by PocketSphinx's model
    of real English speech, shipped in its wheel); ``logmel`` needs no model; ``wav2vec2`` is the
    GSmoothFace recipe: the frozen CNN feature extractor of facebook/wav2vec2-base-960h, loaded
    from the local ``save_pretrained`` folder ``wav2vec2_dir``.
    """

    frontend: Literal["phonetic", "logmel", "wav2vec2"] = "phonetic"
    wav2vec2_dir: Path | None = None  # local save_pretrained folder of facebook/wav2vec2-base-960h
    phonetic_model: Path | None = None  # PocketSphinx en-us model folder; None = the one in its wheel
    n_mels: int = 80  # log-mel bands (logmel front end)
    fmin: float = 40.0  # lowest mel band edge, Hz
    fmax: float = 7600.0  # highest mel band edge, Hz
    min_duration_s: float = 0.2  # shorter audio is an input error
    silence_peak: float = 1e-3  # audio whose peak |amplitude| stays below this is an input error
    # augmented copies of each speech-corpus utterance (noise, reverb, MP3...)
    augment_copies: int = ranged(1, low=0)
    augment_seed: int = 0  # added to base.seed: the augmentation draws
    chunk_s: float = 20.0  # front ends run on chunks this long (bounded memory; wav2vec2 normalises each)

    def __post_init__(self) -> None:
        check_ranges(self, "audio")
