"""Driving a reference's frames with an expression sequence: render, MAFB, TAFT, paste back."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gsmoothface.blend.paste import match_colour
from gsmoothface.errors import InputError

EXP = slice(80, 144)  # expression coefficients inside the 257-vector

# (audio (S,) float32 at 16 kHz, n_frames, speaker) -> (n_frames, 64) expression coefficients
ExpressionPredictor = Callable[[np.ndarray, int, str | None], np.ndarray]
# (reference (B,3,S,S), blended (B,3,S,S)) in [0,1] -> translated (B,3,S,S) in [0,1]
Translator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def reference_indices(n_out: int, n_ref: int, loop: str = "pingpong") -> np.ndarray:
    """Reference frame index of each output frame.

    ``pingpong`` walks 0..n-1, n-2..1, 0..n-1, ... (no jump at the turns); ``loop`` restarts at 0.

    Returns
    -------
    (n_out,) int64.
    """
    if n_ref < 1:
        raise InputError("the reference has no frames")
    t = np.arange(n_out)
    if loop == "loop" or n_ref == 1:
        return t % n_ref
    period = 2 * n_ref - 2
    phase = t % period
    return np.where(phase < n_ref, phase, period - phase).astype(np.int64)


def resize(
    images: torch.Tensor, height: int, width: int | None = None, mode: str = "bilinear"
) -> torch.Tensor:
    """(B,C,H,W) -> (B,C,height,width); antialiased when shrinking."""
    width = height if width is None else width
    if images.shape[-2:] == (height, width):
        return images
    kwargs = {"antialias": images.shape[-1] > width} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(images, size=(height, width), mode=mode, **kwargs)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(B,H,W,3) uint8 (memory maps included) -> (B,3,H,W) float in [0,1]."""
    return torch.from_numpy(np.array(frames, dtype=np.uint8)).permute(0, 3, 1, 2).float() / 255.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B,3,H,W) float in [0,1] -> (B,H,W,3) uint8."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@dataclasses.dataclass
class DrivenChunk:
    """One chunk of driven frames, (n,H,W,3) uint8 at the reference clip's resolution."""

    start: int  # index of the first output frame
    reference_index: np.ndarray  # (n,) reference frame of each output frame
    frames: np.ndarray  # the reference frames driven
    blended: np.ndarray  # MAFB blended frames (render pasted into the frame), up-sampled
    generated: np.ndarray  # TAFT output pasted back into the reference frames
    translated: np.ndarray  # TAFT output alone, up-sampled to the clip resolution
    mask: np.ndarray  # (n,H,W) float32 in [0,1], the soft paste-back mask
    coeff: np.ndarray  # (n,257) the driven coefficients (reference pose, given expression)


def drive(
    reference: Any,
    exp: np.ndarray,
    store: np.ndarray,
    blender: Callable,
    translator: Translator,
    size: int,
    chunk: int = 32,
    loop: str = "pingpong",
) -> Iterator[DrivenChunk]:
    """Drive the reference's frames with an expression sequence, chunk by chunk.

    Parameters
    ----------
    reference: a :class:`~gsmoothface.generate.reference.Reference` (coeff, trans_params, n_frames,
        face_found); frames without a face are passed through unchanged.
    exp: (N, 64) expression coefficients, one row per output frame.
    store: the reference clip's frames (T,H,W,3) uint8, e.g. a memory map.
    blender: a ``gsmoothface.blend.MafbBlender`` (frames, coeff, trans_params) -> BlendResult.
    translator: TAFT at ``size``; the appearance reference is the clip's first frame (as the demo).
    size: the MAFB/TAFT working resolution (``blend.size``).

    Yields
    ------
    :class:`DrivenChunk` per ``chunk`` output frames.
    """
    indices = reference_indices(len(exp), reference.n_frames, loop)
    device = getattr(blender, "device", torch.device("cpu"))
    appearance = resize(to_tensor(store[:1]), size).to(device)  # (1,3,S,S)
    for start in range(0, len(exp), chunk):
        idx = indices[start : start + chunk]
        frames = np.asarray(store[idx])  # (n,H,W,3)
        full = to_tensor(frames).to(device)  # (n,3,H,W)
        small = resize(full, size)
        coeff = reference.coeff[idx].copy()
        coeff[:, EXP] = exp[start : start + chunk]
        result = blender(small, torch.from_numpy(coeff), reference.trans_params[idx])
        paste = result.mask if result.paste is None else result.paste
        with torch.no_grad():
            out = translator(appearance.expand(len(idx), -1, -1, -1), result.blended).clamp(0, 1)
        reach = getattr(getattr(blender, "cfg", None), "colour_match", 0.0) * size
        if reach > 0:  # the face's colour meets the frame's along the paste edge: no seam
            out = match_colour(out, small, paste, reach).clamp(0, 1)
        h, w = full.shape[-2:]
        mask = resize(paste, h, w).clamp(0, 1)  # (n,1,H,W) soft paste-back mask
        # a frame where the fit saw no face (a cut-away, a hand) stays as it was
        mask = mask * torch.from_numpy(reference.face_found(idx)).to(mask)[:, None, None, None]
        translated = resize(out, h, w, "bicubic").clamp(0, 1)
        generated = full * (1 - mask) + translated * mask
        blended = full * (1 - mask) + resize(result.blended, h, w, "bicubic").clamp(0, 1) * mask
        yield DrivenChunk(
            start=start,
            reference_index=idx,
            frames=frames,
            blended=to_uint8(blended),
            generated=to_uint8(generated),
            translated=to_uint8(translated),
            mask=mask[:, 0].cpu().numpy(),
            coeff=coeff,
        )


def paste_back(
    full: np.ndarray, face: np.ndarray, mask: np.ndarray, crop_box: tuple[int, int, int]
) -> np.ndarray:
    """Composite clip-resolution faces into the full frames the clip was cropped from.

    Parameters
    ----------
    full: (n,H0,W0,3) uint8 source frames.
    face: (n,S,S,3) uint8 translated faces in clip pixels; mask: (n,S,S) float in [0,1].
    crop_box: ``(x0, y0, side)`` of the clip in source pixels (may extend past the frame).

    Returns
    -------
    (n,H0,W0,3) uint8; pixels where the mask is 0 are the source's, untouched.
    """
    x0, y0, side = (int(v) for v in crop_box)
    h0, w0 = full.shape[1:3]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + side, w0), min(y0 + side, h0)
    out = np.array(full, dtype=np.uint8)
    if fx1 <= fx0 or fy1 <= fy0:
        return out
    big = resize(to_tensor(face), side, mode="bicubic").clamp(0, 1)  # (n,3,side,side)
    m = resize(torch.from_numpy(np.asarray(mask, np.float32))[:, None], side).clamp(0, 1)
    rows, cols = slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0)
    region = to_tensor(out[:, fy0:fy1, fx0:fx1])
    m = m[..., rows, cols]
    out[:, fy0:fy1, fx0:fx1] = to_uint8(region * (1 - m) + big[..., rows, cols] * m)
    return out
