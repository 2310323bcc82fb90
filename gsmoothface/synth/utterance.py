"""One utterance of a synthetic speaker: speech audio and the true coefficients of every frame."""

from __future__ import annotations

import dataclasses

import numpy as np

from gsmoothface.face_model.model import COEFF_SLICES, N_COEFF
from gsmoothface.synth import motion
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.expression import expression_coefficients
from gsmoothface.synth.mapping import SAMPLES_PER_FRAME, mouth_controls
from gsmoothface.synth.speakers import Speaker
from gsmoothface.synth.speech import builtin_speech, espeak_speech, pad_to_frames, sample_text

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
    audio: np.ndarray  # (T * 640,) float32
    coeff: np.ndarray  # (T, 257) float32
    gaze: np.ndarray  # (T, 2) float64
    exposure: np.ndarray  # (T,) float64
    controls: dict[str, np.ndarray]  # jaw, round, stretch, loudness, tilt (T,), blink, brow (T,)

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
    if voice_source == "espeak":
        speech = espeak_speech(text, speaker.voice)
    else:
        speech = builtin_speech(text, speaker.voice, rng)
    audio = pad_to_frames(speech, rng, cfg.lead_silence_s, cfg.tail_silence_s, SAMPLES_PER_FRAME)
    n = len(audio) // SAMPLES_PER_FRAME
    mouth = mouth_controls(
        audio,
        n,
        speaker.speaking,
        lead=cfg.mouth_lead_frames,
        smooth=cfg.envelope_smooth_frames,
        range_db=cfg.envelope_range_db,
    )
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
        audio=audio,
        coeff=coeff.astype(np.float32),
        gaze=motion.gaze(rng, n, cfg.gaze_rate_hz),
        exposure=1.0 + EXPOSURE_DRIFT * motion.smooth_noise(rng, n, 0.3),
        controls={**mouth, "blink": blink, "brow": brow},
    )
