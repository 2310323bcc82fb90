"""The expression sequences ``gsmoothface translate`` drives a clip with.

The translation itself is ``generate``'s path (:func:`gsmoothface.generate.drive`): render, MAFB,
TAFT in a window around the lower face, paste back, with the reference walked ping-pong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gsmoothface.errors import InputError

EXP = slice(80, 144)  # expression block of the 257 coefficients


def read_expression(path: Path) -> np.ndarray:
    """Expressions from ``.npy`` (N, 64) or (N, 257), or ``.npz`` with ``exp`` or ``coeff`` -> (N, 64) f32.

    Raises
    ------
    InputError: no such array or a wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: expression file not found")
    if path.suffix == ".npz":
        with np.load(path) as data:
            key = "exp" if "exp" in data else "coeff" if "coeff" in data else None
            if key is None:
                raise InputError(f"{path}: expected an 'exp' (N,64) or 'coeff' (N,257) array")
            array = data[key]
    else:
        array = np.load(path)
    if array.ndim != 2 or array.shape[1] not in (64, 257) or len(array) == 0:
        raise InputError(f"{path}: expressions must be (N, 64) or (N, 257), got {array.shape}")
    return np.ascontiguousarray(array[:, EXP] if array.shape[1] == 257 else array, dtype=np.float32)
