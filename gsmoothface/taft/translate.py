"""TAFT inference: frames + 3DMM coefficients (any expression sequence) -> translated frames.

Frames stream through in batches (decode a chunk, blend, translate, yield), so memory does not grow
with the video's length. An expression sequence longer than the video walks the video forwards and
backwards (ping-pong), which keeps the head motion continuous.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from gsmoothface.blend.mafb import MafbBlender, to_tensor
from gsmoothface.errors import InputError
from gsmoothface.taft.data import from_model
from gsmoothface.taft.model import TaftGenerator

EXP = slice(80, 144)  # expression block of the 257 coefficients


@torch.no_grad()
def translate_frames(
    generator: TaftGenerator, reference: torch.Tensor, blended: torch.Tensor
) -> torch.Tensor:
    """Run the (EMA) generator.

    Parameters
    ----------
    reference: (3, S, S) or (B, 3, S, S) in [0, 1]; one reference is shared by the batch.
    blended: (B, 3, S, S) MAFB images in [0, 1].

    Returns
    -------
    (B, 3, S, S) translated frames in [0, 1].
    """
    device = next(generator.parameters()).device
    blended = blended.to(device) * 2 - 1
    reference = reference.to(device) * 2 - 1
    if reference.dim() == 3:
        reference = reference.expand(len(blended), -1, -1, -1)
    return ((generator(reference, blended).clamp(-1, 1) + 1) / 2).float()


def ping_pong(n_out: int, n_frames: int) -> np.ndarray:
    """Frame indices 0, 1, ..., T-1, T-2, ..., 0, 1, ... of length ``n_out`` for a T-frame video."""
    if n_frames == 1:
        return np.zeros(n_out, dtype=np.int64)
    period = 2 * (n_frames - 1)
    k = np.arange(n_out) % period
    return np.where(k < n_frames, k, period - k)


def translate_clip(
    generator: TaftGenerator,
    blender: MafbBlender,
    frames: np.ndarray,
    coeff: np.ndarray,
    trans_params: np.ndarray,
    expression: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    batch_size: int = 8,
) -> Iterator[np.ndarray]:
    """Translate a clip driven by an expression sequence, batch by batch.

    Parameters
    ----------
    frames: (T, S, S, 3) uint8 clip frames at the TAFT resolution (a memmap keeps memory flat).
    coeff: (T, 257) fitted coefficients; trans_params: (T, 5).
    expression: (N, 64) expressions to render (default: the fitted ones, N = T); output frame i uses
        clip frame ``ping_pong(N, T)[i]`` with its pose, identity, texture and lighting.
    reference: (S, S, 3) uint8 reference frame (default: the clip's first frame, as the demo).

    Yields
    ------
    (n, S, S, 3) uint8 translated frames, N in total.
    """
    n_frames = len(frames)
    if len(coeff) != n_frames or len(trans_params) != n_frames:
        raise ValueError(f"frames ({n_frames}), coeff ({len(coeff)}) and trans_params disagree")
    if expression is None:
        expression = coeff[:, EXP]
    order = ping_pong(len(expression), n_frames)
    ref = to_tensor((frames[0] if reference is None else reference)[None])[0]  # (3, S, S)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch_coeff = np.array(coeff[idx], dtype=np.float32)  # (n, 257)
        batch_coeff[:, EXP] = expression[start : start + batch_size]
        blend = blender(to_tensor(frames[idx]), torch.from_numpy(batch_coeff), trans_params[idx])
        yield from_model(translate_frames(generator, ref, blend.blended) * 2 - 1)


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
