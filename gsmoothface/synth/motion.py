"""Motion that does not depend on the audio: head pose, blinks, brows, gaze and lighting drift.

Every trajectory is a smooth random signal at 25 fps drawn from a seeded generator, shaped by a
per-speaker :class:`MotionStyle` so that speakers move differently.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import signal

FPS = 25  # video frames per second


@dataclasses.dataclass(frozen=True)
class MotionStyle:
    """A speaker's head-motion style (radians and decimetres, world frame of the face model)."""

    yaw_amp: float  # standard deviation of head turn
    pitch_amp: float  # standard deviation of nodding
    roll_amp: float  # standard deviation of head roll
    yaw_offset: float  # the speaker's habitual turn
    pitch_offset: float  # the speaker's habitual tilt
    sway_amp: float  # standard deviation of the head's sideways/vertical drift (dm)
    tempo_hz: float  # cutoff of the head motion (slow vs. lively speakers)


def sample_motion_style(
    rng: np.random.Generator, yaw_range: tuple[float, float], pitch: float, roll: float
) -> MotionStyle:
    """Draw a speaker's head-motion style; amplitudes are scaled around the configured ones."""
    return MotionStyle(
        yaw_amp=float(rng.uniform(*yaw_range)) / 2.0,
        pitch_amp=pitch / 2.0 * float(rng.uniform(0.6, 1.4)),
        roll_amp=roll / 2.0 * float(rng.uniform(0.6, 1.4)),
        yaw_offset=float(rng.uniform(-0.5, 0.5)) * yaw_range[0],
        pitch_offset=float(rng.uniform(-0.5, 0.5)) * pitch,
        sway_amp=float(rng.uniform(0.01, 0.03)),
        tempo_hz=float(rng.uniform(0.3, 0.8)),
    )


def smooth_noise(rng: np.random.Generator, n: int, cutoff_hz: float, fps: float = FPS) -> np.ndarray:
    """Band-limited random signal of unit standard deviation (low-passed white noise).

    Returns
    -------
    (n,) float64; frequencies above ``cutoff_hz`` are removed by a zero-phase Butterworth filter.
    The std is 1 over long runs; a run much shorter than ``1 / cutoff_hz`` varies less.
    """
    pad = int(2 * fps / cutoff_hz)
    white = rng.standard_normal(n + 2 * pad)
    b, a = signal.butter(2, min(cutoff_hz / (fps / 2), 0.99))
    smooth = signal.filtfilt(b, a, white)
    # the process's std (over the padded run), not the slice's: a short slice of a slow signal
    # must stay small rather than be blown up to unit variance
    return smooth[pad : pad + n] / (smooth.std() + 1e-9)


def head_pose(rng: np.random.Generator, n: int, style: MotionStyle) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random head rotation and translation drift.

    Returns
    -------
    angles (n, 3) float64 radians (pitch, yaw, roll, Deep3DFace order);
    shift (n, 3) float64 decimetres added to the speaker's base translation (z is 0).
    """
    angles = np.stack(
        [
            style.pitch_offset + style.pitch_amp * smooth_noise(rng, n, style.tempo_hz),
            style.yaw_offset + style.yaw_amp * smooth_noise(rng, n, style.tempo_hz),
            style.roll_amp * smooth_noise(rng, n, style.tempo_hz * 0.7),
        ],
        axis=1,
    )
    shift = np.zeros((n, 3))
    shift[:, 0] = style.sway_amp * smooth_noise(rng, n, style.tempo_hz * 0.5)
    shift[:, 1] = 0.5 * style.sway_amp * smooth_noise(rng, n, style.tempo_hz * 0.5)
    return angles, shift


def blinks(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    """Eye closure per frame: Poisson blinks, each a fast close and a slower reopening.

    Returns
    -------
    (n,) float64 in [0, 1] (1 = eyes shut).
    """
    closure = np.zeros(n)
    if rate_hz <= 0:  # no blinks at all
        return closure
    shape = np.array([0.5, 1.0, 1.0, 0.7, 0.4, 0.15])  # ~240 ms at 25 fps
    t = rng.exponential(1.0 / rate_hz) * rng.uniform(0.2, 1.0)
    while t * FPS < n:
        start = int(t * FPS)
        end = min(n, start + len(shape))
        closure[start:end] = np.maximum(closure[start:end], shape[: end - start])
        t += max(0.4, rng.exponential(1.0 / rate_hz))
    return closure


def brows(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """Brow raise per frame: slow drift plus occasional raises of about half a second.

    Returns
    -------
    (n,) float64, in units of the brow-raise shape (negative = frown).
    """
    drift = 0.3 * smooth_noise(rng, n, 0.3)
    events = np.zeros(n)
    for start in np.flatnonzero(rng.random(n) < 0.4 / FPS):  # ~0.4 raises per second
        length = int(rng.integers(8, 18))
        end = min(n, start + length)
        events[start:end] = np.maximum(
            events[start:end], np.sin(np.linspace(0, np.pi, length))[: end - start]
        )
    return amplitude * (drift + events)


def gaze(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    """Gaze direction per frame: fixations joined by quick saccades, plus a slight tremor.

    Returns
    -------
    (n, 2) float64 in [-1, 1], (right, down) as a fraction of the iris travel in the eye opening.
    """
    target = np.zeros((n, 2))
    current = rng.uniform(-0.3, 0.3, 2)
    for t in range(n):
        if rng.random() < rate_hz / FPS:
            current = np.clip(rng.normal(0.0, [0.45, 0.25]), -0.9, 0.9)
        target[t] = current
    smooth = signal.lfilter([0.6], [1.0, -0.4], target, axis=0)  # a saccade takes ~2 frames
    tremor = 0.03 * np.stack([smooth_noise(rng, n, 3.0), smooth_noise(rng, n, 3.0)], axis=1)
    return np.clip(smooth + tremor, -1.0, 1.0)


def lighting(rng: np.random.Generator, n: int, base: np.ndarray, change: float) -> np.ndarray:
    """Spherical-harmonics lighting drifting around a speaker's base lighting.

    Parameters
    ----------
    base: (27,) gamma coefficients (RGB x 9 SH bands, Deep3DFace layout).
    change: relative size of the drift (0 = constant light).

    Returns
    -------
    (n, 27) float64: the brightness drifts by ``change`` and the light direction swings.
    """
    gamma = np.repeat(base[None].astype(np.float64), n, axis=0)  # (n, 27)
    per_channel = gamma.reshape(n, 3, 9)  # view: channel x SH band
    brightness = 0.4 * change * smooth_noise(rng, n, 0.2)
    per_channel[:, :, 0] += brightness[:, None] * 0.8  # 0.8 = Deep3DFace's ambient init
    for band in (1, 2, 3):  # first-order bands: the direction of the key light
        per_channel[:, :, band] += change * 0.3 * smooth_noise(rng, n, 0.15)[:, None]
    return gamma
