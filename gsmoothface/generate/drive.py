"""Driving a reference's frames with an expression sequence: render, MAFB, TAFT, paste back."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gsmoothface.blend.paste import match_colour
from gsmoothface.errors import InputError
from gsmoothface.timing import StepTimes

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


WINDOW_MARGIN = 0.0625  # context around the paste mask's box given to TAFT, fraction of the working side
WINDOW_STEP = 16  # window sides are multiples of this, px of the working side
# the least window, fractions of the working side: a lower-face mask plus margins of a face framed
# as `slice` frames it (about 0.43 x 0.57 of the side) fits, so the size rarely depends on the speech
WINDOW_HEIGHT, WINDOW_WIDTH = 0.5625, 0.75

Box = tuple[int, int, int, int]  # (y0, y1, x0, x1), px


def mask_boxes(paste: torch.Tensor) -> list[Box | None]:
    """Per frame, the box of the paste mask's non-zero pixels (None for an empty mask).

    Parameters
    ----------
    paste: (B, 1, S, S) soft paste masks.
    """
    boxes: list[Box | None] = []
    for frame in paste[:, 0] > 0:
        rows, cols = torch.nonzero(frame.any(dim=1)).flatten(), torch.nonzero(frame.any(dim=0)).flatten()
        boxes.append(
            None if len(rows) == 0 else (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        )
    return boxes


class FaceWindows:
    """Places one window of a fixed size per frame around its paste mask, for TAFT to translate.

    TAFT normalises each image as a whole (LayerNorm2d), so the window's size is kept for the whole
    video: at least :data:`WINDOW_HEIGHT` x :data:`WINDOW_WIDTH` of the side, which a lower face
    framed as ``slice`` frames it fits with its margin. It grows (rounded up to
    :data:`WINDOW_STEP`) only when a mask does not fit. Each window hangs from its frame's mask top
    (the nose tip: the expression does not move it) and is centred across it: an opening jaw moves
    neither. Windows stay inside the image.
    """

    def __init__(self, size: int, margin: int) -> None:
        self.size, self.margin = size, margin
        self.height = self._side(round(WINDOW_HEIGHT * size) - 2 * margin, 0)
        self.width = self._side(round(WINDOW_WIDTH * size) - 2 * margin, 0)

    def _side(self, extent: int, current: int) -> int:
        need = -(-(extent + 2 * self.margin) // WINDOW_STEP) * WINDOW_STEP
        return min(self.size, max(current, need))

    def place(self, boxes: list[Box | None]) -> list[Box]:
        """A window per frame (frames with no mask: top centre), all of the same size."""
        for y0, y1, x0, x1 in (b for b in boxes if b is not None):
            self.height, self.width = self._side(y1 - y0, self.height), self._side(x1 - x0, self.width)
        windows = []
        for box in boxes:
            top, cx = (box[0] - self.margin, (box[2] + box[3]) / 2) if box else (0, self.size / 2)
            y0 = min(max(0, top), self.size - self.height)
            x0 = min(max(0, round(cx - self.width / 2)), self.size - self.width)
            windows.append((y0, y0 + self.height, x0, x0 + self.width))
        return windows


def crop_windows(images: torch.Tensor, windows: list[Box]) -> torch.Tensor:
    """(B, C, S, S) -> (B, C, h, w): each image's own window (all of one size)."""
    return torch.stack(
        [image[:, y0:y1, x0:x1] for image, (y0, y1, x0, x1) in zip(images, windows, strict=True)]
    )


