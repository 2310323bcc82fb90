"""Speech of the synthetic speakers, with its phonemes: espeak-ng when installed, else a built-in
synthesiser.

Both sources are deterministic given the seed (espeak-ng's output depends only on its arguments),
so the corpus is reproducible. Audio is 16 kHz mono float32; phones are in seconds of it.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
from scipy import signal

from gsmoothface.errors import InputError
from gsmoothface.espeak import Phone, library_available, speak

# Words with varied vowels: open (/a/), rounded (/u/, /o/) and spread (/i/, /s/) mouth shapes.
WORDS: tuple[str, ...] = (
    "about", "after", "again", "all", "also", "always", "answer", "apple", "around", "away",
    "back", "ball", "because", "before", "blue", "boat", "book", "bright", "call", "came",
    "change", "cheese", "city", "clean", "cool", "could", "dark", "day", "deep", "door",
    "each", "early", "easy", "father", "feel", "field", "food", "found", "free", "friend",
    "garden", "give", "go", "good", "green", "group", "happy", "heart", "home", "hope",
    "house", "idea", "just", "keep", "large", "laugh", "leave", "light", "look", "loud",
    "many", "maybe", "moon", "morning", "mother", "move", "music", "need", "never", "night",
    "north", "ocean", "often", "open", "over", "paper", "people", "please", "pool", "power",
    "quiet", "reach", "read", "road", "room", "school", "see", "seven", "should", "simple",
    "smooth", "soon", "speak", "spoon", "story", "street", "sun", "table", "these", "three",
    "through", "today", "too", "true", "under", "voice", "water", "wave", "week", "window",
    "with", "wood", "world", "yellow", "you", "zoo",
)  # fmt: skip

# espeak-ng's English voices and every voice variant that espeak-ng 1.51 ships (its file names:
# pitch range, formants, breathiness, whisper, klatt synthesis...). MBROLA voices are not used:
# Debian's main archive has no MBROLA voice data.
ESPEAK_LANGUAGES: tuple[str, ...] = (
    "en-us", "en", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
)  # fmt: skip
ESPEAK_VARIANTS: tuple[str, ...] = (
    "adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "antonio", "aunty", "belinda", "benjamin",
    "boris", "caleb", "david", "Demonic", "Denis", "Diogo", "ed", "edward", "edward2", "Gene",
    "Gene2", "gustave", "announcer", "Henrique", "Hugo", "iven", "iven2", "iven3", "iven4", "Jacky",
    "john", "kaukovalta", "Lee", "linda", "marcelo", "Marco", "Mario", "max", "Michael", "michel",
    "miguel", "Mike", "Mr", "Nguyen", "pablo", "paul", "pedro", "quincy", "RicishayMax",
    "RicishayMax2", "RicishayMax3", "rob", "robert", "robosoft", "robosoft2", "robosoft3",
    "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "steph", "steph2", "steph3",
    "Storm", "Tweaky", "UniRobot", "zac", "anika", "anikaRobot", "AnxiousAndy", "f1", "f2", "f3",
    "f4", "f5", "whisperf", "grandpa", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6",
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "norbert", "sandro", "shelby", "travis",
    "victor", "whisper", "croak", "grandma",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Voice:
    """A speaker's voice.

    ``speed_wpm``/``pitch``/``word_gap`` are espeak-ng's ``-s``/``-p`` (0-99)/``-g`` options; the
    built-in synthesiser maps ``pitch`` to a fundamental frequency and ``speed_wpm`` to its
    syllable rate.
    """

    name: str  # espeak-ng voice, e.g. "en-us+f2"
    speed_wpm: int
    pitch: int
    word_gap: int  # extra pause between words, in units of 10 ms
    gain: float  # peak amplitude of the utterance
    pitch_range: int = 50  # espeak-ng's intonation range, 0 (monotone) - 99


def espeak_available() -> bool:
    """True when espeak-ng (its program and its library) is installed."""
    return shutil.which("espeak-ng") is not None and library_available()


def sample_voice(rng: np.random.Generator, index: int) -> Voice:
    """A distinct voice for speaker ``index`` (language cycles; variant and prosody random)."""
    language = ESPEAK_LANGUAGES[index % len(ESPEAK_LANGUAGES)]
    variant = ESPEAK_VARIANTS[int(rng.integers(len(ESPEAK_VARIANTS)))]
    return Voice(
        name=f"{language}+{variant}",
        speed_wpm=int(rng.integers(135, 185)),
        pitch=int(rng.integers(25, 75)),
        word_gap=int(rng.integers(0, 4)),
        gain=float(rng.uniform(0.5, 0.85)),
        pitch_range=int(rng.integers(30, 80)),
    )


def vary_voice(rng: np.random.Generator, voice: Voice, rate_jitter: float, pitch_jitter: int) -> Voice:
    """The voice of one utterance: the speaker's rate and pitch, each moved at random.

    ``rate_jitter`` is the largest relative change of the speed, ``pitch_jitter`` of the pitch (0-99).
    """
    return dataclasses.replace(
        voice,
        speed_wpm=round(voice.speed_wpm * rng.uniform(1.0 - rate_jitter, 1.0 + rate_jitter)),
        pitch=int(np.clip(voice.pitch + rng.integers(-pitch_jitter, pitch_jitter + 1), 0, 99)),
        pitch_range=int(np.clip(voice.pitch_range + rng.integers(-20, 21), 0, 99)),
    )


def random_voice(rng: np.random.Generator) -> Voice:
    """Any English voice with any variant and prosody (the audio-only corpus: voices that vary)."""
    language = ESPEAK_LANGUAGES[int(rng.integers(len(ESPEAK_LANGUAGES)))]
    variant = ESPEAK_VARIANTS[int(rng.integers(len(ESPEAK_VARIANTS)))]
    return dataclasses.replace(sample_voice(rng, 0), name=f"{language}+{variant}")


def sample_text(rng: np.random.Generator, n_words: int) -> str:
    """``n_words`` words drawn from :data:`WORDS`, as one lower-case sentence."""
    picks = rng.choice(len(WORDS), size=n_words, replace=False)
    return " ".join(WORDS[int(i)] for i in picks)


def espeak_speech(text: str, voice: Voice, sample_rate: int = 16000) -> tuple[np.ndarray, list[Phone]]:
    """Speak ``text`` with espeak-ng, resampled to ``sample_rate``, with its timed phones.

    Returns
    -------
    (S,) float32 in [-1, 1], peak normalised to ``voice.gain``, and the phones (seconds).

    Raises
    ------
    InputError: espeak-ng is missing or fails.
    """
    if not espeak_available():
        raise InputError("espeak-ng is not installed; set synth.voice to 'builtin' or 'auto'")
    audio, rate, phones = speak(
        text, voice.name, voice.speed_wpm, voice.pitch, voice.pitch_range, voice.word_gap
    )
    return _normalise(_resample(audio, rate, sample_rate), voice.gain), phones


def builtin_speech(
    text: str, voice: Voice, rng: np.random.Generator, sample_rate: int = 16000
) -> tuple[np.ndarray, list[Phone]]:
    """A voiced, syllable-rate modulated speech-like signal for ``text`` (no espeak-ng needed).

    Each word becomes 1-3 syllables (by its vowel groups); a syllable is a glottal pulse train at a
    gliding fundamental, shaped by three vowel formants (source-filter model of speech), with an
    optional fricative noise onset, under a raised-cosine loudness envelope. Its phones are the
    syllables' vowels (and /s/ for a fricative onset), with pauses between words.

    Returns
    -------
    (S,) float32, peak normalised to ``voice.gain``, and the phones (seconds).
    """
    f0_base = 95.0 + 1.6 * voice.pitch  # Hz: pitch 0..99 -> 95..253 Hz
    syllable_s = 60.0 / voice.speed_wpm / 1.6  # about 1.6 syllables per word
    pieces: list[np.ndarray] = []
    phones: list[Phone] = []
    at = 0.0
    for word in text.split():
        n_syllables = max(1, min(3, _vowel_groups(word)))
        for _ in range(n_syllables):
            duration = syllable_s * rng.uniform(0.7, 1.3)
            piece, vowel, onset = _syllable(rng, duration, f0_base, sample_rate)
            if onset:
                phones.append(Phone("s", at, at + 0.3 * duration))
            phones.append(Phone(vowel, at + (0.3 * duration if onset else 0.0), at + duration))
            pieces.append(piece)
            at += len(piece) / sample_rate
        gap = np.zeros(int(sample_rate * (0.04 + 0.01 * voice.word_gap)), np.float32)
        phones.append(Phone("", at, at + len(gap) / sample_rate))
        pieces.append(gap)
        at += len(gap) / sample_rate
    return _normalise(np.concatenate(pieces), voice.gain), phones


def pad_to_frames(
    speech: np.ndarray,
    rng: np.random.Generator,
    lead_s: float,
    tail_s: float,
    samples_per_frame: int = 640,
    sample_rate: int = 16000,
    noise_db: float = -60.0,
) -> np.ndarray:
    """Surround ``speech`` with silence and a faint room-noise floor, cut to whole video frames.

    Returns
    -------
    (T * samples_per_frame,) float32 with T = ceil(length / samples_per_frame), so that frame t
    covers samples ``[t * samples_per_frame, (t + 1) * samples_per_frame)``.
    """
    lead, tail = round(lead_s * sample_rate), round(tail_s * sample_rate)
    n = lead + len(speech) + tail
    n_frames = -(-n // samples_per_frame)  # ceil
    audio = np.zeros(n_frames * samples_per_frame, np.float32)
    audio[lead : lead + len(speech)] = speech
    audio += (10 ** (noise_db / 20)) * rng.standard_normal(len(audio)).astype(np.float32)
    return audio


# Formants (F1, F2, F3 in Hz) of open, spread and rounded vowels (Peterson & Barney averages).
_VOWEL_FORMANTS = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]]
)
_VOWEL_IPA = ("ɑ", "i", "u", "ɛ", "ɔ")  # the vowels of those formants


def _syllable(
    rng: np.random.Generator, duration: float, f0_base: float, rate: int
) -> tuple[np.ndarray, str, bool]:
    n = int(duration * rate)
    t = np.arange(n) / rate
    f0 = f0_base * (1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(1.0, 3.0) * t + rng.uniform(0, 6.3)))
    phase = np.cumsum(f0 / rate)
    source = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)  # one pulse per period
    source = signal.lfilter([1.0], [1.0, -0.97], source)  # glottal roll-off (-6 dB/octave)
    voiced = np.zeros(n)
    vowel = int(rng.integers(len(_VOWEL_FORMANTS)))
    formants = _VOWEL_FORMANTS[vowel]
    for formant, bandwidth in zip(formants, (80, 110, 160), strict=True):
        b, a = _resonator(float(formant), bandwidth, rate)
        voiced += signal.lfilter(b, a, source)
    envelope = np.sin(np.pi * np.clip(t / duration, 0, 1)) ** 0.7
    out = voiced * envelope
    onset = bool(rng.random() < 0.4)
    if onset:  # fricative onset: high-passed noise over the first 30 %
        noise = signal.lfilter(*signal.butter(4, 3500 / (rate / 2), "high"), rng.standard_normal(n))
        ramp = np.clip(1.0 - t / (0.3 * duration), 0, 1)
        out += 0.3 * np.abs(voiced).max() * noise / (np.abs(noise).max() + 1e-9) * ramp
    return out.astype(np.float32), _VOWEL_IPA[vowel], onset


def _resonator(freq: float, bandwidth: float, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Second-order all-pole resonance at ``freq`` Hz (a formant), unit gain at DC."""
    r = np.exp(-np.pi * bandwidth / rate)
    a = np.array([1.0, -2.0 * r * np.cos(2 * np.pi * freq / rate), r * r])
    return np.array([a.sum()]), a


def _vowel_groups(word: str) -> int:
    groups, previous = 0, False
    for char in word:
        vowel = char in "aeiouy"
        groups += vowel and not previous
        previous = vowel
    return groups


def _resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return audio.astype(np.float32)
    g = np.gcd(rate_in, rate_out)
    return signal.resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


def _normalise(audio: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.abs(audio).max())
    if top <= 0:
        raise InputError("speech synthesis produced silence")
    return (audio * (peak / top)).astype(np.float32)
