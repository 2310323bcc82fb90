"""espeak-ng through its C library: speech audio and the timing of every phoneme it spoke.

The ``espeak-ng`` program can say a sentence but not when each phoneme starts; the library reports
that as phoneme events (``espeakINITIALIZE_PHONEME_EVENTS``) at exact sample positions of its
output, which is what the synthetic speakers articulate. Events carry the phoneme in IPA
(``espeakINITIALIZE_PHONEME_IPA``); an empty name is a pause. The library keeps one voice at a time
per process and carries state from one utterance to the next (the previous voice, filter memories,
the C library's ``rand()``), so the same call gives other samples later in a process. The command
``espeak-ng`` is deterministic because each run is a fresh process: :func:`speak` does the same,
running the library in a short-lived child process (``python -m gsmoothface.espeak``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import json
import subprocess
import sys

import numpy as np

from gsmoothface.errors import InputError

AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: synthesise inside espeak_Synth, report by callback
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_PHONEME_IPA = 0x0002
INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of exiting the process
EVENT_LIST_TERMINATED, EVENT_PHONEME = 0, 7
PARAM_RATE, PARAM_PITCH, PARAM_RANGE, PARAM_WORDGAP = 1, 3, 4, 7
CHARS_UTF8 = 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT of speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # sample index in the output
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclasses.dataclass(frozen=True)
class Phone:
    """One spoken phoneme (or a pause, ``ipa == ""``) and its time span in the audio, seconds."""

    ipa: str
    start: float
    end: float


@dataclasses.dataclass
class _Engine:
    lib: ctypes.CDLL
    rate: int  # output sample rate (Hz)
    chunks: list[np.ndarray]
    events: list[tuple[int, str]]
    callback: object = None  # keeps the ctypes callback alive


def library_available() -> bool:
    """True when libespeak-ng can be loaded."""
    return _library_name() is not None


def _library_name() -> str | None:
    for name in ("libespeak-ng.so.1", ctypes.util.find_library("espeak-ng")):
        if name:
            try:
                ctypes.CDLL(name)
            except OSError:
                continue
            return name
    return None


@functools.cache
def _engine() -> _Engine:
    name = _library_name()
    if name is None:
        raise InputError("libespeak-ng is not installed (apt-get install espeak-ng)")
    lib = ctypes.CDLL(name)
    options = INITIALIZE_PHONEME_EVENTS | INITIALIZE_PHONEME_IPA | INITIALIZE_DONT_EXIT
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, options)
    if rate <= 0:
        raise InputError("libespeak-ng failed to initialise (is espeak-ng-data installed?)")
    engine = _Engine(lib, rate, [], [])

    def collect(wav: ctypes.Array, n: int, events: ctypes.Array) -> int:
        if n > 0:
            engine.chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            if events[i].type == EVENT_PHONEME:
                engine.events.append((events[i].sample, events[i].id.string.decode("utf-8", "replace")))
            i += 1
        return 0

    engine.callback = _CALLBACK(collect)
    lib.espeak_SetSynthCallback(engine.callback)
    return engine


def speak(
    text: str, voice: str, rate_wpm: int, pitch: int, pitch_range: int = 50, word_gap: int = 0
) -> tuple[np.ndarray, int, list[Phone]]:
    """Say ``text`` and report its phonemes, in a fresh process (deterministic, see the module).

    Parameters and return value as :func:`speak_in_process`.
    """
    if not library_available():
        raise InputError("libespeak-ng is not installed (apt-get install espeak-ng)")
    args = [sys.executable, "-m", "gsmoothface.espeak", voice, str(rate_wpm), str(pitch)]
    args += [str(pitch_range), str(word_gap)]
    proc = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, check=False)
    if proc.returncode != 0:
        raise InputError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.decode()[-300:].strip()}")
    header, _, pcm = proc.stdout.partition(b"\n")
    info = json.loads(header)
    phones = [Phone(ipa, start, end) for ipa, start, end in info["phones"]]
    return np.frombuffer(pcm, "<f4").copy(), int(info["rate"]), phones


def speak_in_process(
    text: str, voice: str, rate_wpm: int, pitch: int, pitch_range: int = 50, word_gap: int = 0
) -> tuple[np.ndarray, int, list[Phone]]:
    """Say ``text`` with the library loaded in this process, and report its phonemes.

    Parameters
    ----------
    voice: an espeak-ng voice name, optionally with a variant (``en-us+f2``).
    rate_wpm, pitch, pitch_range, word_gap: espeak-ng's speed (words/min), pitch and pitch range
        (0-99) and extra pause between words (units of 10 ms).

    Returns
    -------
    audio (S,) float32 in [-1, 1] at the library's rate, that rate (Hz), and the phones in order,
    covering ``[first phone start, S / rate]`` without gaps.

    Raises
    ------
    InputError: the library is missing, rejects the voice, or produces no sound.
    """
    engine = _engine()
    lib = engine.lib
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise InputError(f"espeak-ng has no voice {voice!r}")
    for param, value in ((PARAM_RATE, rate_wpm), (PARAM_PITCH, pitch), (PARAM_RANGE, pitch_range)):
        lib.espeak_SetParameter(param, int(value), 0)
    lib.espeak_SetParameter(PARAM_WORDGAP, int(word_gap), 0)
    engine.chunks.clear()
    engine.events.clear()
    data = text.encode("utf-8")
    status = lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    if status != 0 or not engine.chunks:
        raise InputError(f"espeak-ng produced no audio for voice {voice!r} (status {status})")
    audio = np.concatenate(engine.chunks).astype(np.float32) / 32768.0
    total = len(audio) / engine.rate
    starts = [(min(sample, len(audio)) / engine.rate, name) for sample, name in engine.events]
    phones = [
        Phone(name, start, nxt)
        for (start, name), (nxt, _) in zip(starts, [*starts[1:], (total, "")], strict=True)
        if nxt > start
    ]
    return audio, engine.rate, phones


def _main() -> None:
    """Child process of :func:`speak`: text on stdin; a JSON header line and float32 PCM on stdout."""
    voice, rate_wpm, pitch, pitch_range, word_gap = sys.argv[1:6]
    try:
        audio, rate, phones = speak_in_process(
            sys.stdin.read(), voice, int(rate_wpm), int(pitch), int(pitch_range), int(word_gap)
        )
    except InputError as exc:
        sys.exit(str(exc))
    header = {"rate": rate, "phones": [(p.ipa, p.start, p.end) for p in phones]}
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n" + audio.astype("<f4").tobytes())


if __name__ == "__main__":
    _main()