def _sample_grid(window: Box, origin: tuple[float, float], scale: float, box: Box) -> torch.Tensor:
    """``grid_sample`` grid (1, h, w, 2) reading a window crop at the output pixels of ``box``.

    The working image's pixel ``(u, v)`` covers output pixels ``origin + (u, v) * scale`` (pixel
    areas, not centres, are what scale), so output pixel centre ``X + 0.5`` reads ``u = (X + 0.5 -
    ox) / scale - 0.5``; ``box`` is ``(Y0, Y1, X0, X1)`` in output pixels.
    """
    wy0, wy1, wx0, wx1 = window
    oy, ox = origin
    y = (torch.arange(box[0], box[1], dtype=torch.float32) + 0.5 - oy) / scale - 0.5 - wy0
    x = (torch.arange(box[2], box[3], dtype=torch.float32) + 0.5 - ox) / scale - 0.5 - wx0
    gy = (y + 0.5) / (wy1 - wy0) * 2 - 1  # align_corners=False normalisation
    gx = (x + 0.5) / (wx1 - wx0) * 2 - 1
    return torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)[None]


@dataclasses.dataclass
class DrivenChunk:
    """One chunk of driven frames.

    The face work happens at the working side S (``blend.size``) inside each frame's window around
    its paste mask; :meth:`composite` brings it into frames of any resolution, touching only the
    pixels under the window. ``generated``, ``blended`` and ``mask`` give it at the clip's resolution.
    """

    start: int  # index of the first output frame
    reference_index: np.ndarray  # (n,) reference frame of each output frame
    frames: np.ndarray  # (n,H,W,3) uint8, the reference frames driven
    coeff: np.ndarray  # (n,257) the driven coefficients (reference pose, given expression)
    face: torch.Tensor  # (n,3,h,w) TAFT output in [0,1] inside each window, colour matched
    blended_face: torch.Tensor  # (n,3,h,w) the MAFB blended input inside each window
    paste: torch.Tensor  # (n,1,h,w) soft paste mask inside each window, 0 where no face was found
    windows: list[Box]  # per frame (y0, y1, x0, x1) in px of S
    size: int  # S

    def composite(
        self, frames: np.ndarray, origin: tuple[float, float], scale: float, face: torch.Tensor | None = None
    ) -> np.ndarray:
        """Paste the face into ``frames`` (n,H0,W0,3) uint8, where S maps to ``origin + S * scale``.

        ``origin`` is ``(y, x)`` of the working image's corner in ``frames`` pixels (it may lie
        outside). Only the pixels under each window are resampled (bicubic face, bilinear mask);
        the rest are the frames' own. ``face`` defaults to the TAFT output.
        """
        out = np.array(frames, dtype=np.uint8)
        picture = self.face if face is None else face
        h0, w0 = out.shape[1:3]
        for i, window in enumerate(self.windows):
            if not self.paste[i].any():
                continue
            wy0, wy1, wx0, wx1 = window
            box = (
                max(0, math.floor(origin[0] + wy0 * scale)),
                min(h0, math.ceil(origin[0] + wy1 * scale)),
                max(0, math.floor(origin[1] + wx0 * scale)),
                min(w0, math.ceil(origin[1] + wx1 * scale)),
            )
            if box[1] <= box[0] or box[3] <= box[2]:
                continue
            grid = _sample_grid(window, origin, scale, box)
            big = F.grid_sample(
                picture[i : i + 1], grid, mode="bicubic", padding_mode="border", align_corners=False
            )
            mask = F.grid_sample(
                self.paste[i : i + 1], grid, mode="bilinear", padding_mode="border", align_corners=False
            )
            region = to_tensor(out[i : i + 1, box[0] : box[1], box[2] : box[3]])
            mixed = region * (1 - mask) + big.clamp(0, 1) * mask
            out[i : i + 1, box[0] : box[1], box[2] : box[3]] = to_uint8(mixed)
        return out

    @functools.cached_property
    def generated(self) -> np.ndarray:
        """(n,H,W,3) uint8: the TAFT face pasted into the clip's frames."""
        return self.composite(self.frames, (0.0, 0.0), self.frames.shape[1] / self.size)

    @functools.cached_property
    def blended(self) -> np.ndarray:
        """(n,H,W,3) uint8: the MAFB blended input pasted into the clip's frames the same way."""
        return self.composite(self.frames, (0.0, 0.0), self.frames.shape[1] / self.size, self.blended_face)

    @functools.cached_property
    def mask(self) -> np.ndarray:
        """(n,H,W) float32 in [0,1]: the paste mask at the clip's resolution."""
        h, w = self.frames.shape[1:3]
        full = torch.zeros(len(self.frames), 1, self.size, self.size)
        for i, (y0, y1, x0, x1) in enumerate(self.windows):
            full[i, :, y0:y1, x0:x1] = self.paste[i]
        return resize(full, h, w)[:, 0].clamp(0, 1).numpy()


