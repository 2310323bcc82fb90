"""Front-end features of synth's audio-only speech corpus, clean and augmented, for A2EP training."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from gsmoothface.atomic import atomic_path, write_json
from gsmoothface.audio.augment import augment
from gsmoothface.audio.config import AudioConfig
from gsmoothface.audio.features import AudioFrontend, open_frontend
from gsmoothface.errors import InputError
from gsmoothface.progress import progress as report_progress


def speech_corpus_features(
    corpus: Path,
    frontend: AudioFrontend,
    copies: int,
    seed: int,
    progress: Callable[[range, str], Iterable[int]] = lambda items, _: items,
) -> dict[str, np.ndarray]:
    """Features of every utterance of ``corpus`` (synth's ``speech.npz``): the clean audio and
    ``copies`` augmented copies (copy k of utterance i from seed ``(seed, i, k)``). The utterances'
    texts guide the front end (the phonetic one aligns them instead of recognising words).

    Returns
    -------
    arrays for ``np.savez``: ``features`` (F50, C) float32 with ``feature_offsets`` (M+1,), and per
    item ``utterance`` (M,) int and ``copy`` (M,) int (0 = clean); the corpus' ``exp``,
    ``frame_offsets`` and ``speaker`` are passed through.
    """
    if not corpus.is_file():
        raise InputError(f"{corpus}: speech corpus not found (run gsmoothface synth)")
    with np.load(corpus) as data:
        audio, offsets = data["audio"], data["audio_offsets"]
        kept = {k: data[k] for k in ("exp", "frame_offsets", "speaker")}
        texts = [str(t) for t in data["text"]]
    feats, utterance, copy = [], [], []
    for i in progress(range(len(offsets) - 1), "speech features"):
        wave = audio[offsets[i] : offsets[i + 1]].astype(np.float32) / 32767.0
        for k in range(copies + 1):
            draw = int(np.random.SeedSequence([seed, i, k]).generate_state(1)[0])
            x = wave if k == 0 else augment(wave, frontend.sample_rate, draw)
            feats.append(frontend(x, f"{corpus}[{i}]", texts[i]))  # the words are known: aligned
            utterance.append(i)
            copy.append(k)
    return {
        "features": np.concatenate(feats).astype(np.float32),
        "feature_offsets": np.cumsum([0, *(len(f) for f in feats)]),
        "utterance": np.array(utterance),
        "copy": np.array(copy),
        **kept,
    }


def write_corpus_features(
    corpus: Path, out: Path, cfg: AudioConfig, sample_rate: int, base_seed: int, every: int = 50
) -> None:
    """Write :func:`speech_corpus_features` to ``out/features.npz`` and its description to
    ``out/features.json`` (both atomically)."""
    from gsmoothface.config import config_to_dict

    frontend = open_frontend(cfg, sample_rate)
    arrays = speech_corpus_features(
        corpus,
        frontend,
        cfg.augment_copies,
        base_seed + cfg.augment_seed,
        lambda items, label: report_progress(items, label, every=every),
    )
    with atomic_path(out / "features.npz") as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)
    write_json(
        out / "features.json",
        {**frontend.describe(), "items": len(arrays["utterance"]), "config": config_to_dict(cfg)},
    )
