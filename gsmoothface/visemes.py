"""Phonemes -> mouth controls: viseme targets blended by coarticulation (dominance functions).

Each phone has a target for three mouth controls, all in [0, 1] of the face model's full motion:
``jaw`` (opening, by vowel height; 0 = lips touching), ``round`` (rounding and protrusion: o, u,
w, sh) and ``stretch`` (spreading: i, e, and the bared teeth of s, t, th). Bilabials (p, b, m)
close the lips fully; labiodentals (f, v) bring the lower lip to the upper teeth (an almost closed
jaw); dental and alveolar fricatives show the teeth (a small opening with spread lips).

Coarticulation follows Cohen & Massaro (1993): every phone exerts a dominance over each control
that is ``alpha`` inside its own time span and decays exponentially outside it, with a longer reach
before the phone (anticipation) than after it (carry-over); a control's value at time t is the
dominance-weighted mean of the targets. Phones that must be reached (bilabial closure, the
rounding of /w/ and /u/) have a high ``alpha``; phones whose shape the tongue makes inside the
mouth (k, g, h, t, d, n, l) have a low one and take their neighbours' shape. The whole gesture
leads the sound by ``lead`` seconds, since the mouth moves before the sound it prepares.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gsmoothface.espeak import Phone

CONTROLS = ("jaw", "round", "stretch")


@dataclasses.dataclass(frozen=True)
class Viseme:
    """Targets (jaw, round, stretch), dominance strengths and reach of one phone class.

    ``reach`` scales how far the dominance extends beyond the phone's span: a lip closure is a
    short, strong gesture; a vowel a longer, gentler one.
    """

    target: tuple[float, float, float]
    alpha: tuple[float, float, float]
    reach: float = 1.0
    closure: float = 0.0  # share of the jaw opening the lips close inside the span (1: p, b, m)


# Vowels by height (jaw) and rounding/spreading; IPA letters as espeak-ng reports them.
_VOWELS: dict[str, Viseme] = {
    **dict.fromkeys("aɑæɐɒ", Viseme((0.95, 0.0, 0.2), (1.0, 0.6, 0.6))),
    **dict.fromkeys("ɛʌɜœɞ", Viseme((0.65, 0.0, 0.3), (1.0, 0.6, 0.6))),
    **dict.fromkeys("ɔ", Viseme((0.65, 0.6, 0.0), (1.0, 1.0, 0.6))),
    **dict.fromkeys("əɚɘɵ", Viseme((0.4, 0.1, 0.1), (0.6, 0.4, 0.4))),
    **dict.fromkeys("eø", Viseme((0.45, 0.0, 0.55), (1.0, 0.6, 0.8))),
    **dict.fromkeys("o", Viseme((0.45, 0.8, 0.0), (1.0, 1.2, 0.6))),
    **dict.fromkeys("iɪᵻɨ", Viseme((0.2, 0.0, 0.85), (1.0, 0.6, 1.0))),
    **dict.fromkeys("y", Viseme((0.2, 0.8, 0.0), (1.0, 1.2, 0.6))),
    **dict.fromkeys("uʊɯ", Viseme((0.2, 1.0, 0.0), (1.0, 1.5, 0.6))),
}
_CONSONANTS: dict[str, Viseme] = {
    **dict.fromkeys("pbm", Viseme((0.0, 0.0, 0.0), (2.0, 0.5, 0.5), 0.3, 1.0)),  # lips closed
    **dict.fromkeys("fv", Viseme((0.06, 0.0, 0.15), (2.0, 0.8, 0.5), 0.4, 0.85)),  # lower lip to upper teeth
    **dict.fromkeys("θð", Viseme((0.2, 0.0, 0.3), (1.5, 0.5, 0.8))),  # tongue between the teeth
    **dict.fromkeys("szç", Viseme((0.12, 0.0, 0.5), (2.0, 0.6, 1.0))),  # teeth together and bared
    **dict.fromkeys("ʃʒ", Viseme((0.15, 0.7, 0.0), (2.0, 1.5, 0.6))),  # protruded
    **dict.fromkeys("w", Viseme((0.1, 1.0, 0.0), (2.0, 3.0, 1.0))),
    **dict.fromkeys("j", Viseme((0.15, 0.0, 0.6), (0.8, 0.5, 0.8))),
    **dict.fromkeys("ɹrɾ", Viseme((0.2, 0.5, 0.0), (0.6, 1.0, 0.4))),
    **dict.fromkeys("tdnlɫ", Viseme((0.2, 0.0, 0.2), (0.25, 0.15, 0.2))),
    **dict.fromkeys("kɡgŋhxʔ", Viseme((0.3, 0.0, 0.0), (0.1, 0.05, 0.05))),
}
PAUSE = Viseme((0.0, 0.0, 0.0), (2.0, 2.0, 2.0))  # silence: the mouth returns to rest, closed
NEUTRAL = Viseme((0.3, 0.0, 0.0), (0.1, 0.05, 0.05))  # an unknown symbol takes its neighbours' shape


def phone_visemes(ipa: str) -> list[Viseme]:
    """The viseme sequence of one phone: a diphthong (``aɪ``) gives one per vowel, in order.

    Affricates (``tʃ``) take their fricative; length and stress marks are ignored.
    """
    if not ipa:
        return [PAUSE]
    vowels = [_VOWELS[c] for c in ipa if c in _VOWELS]
    if vowels:
        return vowels
    consonants = [_CONSONANTS[c] for c in ipa if c in _CONSONANTS]
    if consonants:
        return [max(consonants, key=lambda v: v.alpha[0])]  # the articulation that shows most
    return [NEUTRAL]


def _segments(phones: list[Phone]) -> tuple[np.ndarray, ...]:
    """Split diphthongs evenly in time.

    Returns starts, ends (K,), targets, alphas (K, 3), reach, closure (K,).
    """
    starts, ends, targets, alphas, reach, closure = [], [], [], [], [], []
    for phone in phones:
        parts = phone_visemes(phone.ipa)
        bounds = np.linspace(phone.start, phone.end, len(parts) + 1)
        for k, viseme in enumerate(parts):
            starts.append(bounds[k])
            ends.append(bounds[k + 1])
            targets.append(viseme.target)
            alphas.append(viseme.alpha)
            reach.append(viseme.reach)
            closure.append(viseme.closure)
    return tuple(np.array(v) for v in (starts, ends, targets, alphas, reach, closure))


def coarticulate(
    phones: list[Phone],
    times: np.ndarray,
    lead: float = 0.04,
    anticipation: float = 0.05,
    carryover: float = 0.04,
) -> dict[str, np.ndarray]:
    """Mouth controls at ``times`` (seconds) from timed phones, before any speaker style.

    Parameters
    ----------
    phones: the utterance's phones in audio time; times outside them count as a pause.
    times: (T,) sample times, e.g. video frame centres.
    lead: seconds the gesture precedes the sound.
    anticipation, carryover: decay lengths (s) of a phone's dominance before and after its span.

    Returns
    -------
    ``jaw``, ``round``, ``stretch``: (T,) float64 in [0, 1].
    """
    # a pause before and after everything, so the mouth rests closed in the surrounding silence
    first, last = (phones[0].start, phones[-1].end) if phones else (0.0, 0.0)
    padded = [Phone("", min(first, float(times.min())) - 1.0, first), *phones]
    padded.append(Phone("", last, max(last, float(times.max())) + 1.0))
    starts, ends, targets, alphas, reach, closure = _segments(padded)
    t = times[:, None] + lead  # (T, 1): the gesture at t serves the sound at t + lead
    before = np.clip(starts[None] - t, 0.0, None)  # (T, K) seconds until the phone starts
    after = np.clip(t - ends[None], 0.0, None)  # seconds since it ended
    decay = np.exp(-(before / anticipation + after / carryover) / reach[None])  # (T, K), 1 inside the span
    out = {}
    for c, name in enumerate(CONTROLS):
        weight = alphas[None, :, c] * decay + 1e-12
        out[name] = np.clip((weight * targets[None, :, c]).sum(1) / weight.sum(1), 0.0, 1.0)
    # lip closure is a constraint, not a target among others: the lips meet inside a bilabial's
    # span whatever the jaw of the neighbouring vowels, and let go within its short reach
    out["jaw"] *= 1.0 - (closure[None] * decay).max(1)
    return out
