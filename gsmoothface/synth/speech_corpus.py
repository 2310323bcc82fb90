"""Audio-only speech of the synthetic speakers, with the exact expressions their mouths would make.

The video corpus is small (rendering and fitting cost minutes per minute of video), but mapping
phones to visemes needs many words in many voices. Speech with its true expression coefficients
costs no rendering, so synth also writes ``speech.npz``: utterances of the training speakers, each
in a random voice and variant (voices that vary, independent of the speaking style), articulated
exactly as the videos are (:func:`gsmoothface.synth.utterance.speak_and_articulate`). A2EP trains
on it beside the fitted video clips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from gsmoothface.atomic import atomic_path
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.expression import expression_coefficients
from gsmoothface.synth.mapping import SpeakingStyle
from gsmoothface.synth.motion import blinks, brows
from gsmoothface.synth.speakers import Speaker
from gsmoothface.synth.speech import random_voice, sample_text
from gsmoothface.synth.utterance import speak_and_articulate

SPEECH_KEY = 3  # sub-key of the seed sequence (after the speaker, utterance and noise keys)


def speech_utterance(
    index: int, style: SpeakingStyle, u: int, cfg: SynthConfig, root: tuple[int, int], voice_source: str
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Utterance ``u`` of the speaker ``index`` with speaking ``style``: audio (S,) int16, expressions
    (T, 64) float32, text, voice name."""
    rng = np.random.default_rng([*root, SPEECH_KEY, index, u])
    n_words = int(rng.integers(cfg.words_per_utterance[0], cfg.words_per_utterance[1] + 1))
    text = sample_text(rng, n_words)
    voice = random_voice(rng)
    mouth, wave, _ = speak_and_articulate(rng, text, voice, style, cfg, voice_source)
    n = len(mouth["jaw"])
    blink, brow = blinks(rng, n, cfg.blink_rate_hz), brows(rng, n, cfg.brow_amplitude)
    coeff = expression_coefficients(rng, mouth, blink, brow, style.smile)
    audio = np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16)
    return audio, coeff.astype(np.float32), text, voice.name


def _speak(job: tuple[int, SpeakingStyle, int, SynthConfig, tuple[int, int], str]) -> tuple:
    return speech_utterance(*job)


def write_speech_corpus(
    path: Path,
    speakers: list[Speaker],
    cfg: SynthConfig,
    root: tuple[int, int],
    voice_source: str,
    map_jobs: Callable[[Callable, Iterable], Iterator] = map,
) -> int:
    """Write ``cfg.speech_utterances`` utterances per speaker to ``path`` (.npz, atomically).

    Arrays: ``audio`` (S,) int16 at 16 kHz and ``audio_offsets`` (N+1,); ``exp`` (F, 64) float32 at
    25 fps and ``frame_offsets`` (N+1,); ``speaker`` (N,) names; ``text`` and ``voice`` (N,).
    ``map_jobs`` (e.g. a process pool's ``map``) runs the utterances; each depends only on its seed.

    Returns
    -------
    the number of utterances N.
    """
    jobs = [
        (spk.index, spk.speaking, u, cfg, root, voice_source)
        for spk in speakers
        for u in range(cfg.speech_utterances)
    ]
    results = list(map_jobs(_speak, jobs))
    audio = [r[0] for r in results]
    exp = [r[1] for r in results] or [np.zeros((0, 64), np.float32)]
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(
            fh,
            audio=np.concatenate(audio or [np.zeros(0, np.int16)]),
            audio_offsets=np.cumsum([0, *(len(a) for a in audio)]),
            exp=np.concatenate(exp),
            frame_offsets=np.cumsum([0, *(len(r[1]) for r in results)]),
            speaker=np.array([spk.name for spk in speakers for _ in range(cfg.speech_utterances)], dtype=str),
            text=np.array([r[2] for r in results], dtype=str),
            voice=np.array([r[3] for r in results], dtype=str),
        )
    return len(jobs)
