"""The phonetic front end: phones recognised by a model trained on real speech, at 50 Hz.

Log-mel features of synthetic voices do not transfer to human voices; phones do. PocketSphinx's US
English acoustic model (trained on recordings of real speakers, shipped inside the ``pocketsphinx``
wheel, no download) decodes the audio in all-phone mode (a phone bigram, no words), and each 50 Hz
feature frame becomes the one-hot of the phone it lies in (the mean of its two 10 ms decoder
frames) plus the loudness of the frame in dB below the loudest, mapped to [0, 1]. The acoustic
model is English: other languages are decoded as the nearest English phones.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError, MissingAssetError

PHONES: tuple[str, ...] = (
    "SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
DIM = len(PHONES) + 1  # one-hot phones + loudness
DECODER_RATE = 100  # PocketSphinx frames per second
MODEL_FILES = ("en-us/mdef", "en-us/means", "en-us/variances", "en-us/sendump", "en-us/feat.params")
PHONE_LM = "en-us-phone.lm.bin"
LANGUAGE_NOTE = "phonetic front end: US English acoustic model (other languages map to English phones)"
_HOWTO = "pip install pocketsphinx==5.1.1 (its wheel ships the model), or set audio.phonetic_model"


def model_dir(configured: Path | None) -> Path:
    """The acoustic model folder: ``configured``, else the one inside the pocketsphinx wheel.

    Raises
    ------
    MissingAssetError: pocketsphinx is not installed, or the folder lacks model files (named).
    """
    if configured is None:
        try:
            from pocketsphinx import get_model_path
        except ImportError as exc:
            raise MissingAssetError(f"the phonetic front end needs pocketsphinx: {_HOWTO}") from exc
        configured = Path(get_model_path()) / "en-us"
    folder = Path(configured)
    missing = [str(folder / name) for name in (*MODEL_FILES, PHONE_LM) if not (folder / name).is_file()]
    if missing:
        raise MissingAssetError(f"phonetic front-end model files missing: {', '.join(missing)}; {_HOWTO}")
    return folder


@functools.cache
def _decoder(folder: Path, sample_rate: int):
    from pocketsphinx import Decoder

    return Decoder(
        hmm=str(folder / "en-us"),
        allphone=str(folder / PHONE_LM),
        lw=6.0,  # language weight: 6 decoded real speech best (57.8% of frames against a forced alignment)
        beam=1e-20,
        pbeam=1e-20,
        samprate=float(sample_rate),
        loglevel="FATAL",
    )


def decode_phones(audio: np.ndarray, sample_rate: int, folder: Path) -> np.ndarray:
    """Phone index (into :data:`PHONES`) of every 10 ms decoder frame: (ceil(S / rate * 100),) int."""
    decoder = _decoder(folder, sample_rate)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    n = int(np.ceil(len(audio) / sample_rate * DECODER_RATE))
    labels = np.zeros(n, np.int64)  # SIL where nothing was decoded
    index = {p: i for i, p in enumerate(PHONES)}
    for seg in decoder.seg():
        labels[max(seg.start_frame, 0) : min(seg.end_frame + 1, n)] = index.get(seg.word, 0)
    return labels


def phonetic_features(
    audio: np.ndarray, sample_rate: int, folder: Path, hop: int, win: int, n_frames: int
) -> np.ndarray:
    """Phone one-hots and loudness on the 50 Hz grid (frame k covers samples [k*hop, k*hop+win)).

    Returns
    -------
    (n_frames, :data:`DIM`) float32.
    """
    if len(audio) < win:
        raise InputError("audio shorter than one feature window")
    labels = decode_phones(audio, sample_rate, folder)
    one_hot = np.eye(len(PHONES), dtype=np.float32)[labels]  # (n100, P)
    centres = (np.arange(n_frames) * hop + win / 2) / sample_rate  # (n,) seconds
    lo = np.clip(np.floor(centres * DECODER_RATE - 0.5).astype(np.int64), 0, len(labels) - 1)
    hi = np.clip(lo + 1, 0, len(labels) - 1)
    phones = 0.5 * (one_hot[lo] + one_hot[hi])  # (n, P)
    starts = np.arange(n_frames) * hop
    frames = audio[starts[:, None] + np.arange(win)[None, :]].astype(np.float64)  # (n, win)
    db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    loudness = np.clip(1.0 + (db - db.max()) / 40.0, 0.0, 1.0)[:, None]
    return np.concatenate([phones, loudness.astype(np.float32)], axis=1)
