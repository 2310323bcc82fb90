"""Controls -> the 64 expression coefficients of the synthetic face model.

The synthetic model's leading expression components are named motions
(:mod:`gsmoothface.face_model.synthetic`): jaw open, lip round, lip stretch, smile, blink, brow
raise. The audio drives the first three through :func:`gsmoothface.synth.mapping.mouth_controls`;
blinks and brows come from :mod:`gsmoothface.synth.motion`; the remaining 58 minor components
drift slowly and independently of the audio (what no audio model can predict).
"""

from __future__ import annotations

import numpy as np

from gsmoothface.face_model.synthetic import (
    BLINK_CLOSED,
    EXP_BLINK,
    EXP_BROW_RAISE,
    EXP_JAW_OPEN,
    EXP_LIP_ROUND,
    EXP_LIP_STRETCH,
    EXP_SMILE,
    N_NAMED_EXP,
)
from gsmoothface.synth.motion import smooth_noise

N_EXP = 64
JAW_FULL = 3.0  # jaw coefficient of a fully open mouth in speech (~12 mm lip gap)
ROUND_FULL = 2.0  # lip-round coefficient of a fully rounded "oo"
STRETCH_FULL = 2.0  # lip-stretch coefficient of a fully spread "ee"
MINOR_STD = 0.5  # standard deviation of the 58 minor components (each ~0.15 mm per unit)


def expression_coefficients(
    rng: np.random.Generator,
    mouth: dict[str, np.ndarray],
    blink: np.ndarray,
    brow: np.ndarray,
    smile: float,
) -> np.ndarray:
    """Expression coefficients per frame.

    Parameters
    ----------
    mouth: ``jaw``, ``round``, ``stretch`` (T,) in [0, 1] from ``mouth_controls``.
    blink: (T,) eye closure in [0, 1]. brow: (T,) brow raise (coefficient units).
    smile: the speaker's constant smile (coefficient units); it wanders slightly over time.

    Returns
    -------
    (T, 64) float64.
    """
    n = len(blink)
    exp = np.zeros((n, N_EXP))
    exp[:, EXP_JAW_OPEN] = JAW_FULL * mouth["jaw"]
    exp[:, EXP_LIP_ROUND] = ROUND_FULL * mouth["round"]
    exp[:, EXP_LIP_STRETCH] = STRETCH_FULL * mouth["stretch"]
    exp[:, EXP_SMILE] = smile + 0.15 * smooth_noise(rng, n, 0.2)
    exp[:, EXP_BLINK] = BLINK_CLOSED * blink
    exp[:, EXP_BROW_RAISE] = brow
    for k in range(N_NAMED_EXP, N_EXP):
        exp[:, k] = MINOR_STD * smooth_noise(rng, n, 0.5)
    return exp
