"""Audio: loading/resampling and the 50 Hz front ends (log-mel, wav2vec2 CNN) cached for A2EP."""

from gsmoothface.audio.config import AudioConfig
from gsmoothface.audio.features import (
    FEATURE_RATE,
    AudioFrontend,
    load_wav2vec2,
    n_feature_frames,
    open_frontend,
    to_frame_rate,
)
from gsmoothface.audio.load import check_audio, load_audio

__all__ = [
    "FEATURE_RATE",
    "AudioConfig",
    "AudioFrontend",
    "check_audio",
    "load_audio",
    "load_wav2vec2",
    "n_feature_frames",
    "open_frontend",
    "to_frame_rate",
]
