"""One utterance of a synthetic speaker: speech audio and the true coefficients of every frame."""

from __future__ import annotations

import dataclasses

import numpy as np

from gsmoothface.espeak import Phone
from gsmoothface.face_model.model import COEFF_SLICES, N_COEFF
from gsmoothface.synth import motion
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.expression import expression_coefficients
from gsmoothface.synth.mapping import SAMPLES_PER_FRAME, SpeakingStyle, mouth_controls
from gsmoothface.synth.speakers import Speaker
from gsmoothface.synth.speech import (
    Voice,
    builtin_speech,
    espeak_speech,
    pad_to_frames,
    sample_text,
    vary_voice,
)

EXPOSURE_DRIFT = 0.03  # relative camera exposure wander (auto-exposure of a real camera)


@dataclasses.dataclass(frozen=True)
class Utterance:
    """Audio and ground truth of one video.

    ``audio`` has exactly ``T * 640`` samples (16 kHz) for the ``T`` frames of ``coeff``.
    """

    speaker: Speaker
    index: int
    name: str
    text: str
    voice: Voice  # the voice of this utterance (the speaker's, with its rate and pitch varied)
    phones: list[Phone]  # what the voice said, in seconds of ``audio`` (what the mouth articulates)
    audio: np.ndarray  # (T * 640,) float32
    coeff: np.ndarray  # (T, 257) float32
    gaze: np.ndarray  # (T, 2) float64
    exposure: np.ndarray  # (T,) float64
    controls: dict[str, np.ndarray]  # jaw, round, stretch, visemes, loudness, blink, brow (T,)

    @property
    def n_frames(self) -> int:
        """Number of video frames T."""
        return len(self.coeff)


def make_utterance(
    rng: np.random.Generator, speaker: Speaker, index: int, cfg: SynthConfig, voice_source: str
) -> Utterance:
    """Speak a random sentence and derive every frame's coefficients from it.

    Parameters
    ----------
    rng: the utterance's own generator (text, noise floor, motion).
    voice_source: ``espeak`` or ``builtin``.
    """
    n_words = int(rng.integers(cfg.words_per_utterance[0], cfg.words_per_utterance[1] + 1))
    text = sample_text(rng, n_words)
    voice = vary_voice(rng, speaker.voice, cfg.rate_jitter, cfg.pitch_jitter)
    mouth, audio, phones = speak_and_articulate(rng, text, voice, speaker.speaking, cfg, voice_source)
    n = len(audio) // SAMPLES_PER_FRAME
    blink = motion.blinks(rng, n, cfg.blink_rate_hz)
    brow = motion.brows(rng, n, cfg.brow_amplitude)
    exp = expression_coefficients(rng, mouth, blink, brow, speaker.speaking.smile)
    angles, shift = motion.head_pose(rng, n, speaker.motion)
    coeff = np.zeros((n, N_COEFF), np.float64)
    coeff[:, COEFF_SLICES["id"]] = speaker.id_coeff
    coeff[:, COEFF_SLICES["exp"]] = exp
    coeff[:, COEFF_SLICES["tex"]] = speaker.tex_coeff
    coeff[:, COEFF_SLICES["angle"]] = angles
    coeff[:, COEFF_SLICES["gamma"]] = motion.lighting(rng, n, speaker.gamma, cfg.light_change)
    coeff[:, COEFF_SLICES["trans"]] = speaker.trans + shift
    return Utterance(
        speaker=speaker,
        index=index,
        name=f"{speaker.name}_u{index:02d}",
        text=text,
        voice=voice,
        phones=phones,
        audio=audio,
        coeff=coeff.astype(np.float32),
        gaze=motion.gaze(rng, n, cfg.gaze_rate_hz),
        exposure=1.0 + EXPOSURE_DRIFT * motion.smooth_noise(rng, n, 0.3),
        controls={**mouth, "blink": blink, "brow": brow},
    )


def speak_and_articulate(
    rng: np.random.Generator,
    text: str,
    voice: Voice,
    style: SpeakingStyle,
    cfg: SynthConfig,
    voice_source: str,
) -> tuple[dict[str, np.ndarray], np.ndarray, list[Phone]]:
    """Speak ``text`` between the configured silences and articulate its phonemes.

    Returns
    -------
    the mouth controls of every frame (:func:`mouth_controls`), the audio, (T * 640,) float32, and
    the phones in seconds of that audio.
    """
    if voice_source == "espeak":
        speech, phones = espeak_speech(text, voice)
    else:
        speech, phones = builtin_speech(text, voice, rng)
    audio = pad_to_frames(speech, rng, cfg.lead_silence_s, cfg.tail_silence_s, SAMPLES_PER_FRAME)
    lead = round(cfg.lead_silence_s * 16000) / 16000  # the silence pad_to_frames put before the speech
    phones = [dataclasses.replace(p, start=p.start + lead, end=p.end + lead) for p in phones]
    pitch_gain = 1.0 + cfg.pitch_gain * (voice.pitch - 50) / 50
    mouth = mouth_controls(
        phones,
        audio,
        len(audio) // SAMPLES_PER_FRAME,
        style,
        pitch_gain=pitch_gain,
        lead=cfg.mouth_lead_frames,
        loudness_weight=cfg.loudness_weight,
        range_db=cfg.envelope_range_db,
    )
    return mouth, audio, phones