def drive(
    reference: Any,
    exp: np.ndarray,
    store: np.ndarray,
    blender: Callable,
    translator: Translator,
    size: int,
    chunk: int = 32,
    loop: str = "pingpong",
    times: StepTimes | None = None,
) -> Iterator[DrivenChunk]:
    """Drive the reference's frames with an expression sequence, chunk by chunk.

    TAFT translates only a window around each frame's paste mask (:class:`FaceWindows`, with
    :data:`WINDOW_MARGIN` of context): it is fully convolutional and was trained on crops, and no
    other pixel is pasted.

    Parameters
    ----------
    reference: a :class:`~gsmoothface.generate.reference.Reference` (coeff, trans_params, n_frames,
        face_found); frames without a face are passed through unchanged.
    exp: (N, 64) expression coefficients, one row per output frame.
    store: the reference clip's frames (T,H,W,3) uint8, e.g. a memory map.
    blender: a ``gsmoothface.blend.MafbBlender`` (frames, coeff, trans_params) -> BlendResult.
    translator: TAFT at ``size``; the appearance reference is the clip's first frame (as the demo).
    size: the MAFB/TAFT working resolution (``blend.size``).
    times: collects the seconds of each step (decode, render+blend, TAFT, colour match).

    Yields
    ------
    :class:`DrivenChunk` per ``chunk`` output frames.
    """
    times = StepTimes() if times is None else times
    indices = reference_indices(len(exp), reference.n_frames, loop)
    device = getattr(blender, "device", torch.device("cpu"))
    appearance = resize(to_tensor(store[:1]), size).to(device)  # (1,3,S,S)
    reach = getattr(getattr(blender, "cfg", None), "colour_match", 0.0) * size
    placer = FaceWindows(size, round(WINDOW_MARGIN * size))
    for start in range(0, len(exp), chunk):
        idx = indices[start : start + chunk]
        with times("decode"):
            frames = np.asarray(store[idx])  # (n,H,W,3)
            small = resize(to_tensor(frames), size).to(device)
        coeff = reference.coeff[idx].copy()
        coeff[:, EXP] = exp[start : start + chunk]
        with times("render + MAFB"):
            result = blender(small, torch.from_numpy(coeff), reference.trans_params[idx])
        paste = result.mask if result.paste is None else result.paste
        # a frame where the fit saw no face (a cut-away, a hand) stays as it was
        paste = paste * torch.from_numpy(reference.face_found(idx)).to(paste)[:, None, None, None]
        boxes = mask_boxes(paste)
        windows = placer.place(boxes)
        blended, paste = crop_windows(result.blended, windows), crop_windows(paste, windows)
        face = blended
        if any(box is not None for box in boxes):
            with times("TAFT"), torch.no_grad():
                look = crop_windows(appearance.expand(len(idx), -1, -1, -1), windows)
                face = translator(look, blended).clamp(0, 1)
            if reach > 0:  # the face's colour meets the frame's along the paste edge: no seam
                with times("colour match"):
                    face = match_colour(face, crop_windows(small, windows), paste, reach).clamp(0, 1)
        yield DrivenChunk(
            start=start,
            reference_index=idx,
            frames=frames,
            coeff=coeff,
            face=face.cpu(),
            blended_face=blended.cpu(),
            paste=paste.cpu(),
            windows=windows,
            size=size,
        )
