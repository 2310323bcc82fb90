"""Config of the embedded default dataset (``params.yaml`` section ``synth``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from gsmoothface.config import check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """Synthetic talking-face corpus: speakers, speech, motion, image detail, landmark noise, split.

    Defaults are the embedded default: 4 speakers x 5 utterances of about 3.5 s (~70 s of video).
    """

    seed: int = 1  # added to base.seed: every random choice of the corpus derives from it
    n_speakers: int = 4  # K speakers, each with its own identity, texture, voice and styles
    utterances_per_speaker: int = 5  # utterances per speaker (one video each)
    words_per_utterance: tuple[int, int] = (6, 9)  # inclusive range of words spoken per utterance
    test_speakers: int = 1  # the last speakers are held out entirely (split `test`, speaker-disjoint)
    val_utterances: int = 1  # the last utterances of each training speaker (split `val`, time-disjoint)
    voice: Literal["auto", "espeak", "builtin"] = "auto"  # auto = espeak-ng when installed
    lead_silence_s: float = 0.3  # silence before the speech (closed mouth at the start)
    tail_silence_s: float = 0.3  # silence after the speech
    size: int = 512  # frame width and height (px)
    face_size_px: float = 300.0  # width of the neutral face in the frame (px), like an HDTF crop
    crf: int = 23  # H.264 constant rate factor: visible compression, like web video
    # voices (see gsmoothface.synth.speech)
    # largest relative change of a speaker's speed per utterance
    rate_jitter: float = ranged(0.15, low=0.0, high=0.9)
    # largest change of a speaker's pitch (espeak-ng 0-99) per utterance
    pitch_jitter: int = ranged(15, low=0, high=99)
    # speech -> expression mapping (see gsmoothface.synth.mapping and .visemes)
    # extra gesture lead (a phone's dominance rises ~100 ms before it)
    mouth_lead_frames: float = ranged(0.0, low=0.0)
    # share of the mouth's amplitude that follows the loudness
    loudness_weight: float = ranged(0.3, low=0.0, high=1.0)
    # relative amplitude change from pitch 50 to pitch 0 or 99
    pitch_gain: float = ranged(0.2, low=0.0, high=1.0)
    envelope_range_db: float = 40.0  # loudness range mapped to [0, 1] below the utterance peak
    speaker_scale_range: tuple[float, float] = (0.7, 1.3)  # per-speaker gain of mouth motion
    speaker_bias_range: tuple[float, float] = (-0.06, 0.0)  # per-speaker dead zone of small openings
    # audio-only utterances per training speaker (A2EP's extra speech)
    speech_utterances: int = ranged(40, low=0)
    # motion independent of the audio
    blink_rate_hz: float = 0.3  # mean blinks per second (Poisson)
    brow_amplitude: float = 0.6  # brow motion, in units of the brow-raise coefficient
    head_yaw_rad: tuple[float, float] = (0.08, 0.3)  # per-speaker range of head-turn amplitude
    head_pitch_rad: float = 0.08  # head nod amplitude (radians)
    head_roll_rad: float = 0.05  # head roll amplitude (radians)
    light_change: float = 0.25  # relative change of the lighting over an utterance
    gaze_rate_hz: float = 1.2  # mean saccades per second
    # image detail a 3DMM render lacks
    skin_detail: float = 0.1  # relative albedo modulation by the skin-detail texture (pores, blotches)
    # landmark sidecar noise, like a 68-point detector
    landmark_noise_px: float = 1.0  # white jitter per point and frame (px, frame scale)
    landmark_drift_px: float = 1.0  # slowly varying per-point offset (px)
    landmark_miss_rate: float = 0.0  # fraction of frames reported as missed (valid False, NaN)
    batch_frames: int = 25  # frames rendered and composited per batch
    workers: int = 2  # processes making videos in parallel (1 = all in the stage's process)
    contact_sheet_videos: int = 4  # videos shown in results/synth/contact_sheet.png
    contact_sheet_frames: int = 8  # frames per video in the contact sheet

    def __post_init__(self) -> None:
        check_ranges(self, "synth")
