"""A person's speaking style: how their fitted expressions relate to A2EP's prediction of their speech.

A2EP's styles are those of its training speakers; for anyone else it predicts the mean style, whose
mouth is placed and scaled like the synthetic speakers' and not like this person's (on the real
videos in the test set, the mean style's mouth keypoints were 1.5 to 2.6 times as far from the fitted
ones as the person's own average mouth). A person model keeps its videos' audio beside their fits,
so the mapping can be fitted whenever an A2EP is loaded: per expression coefficient, a gain (never
negative) and an offset that bring A2EP's prediction of the person's speech closest to their fitted
expressions, by least squares over the adaptation videos. It follows whatever A2EP is in use, so
retraining A2EP needs no new adaptation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gsmoothface.people.card import AUDIO

if TYPE_CHECKING:
    from gsmoothface.generate.drive import ExpressionPredictor

MIN_FRAMES = 25  # frames of valid fits below which no style is fitted


@dataclasses.dataclass(frozen=True)
class Style:
    """Per-coefficient ``gain`` (D,) and ``offset`` (D,): ``exp -> gain * exp + offset``."""

    gain: np.ndarray
    offset: np.ndarray

    def __call__(self, exp: np.ndarray) -> np.ndarray:
        return (exp * self.gain + self.offset).astype(np.float32)


def fit_style(predicted: np.ndarray, fitted: np.ndarray) -> Style:
    """The least-squares gain >= 0 and offset of each coefficient from ``predicted`` (T, D) to
    ``fitted`` (T, D); a coefficient A2EP does not move (or moves against the fits) gets gain 0,
    so the person's mean."""
    p = predicted - predicted.mean(0)
    f = fitted - fitted.mean(0)
    var = (p * p).mean(0)
    gain = np.where(var > 1e-8, np.clip((p * f).mean(0) / np.maximum(var, 1e-8), 0.0, None), 0.0)
    return Style(gain.astype(np.float32), (fitted.mean(0) - gain * predicted.mean(0)).astype(np.float32))


def person_style(predict: ExpressionPredictor, folder: Path, sample_rate: int) -> Style | None:
    """The style of the person model in ``folder`` under ``predict`` (mean style), or None when the
    model keeps no audio (adapted before it did) or too few fitted frames of speech; silent clips
    are left out."""
    from gsmoothface.audio import load_audio
    from gsmoothface.errors import InputError

    predicted, fitted = [], []
    for wav in sorted((folder / AUDIO).glob("*.wav")):
        fit_file = folder / "fit" / f"{wav.stem}.npz"
        if not fit_file.is_file():
            continue
        with np.load(fit_file) as fit:
            exp, valid = fit["coeff"][:, 80:144], fit["valid"].astype(bool)
        try:
            audio = load_audio(wav, sample_rate)
        except InputError:  # a silent or unreadable clip says nothing of the person's speech
            continue
        pred = predict(audio, len(exp), None)
        predicted.append(pred[valid])
        fitted.append(exp[valid])
    if not predicted or sum(len(p) for p in predicted) < MIN_FRAMES:
        return None
    return fit_style(np.concatenate(predicted), np.concatenate(fitted))


def styled(predict: ExpressionPredictor, style: Style) -> ExpressionPredictor:
    """``predict`` with ``style`` applied to every prediction."""

    def predict_styled(audio: np.ndarray, n_frames: int, speaker: str | None) -> np.ndarray:
        return style(predict(audio, n_frames, speaker))

    return predict_styled
