"""Audio-only speech of the synthetic speakers, with the exact expressions their mouths would make.

The video corpus is small (rendering and fitting cost minutes per minute of video), but mapping
phones to visemes needs many words in many voices. Speech with its true expression coefficients
costs no rendering, so synth also writes ``speech.npz``: utterances of the training speakers, each
in a random voice and variant (voices that vary, independent of the speaking style), articulated
exactly as the videos are (:func:`gsmoothface.synth.utterance.speak_and_articulate`). A2EP trains
on it beside the fitted video clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gsmoothface.atomic import atomic_path
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.expression import expression_coefficients
from gsmoothface.synth.motion import blinks, brows
from gsmoothface.synth.speakers import Speaker
from gsmoothface.synth.speech import random_voice, sample_text
from gsmoothface.synth.utterance import speak_and_articulate

SPEECH_KEY = 3  # sub-key of the seed sequence (after the speaker, utterance and noise keys)


def write_speech_corpus(
    path: Path, speakers: list[Speaker], cfg: SynthConfig, root: tuple[int, int], voice_source: str
) -> int:
    """Write ``cfg.speech_utterances`` utterances per speaker to ``path`` (.npz, atomically).

    Arrays: ``audio`` (S,) int16 at 16 kHz and ``audio_offsets`` (N+1,); ``exp`` (F, 64) float32 at
    25 fps and ``frame_offsets`` (N+1,); ``speaker`` (N,) names; ``text`` and ``voice`` (N,).

    Returns
    -------
    the number of utterances N.
    """
    audio, exp, names, texts, voices = [], [], [], [], []
    for spk in speakers:
        for u in range(cfg.speech_utterances):
            rng = np.random.default_rng([*root, SPEECH_KEY, spk.index, u])
            n_words = int(rng.integers(cfg.words_per_utterance[0], cfg.words_per_utterance[1] + 1))
            text = sample_text(rng, n_words)
            voice = random_voice(rng)
            mouth, wave, _ = speak_and_articulate(rng, text, voice, spk.speaking, cfg, voice_source)
            n = len(mouth["jaw"])
            coeff = expression_coefficients(
                rng,
                mouth,
                blinks(rng, n, cfg.blink_rate_hz),
                brows(rng, n, cfg.brow_amplitude),
                spk.speaking.smile,
            )
            audio.append(np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16))
            exp.append(coeff.astype(np.float32))
            names.append(spk.name)
            texts.append(text)
            voices.append(voice.name)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(
            fh,
            audio=np.concatenate(audio),
            audio_offsets=np.cumsum([0, *(len(a) for a in audio)]),
            exp=np.concatenate(exp),
            frame_offsets=np.cumsum([0, *(len(e) for e in exp)]),
            speaker=np.array(names),
            text=np.array(texts),
            voice=np.array(voices),
        )
    return len(names)
