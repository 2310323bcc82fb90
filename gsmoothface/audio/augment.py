"""Training-time audio augmentation: the channels real recordings come through.

Built from audiomentations (noise at a signal-to-noise ratio, band limits, level) and pedalboard
(algorithmic room reverb, MP3 coding at a low bit rate). Each augmented copy is drawn from its own
seed, so the same params give the same bytes: audiomentations draws from Python's ``random`` and
NumPy's global generator, which are seeded for the call and restored afterwards.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[np.random.Generator]:
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield np.random.default_rng(seed)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def augment(audio: np.ndarray, sample_rate: int, seed: int) -> np.ndarray:
    """One augmented copy of ``audio``: (S,) float32 -> (S,) float32, a function of ``seed``.

    Each effect applies with its own probability: room reverb (p 0.5), MP3 at 32-96 kbit/s
    (p 0.4), low-pass at 3-7.5 kHz (telephone to wide band, p 0.4), high-pass at 60-300 Hz (p 0.3),
    Gaussian noise at 10-35 dB SNR (p 0.7), and a level change of -18 to +6 dB (p 0.8).
    """
    import pedalboard
    from audiomentations import AddGaussianSNR, Compose, Gain, HighPassFilter, LowPassFilter

    with _seeded(seed) as rng:
        x = audio.astype(np.float32)
        effects = []
        if rng.random() < 0.5:
            effects.append(
                pedalboard.Reverb(
                    room_size=float(rng.uniform(0.1, 0.7)),
                    damping=float(rng.uniform(0.2, 0.8)),
                    wet_level=float(rng.uniform(0.05, 0.3)),
                    dry_level=1.0,
                )
            )
        if rng.random() < 0.4:
            effects.append(pedalboard.MP3Compressor(vbr_quality=float(rng.uniform(5.0, 9.0))))
        if effects:
            y = pedalboard.Pedalboard(effects)(x[None], sample_rate)[0]
            x = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].astype(np.float32)
        chain = Compose(
            [
                LowPassFilter(min_cutoff_freq=3000.0, max_cutoff_freq=7500.0, p=0.4),
                HighPassFilter(min_cutoff_freq=60.0, max_cutoff_freq=300.0, p=0.3),
                AddGaussianSNR(min_snr_db=10.0, max_snr_db=35.0, p=0.7),
                Gain(min_gain_db=-18.0, max_gain_db=6.0, p=0.8),
            ]
        )
        x = chain(samples=x, sample_rate=sample_rate)
    return np.clip(x, -1.0, 1.0).astype(np.float32)
