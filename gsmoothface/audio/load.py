"""Load audio of any rate and channel count as 16 kHz mono float32, rejecting unusable input."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError


def check_audio(
    audio: np.ndarray, sample_rate: int, min_duration_s: float, silence_peak: float, name: str
) -> None:
    """Raise :class:`InputError` when ``audio`` (S,) is too short or silent.

    Parameters
    ----------
    audio: (S,) float waveform in [-1, 1].
    sample_rate: samples per second of ``audio``.
    min_duration_s: shortest accepted duration, seconds.
    silence_peak: audio whose peak absolute amplitude is below this counts as silent.
    name: what to call the audio in the message (usually its path).
    """
    duration = audio.shape[0] / sample_rate
    if duration < min_duration_s:
        raise InputError(
            f"{name}: audio is {duration:.3f} s long, shorter than audio.min_duration_s={min_duration_s} s"
        )
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if not np.isfinite(peak):
        raise InputError(f"{name}: audio contains NaN or infinite samples")
    if peak < silence_peak:
        raise InputError(
            f"{name}: audio is silent (peak amplitude {peak:.2e} < audio.silence_peak={silence_peak:g})"
        )


def load_audio(
    path: str | Path,
    sample_rate: int = 16000,
    min_duration_s: float = 0.2,
    silence_peak: float = 1e-3,
) -> np.ndarray:
    """Read an audio file, mix it to mono and resample it with librosa.

    Parameters
    ----------
    path: any format librosa reads (wav, flac, ogg, mp3 and, through audioread, video containers).
    sample_rate: output rate in Hz (16 kHz in the pipeline).
    min_duration_s, silence_peak: see :func:`check_audio`.

    Returns
    -------
    (S,) float32 mono waveform at ``sample_rate``.

    Raises
    ------
    InputError: the file is missing or unreadable, too short, or silent.
    """
    import warnings

    import librosa

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: audio file not found")
    try:
        with warnings.catch_warnings():  # librosa's notice when it falls back to audioread (mp4, mp3)
            warnings.simplefilter("ignore", (UserWarning, FutureWarning))
            audio, _ = librosa.load(path, sr=sample_rate, mono=True)
    except Exception as exc:  # librosa raises many types (soundfile, audioread, EOFError)
        raise InputError(f"{path}: cannot decode audio ({type(exc).__name__}: {exc})") from exc
    audio = np.ascontiguousarray(audio, dtype=np.float32)  # (S,)
    check_audio(audio, sample_rate, min_duration_s, silence_peak, str(path))
    return audio
