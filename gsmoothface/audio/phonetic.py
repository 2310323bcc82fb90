"""The phonetic front end: phones recognised by a model trained on real speech, at 50 Hz.

Log-mel features of synthetic voices do not transfer to human voices; phones do. PocketSphinx's US
English acoustic model (trained on recordings of real speakers, shipped inside the ``pocketsphinx``
wheel with its dictionary and language model, no download) finds them in two passes: word
recognition, then a forced alignment of the recognised words, whose pronunciations give the phones
and their timing. When the words are known (the synthetic speech corpus), only the alignment runs.
Recognising words first makes the phones far more accurate than decoding phones alone: on real
speech 74.5% of frames fall in the right viseme group with an all-phone decoder, and the mouth
opening that visemes of aligned phones predict correlates with real mouths at r 0.66 against 0.40.
Where no word is recognised (noise, another language) the all-phone decoder is the fallback.

Each 50 Hz feature frame is the one-hot of the phone it lies in (the mean of its two 10 ms decoder
frames), the loudness of the frame in dB below the loudest, mapped to [0, 1], and the articulation
the phones ask for: jaw, round and stretch of the viseme model (:mod:`gsmoothface.visemes`, the
one the synthetic speakers articulate with) coarticulated over the decoded phones. Those three
channels carry what is known of phones and mouths (p, b and m close the lips, "ah" opens the jaw)
into A2EP in a form that does not depend on the voice: given the one-hots alone, A2EP learned
how the synthetic voices' phones and their English dictionary spellings relate, which real
speech does not share (real-video mouth opening r 0.31 median; see bench/real_lipsync.py). Pauses are silent
whatever the decoder says: a stretch of at least 0.2 s within 10 dB of the recording's noise floor
gets the silence phone and zero loudness, and a recording with no frame above that (room tone,
hum) is silence throughout, so the mouth rests there instead of speaking phones the all-phone
decoder finds in noise. The acoustic model is English: other languages come out as the nearest
English words' phones.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.espeak import Phone
from gsmoothface.visemes import CONTROLS, coarticulate

PHONES: tuple[str, ...] = (
    "SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
LOUDNESS = len(PHONES)  # feature column of the loudness
ARTICULATION = slice(LOUDNESS + 1, LOUDNESS + 1 + len(CONTROLS))  # columns of jaw, round, stretch
DIM = ARTICULATION.stop  # one-hot phones + loudness + articulation
# CMUdict's phones in the IPA letters of :mod:`gsmoothface.visemes` (diphthongs as two vowels)
ARPABET_IPA: dict[str, str] = {
    "SIL": "", "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "B": "b",
    "CH": "tʃ", "D": "d", "DH": "ð", "EH": "ɛ", "ER": "ɚ", "EY": "eɪ", "F": "f", "G": "ɡ", "HH": "h",
    "IH": "ɪ", "IY": "i", "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "OW": "oʊ",
    "OY": "ɔɪ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "UH": "ʊ", "UW": "u",
    "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}  # fmt: skip
DECODER_RATE = 100  # PocketSphinx frames per second
MODEL_FILES = ("en-us/mdef", "en-us/means", "en-us/variances", "en-us/sendump", "en-us/feat.params")
PHONE_LM = "en-us-phone.lm.bin"
WORD_LM = "en-us.lm.bin"
DICTIONARY = "cmudict-en-us.dict"
NOISE_PERCENTILE = 5.0  # the noise floor: this percentile of the frames' levels
SPEECH_ABOVE_FLOOR_DB = 10.0  # frames within this of the floor may be a pause
MIN_PAUSE_S = 0.2  # quiet stretches at least this long are pauses (shorter ones: closures in words)
LANGUAGE_NOTE = "phonetic front end: US English acoustic model (other languages map to English phones)"
_LEVEL_BLOCK = 1000  # frames whose levels are computed at once
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
    names = (*MODEL_FILES, PHONE_LM, WORD_LM, DICTIONARY)
    missing = [str(folder / name) for name in names if not (folder / name).is_file()]
    if missing:
        raise MissingAssetError(f"phonetic front-end model files missing: {', '.join(missing)}; {_HOWTO}")
    return folder


@functools.cache
def _decoder(folder: Path, sample_rate: int, mode: str):
    """A decoder per mode: ``words`` (recognition), ``align`` (forced alignment), ``phones``."""
    from pocketsphinx import Decoder

    # cepstral mean from each whole utterance: the live default carries it from call to call, so
    # the same audio would decode differently depending on what was decoded before
    common = {
        "hmm": str(folder / "en-us"),
        "samprate": float(sample_rate),
        "cmn": "batch",
        "loglevel": "FATAL",
    }
    if mode == "phones":
        # language weight 6 decoded real speech best (57.8% of frames against a forced alignment)
        return Decoder(allphone=str(folder / PHONE_LM), lw=6.0, **common)
    if mode == "words":
        return Decoder(lm=str(folder / WORD_LM), dict=str(folder / DICTIONARY), **common)
    return Decoder(dict=str(folder / DICTIONARY), **common)


def _run(decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def recognise_words(audio: np.ndarray, sample_rate: int, folder: Path) -> list[str]:
    """The words PocketSphinx hears (fillers and noise dropped), lower case."""
    decoder = _decoder(folder, sample_rate, "words")
    _run(decoder, _pcm(audio))
    hyp = decoder.hyp()
    return [w for w in (hyp.hypstr.split() if hyp is not None else []) if w.isalpha() or "'" in w]


def decode_phones(audio: np.ndarray, sample_rate: int, folder: Path, text: str | None = None) -> np.ndarray:
    """Phone index (into :data:`PHONES`) of every 10 ms frame: (ceil(S / rate * 100),) int.

    The phones of ``text`` (or of the recognised words) aligned to the audio; the all-phone
    decoder's where there are no words in the dictionary to align.
    """
    n = int(np.ceil(len(audio) / sample_rate * DECODER_RATE))
    labels = np.zeros(n, np.int64)  # SIL where nothing was decoded
    index = {p: i for i, p in enumerate(PHONES)}
    pcm = _pcm(audio)
    aligner = _decoder(folder, sample_rate, "align")
    words = text.lower().split() if text is not None else recognise_words(audio, sample_rate, folder)
    words = [w for w in words if aligner.lookup_word(w) is not None]
    if words:
        try:
            aligner.set_align_text(" ".join(words))
            _run(aligner, pcm)
            aligner.set_alignment()
            _run(aligner, pcm)
            for word in aligner.get_alignment():
                for phone in word:
                    labels[max(phone.start, 0) : min(phone.start + phone.duration, n)] = index.get(
                        phone.name, 0
                    )
            return labels
        except (RuntimeError, ValueError):  # the words cannot be fitted to the audio
            labels[:] = 0
    decoder = _decoder(folder, sample_rate, "phones")
    _run(decoder, pcm)
    for seg in decoder.seg():
        labels[max(seg.start_frame, 0) : min(seg.end_frame + 1, n)] = index.get(seg.word, 0)
    return labels


def _pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def phonetic_features(
    audio: np.ndarray,
    sample_rate: int,
    folder: Path,
    hop: int,
    win: int,
    n_frames: int,
    text: str | None = None,
) -> np.ndarray:
    """Phone one-hots and loudness on the 50 Hz grid (frame k covers samples [k*hop, k*hop+win)).

    ``text``: the words spoken, when known (aligned instead of recognised).

    Returns
    -------
    (n_frames, :data:`DIM`) float32.
    """
    if len(audio) < win:
        raise InputError("audio shorter than one feature window")
    starts = np.arange(n_frames) * hop
    db = frame_levels(audio, hop, win, n_frames)
    pause = pause_frames(db, _min_pause_frames(sample_rate, hop))  # (n,)
    phones = np.zeros((n_frames, len(PHONES)), np.float32)
    labels = np.zeros(int(np.ceil(len(audio) / sample_rate * DECODER_RATE)), np.int64)
    if not pause.all():  # nothing to decode in a recording that is all pause
        labels = decode_phones(audio, sample_rate, folder, text)
        one_hot = np.eye(len(PHONES), dtype=np.float32)[labels]  # (n100, P)
        centres = (starts + win / 2) / sample_rate  # (n,) seconds
        lo = np.clip(np.floor(centres * DECODER_RATE - 0.5).astype(np.int64), 0, len(labels) - 1)
        hi = np.clip(lo + 1, 0, len(labels) - 1)
        phones = 0.5 * (one_hot[lo] + one_hot[hi])  # (n, P)
    phones[pause] = 0.0
    phones[pause, 0] = 1.0  # SIL
    loudness = np.where(pause, 0.0, np.clip(1.0 + (db - db.max()) / 40.0, 0.0, 1.0))[:, None]
    mouth = articulation(labels, pause, sample_rate, hop, win)
    return np.concatenate([phones, loudness.astype(np.float32), mouth], axis=1)


def articulation(labels: np.ndarray, pause: np.ndarray, sample_rate: int, hop: int, win: int) -> np.ndarray:
    """The mouth the phones ask for, on the feature grid: jaw, round and stretch of
    :func:`gsmoothface.visemes.coarticulate` over the decoded phones.

    A pause closes the mouth; a short silence the decoder finds inside speech does not (the mouth
    keeps its neighbours' shape there), nor does any stretch the decoder leaves unlabelled.

    Parameters
    ----------
    labels: (n100,) decoder phone indices into :data:`PHONES`, 10 ms frames.
    pause: (n,) bool, the feature frames in a pause (:func:`pause_frames`).

    Returns
    -------
    (n, 3) float32 in [0, 1].
    """
    decoder_centres = (np.arange(len(labels)) + 0.5) / DECODER_RATE * sample_rate  # samples
    frame = np.clip(np.round((decoder_centres - win / 2) / hop).astype(np.int64), 0, len(pause) - 1)
    labels = np.where(pause[frame], 0, labels)  # a pause is a pause whatever the decoder heard
    timed = []
    for start, stop in runs(labels):
        if labels[start]:
            timed.append(Phone(ARPABET_IPA[PHONES[labels[start]]], start / DECODER_RATE, stop / DECODER_RATE))
    for start, stop in true_runs(pause):
        timed.append(Phone("", start * hop / sample_rate, ((stop - 1) * hop + win) / sample_rate))
    timed.sort(key=lambda phone: phone.start)
    centres = (np.arange(len(pause)) * hop + win / 2) / sample_rate
    controls = coarticulate(timed, centres)
    return np.stack([controls[name] for name in CONTROLS], axis=1).astype(np.float32)


def runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of equal values."""
    edges = np.flatnonzero(np.diff(values)) + 1
    bounds = [0, *edges.tolist(), len(values)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in the bool array ``mask``."""
    return [(a, b) for a, b in runs(mask.astype(np.int8)) if mask[a]]


def frame_levels(audio: np.ndarray, hop: int, win: int, n_frames: int) -> np.ndarray:
    """(n_frames,) level in dB of each frame (frame k covers samples [k*hop, k*hop+win)),
    computed a block of frames at a time so that memory stays small for long audio."""
    levels = np.empty(n_frames, np.float64)
    for first in range(0, n_frames, _LEVEL_BLOCK):
        starts = np.arange(first, min(first + _LEVEL_BLOCK, n_frames)) * hop
        frames = audio[starts[:, None] + np.arange(win)[None, :]].astype(np.float64)  # (b, win)
        levels[first : first + len(starts)] = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return levels


def audio_pauses(audio: np.ndarray, sample_rate: int, hop: int, win: int, n_frames: int) -> np.ndarray:
    """(n_frames,) bool: the frames of ``audio`` that lie in a pause (:func:`pause_frames`)."""
    return pause_frames(frame_levels(audio, hop, win, n_frames), _min_pause_frames(sample_rate, hop))


def _min_pause_frames(sample_rate: int, hop: int) -> int:
    return max(1, round(MIN_PAUSE_S * sample_rate / hop))


def pause_frames(db: np.ndarray, min_frames: int) -> np.ndarray:
    """Which frames lie in a pause: runs of at least ``min_frames`` frames within
    :data:`SPEECH_ABOVE_FLOOR_DB` of the noise floor; every frame when none rises above it.

    Parameters
    ----------
    db: (n,) frame levels in dB.

    Returns
    -------
    (n,) bool.
    """
    quiet = db < np.percentile(db, NOISE_PERCENTILE) + SPEECH_ABOVE_FLOOR_DB
    if quiet.all():
        return quiet
    pause = np.zeros_like(quiet)
    for start, stop in true_runs(quiet):
        if stop - start >= min_frames:
            pause[start:stop] = True
    return pause
