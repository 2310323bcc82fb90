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
    """Read an audio file, mix it to mono and resample it (soxr's high quality, as librosa does).

    Parameters
    ----------
    path: any format libsndfile reads (wav, flac, ogg, mp3), or through librosa's audioread
        fallback any that ffmpeg does (video containers, m4a).
    sample_rate: output rate in Hz (16 kHz in the pipeline).
    min_duration_s, silence_peak: see :func:`check_audio`.

    Returns
    -------
    (S,) float32 mono waveform at ``sample_rate``: the bytes ``librosa.load`` gives.

    Raises
    ------
    InputError: the file is missing or unreadable, too short, or silent.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: audio file not found")
    try:
        audio = _read_soundfile(path, sample_rate)
        if audio is None:
            audio = _read_librosa(path, sample_rate)
    except Exception as exc:  # the readers raise many types (soundfile, audioread, EOFError)
        raise InputError(f"{path}: cannot decode audio ({type(exc).__name__}: {exc})") from exc
    audio = np.ascontiguousarray(audio, dtype=np.float32)  # (S,)
    check_audio(audio, sample_rate, min_duration_s, silence_peak, str(path))
    return audio


def _read_soundfile(path: Path, sample_rate: int) -> np.ndarray | None:
    """Mono float32 at ``sample_rate`` read by libsndfile, or ``None`` for a format it does not
    know. librosa reads these files the same way, but importing it costs seconds per process."""
    import soundfile as sf

    try:
        with sf.SoundFile(path) as file:
            native = file.samplerate
            audio = np.mean(file.read(dtype="float32", always_2d=True).T, axis=0)  # (S,)
    except sf.SoundFileRuntimeError:
        return None
    if native == sample_rate:
        return audio
    import soxr

    size = int(np.ceil(len(audio) * sample_rate / native))
    resampled = soxr.resample(audio, native, sample_rate, quality="soxr_hq")[:size]
    return np.pad(resampled, (0, size - len(resampled))).astype(np.float32)


def _read_librosa(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate`` through librosa's audioread fallback (mp4, m4a, ...)."""
    import warnings

    import librosa

    with warnings.catch_warnings():  # librosa's notice when it falls back to audioread
        warnings.simplefilter("ignore", (UserWarning, FutureWarning))
        audio, _ = librosa.load(path, sr=sample_rate, mono=True)
    return audio
