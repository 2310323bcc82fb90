"""Scoring a generated talking-head video against the true video of the same scene.

Face-box PSNR and SSIM, PSNR over a band along the jaw (seams and rings where a generated face
meets the real skin), the mouth landmark distance as a percentage of the inter-ocular distance,
the correlation of the mouth opening over time, and CPBD sharpness of both face boxes. Every
region comes from the true frame's dlib 68 landmarks, so both videos are measured on the same
pixels. Frames are decoded and detected in chunks: memory stays bounded for long videos.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gsmoothface.errors import InputError
from gsmoothface.evaluation.cpbd import cpbd
from gsmoothface.evaluation.image_metrics import psnr, ssim

FPS = 25  # both videos are resampled to the project's frame rate
CHUNK = 32  # frames decoded and detected at once (two 512 px chunks take ~50 MB)
BOX_MARGIN = 0.10  # the landmark box grows by this fraction of its side on each side
JAW_BAND_MIN_PX = 3.0  # jaw band half-width floor, px
JAW_BAND_IOD = 0.08  # jaw band half-width as a fraction of the inter-ocular distance
PSNR_CAP_DB = 100.0  # identical pixels score this instead of inf (JSON has no inf)
SSIM_MIN_SIDE = 7  # SSIM's 7x7 window needs a box at least this big, px
MIN_CORR_FRAMES = 3  # fewer common frames give no mouth-opening correlation
JAW = slice(0, 17)  # iBUG-68 jaw contour, ear to ear through the chin
MOUTH = slice(48, 68)  # iBUG-68 outer (48-59) and inner (60-67) lip points
EYE_A, EYE_B = slice(36, 42), slice(42, 48)  # iBUG-68 eye contours
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # iBUG-68 (upper, lower) inner-lip points


def inter_ocular(lm68: np.ndarray) -> np.ndarray:
    """Distance between the eye centres (means of points 36-41 and 42-47).

    ``lm68`` (..., 68, 2) px -> (...) float64 px.
    """
    lm = np.asarray(lm68, np.float64)
    return np.linalg.norm(lm[..., EYE_A, :].mean(axis=-2) - lm[..., EYE_B, :].mean(axis=-2), axis=-1)


def face_box(
    lm68: np.ndarray, height: int, width: int, margin: float = BOX_MARGIN
) -> tuple[int, int, int, int]:
    """Bounding box of one frame's landmarks grown by ``margin`` of its side on each side, in the frame.

    ``lm68`` (68, 2) px (x right, y down) -> ``(x0, y0, x1, y1)``, ends exclusive.
    """
    lo, hi = np.asarray(lm68, np.float64).min(axis=0), np.asarray(lm68, np.float64).max(axis=0)
    grow = margin * (hi - lo)
    x0, y0 = (int(v) for v in np.floor(lo - grow))
    x1, y1 = (int(v) + 1 for v in np.ceil(hi + grow))
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def jaw_band_width(lm68: np.ndarray) -> float:
    """Half-width of the jaw band for one frame: ``max(3 px, 0.08 * inter-ocular distance)``."""
    return max(JAW_BAND_MIN_PX, JAW_BAND_IOD * float(inter_ocular(lm68)))


def jaw_band_mask(lm68: np.ndarray, height: int, width: int, width_px: float) -> np.ndarray:
    """Pixels within ``width_px`` of the jaw contour (points 0-16 as a polyline).

    Parameters
    ----------
    lm68: (68, 2) landmarks of one frame, px (x right, y down; pixel (row y, col x) has its centre
        at (x, y)).
    height, width: frame size, px.
    width_px: half-width of the band on each side of the polyline, px.

    Returns
    -------
    (height, width) bool; all False when the landmarks are NaN (no face).
    """
    mask = np.zeros((height, width), bool)
    jaw = np.asarray(lm68, np.float64)[JAW]  # (17, 2)
    if not np.isfinite(jaw).all():
        return mask
    for a, b in itertools.pairwise(jaw):  # each segment within its own box grown by the band
        x0, y0 = np.maximum(np.floor(np.minimum(a, b) - width_px), 0).astype(int)
        x1, y1 = (np.ceil(np.maximum(a, b) + width_px) + 1).astype(int)
        x1, y1 = min(x1, width), min(y1, height)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        points = np.stack([xs, ys], axis=-1).astype(np.float64)  # (h, w, 2)
        d = b - a
        t = np.clip(((points - a) @ d) / max(float(d @ d), 1e-12), 0.0, 1.0)  # closest point on a-b
        off = points - a - t[..., None] * d
        mask[y0:y1, x0:x1] |= (off * off).sum(axis=-1) <= width_px * width_px
    return mask


def capped_psnr(pred: np.ndarray, true: np.ndarray) -> float:
    """PSNR of two equally shaped uint8 pixel arrays (..., C), in dB, at most :data:`PSNR_CAP_DB`."""
    channels = pred.shape[-1]  # (H, W, C) boxes and (N, C) masked pixels alike -> (1, 1, N, C)
    value = psnr(pred.reshape(1, 1, -1, channels), true.reshape(1, 1, -1, channels))[0]
    return float(min(value, PSNR_CAP_DB))


def mouth_opening(lm68: np.ndarray) -> np.ndarray:
    """Inner-lip opening per frame: mean of lower minus upper y over the pairs 61-67, 62-66, 63-65,
    divided by the inter-ocular distance. ``lm68`` (T, 68, 2) -> (T,) float64."""
    lm = np.asarray(lm68, np.float64)
    gap = np.mean([lm[:, lower, 1] - lm[:, upper, 1] for upper, lower in INNER_LIP_PAIRS], axis=0)
    return gap / inter_ocular(lm)


def mouth_lmd_percent(lm_gen: np.ndarray, lm_true: np.ndarray) -> np.ndarray:
    """Mean distance between the mouth points (48-67) of generated and true frames, as % of the true
    inter-ocular distance. (T, 68, 2) px each -> (T,) float64."""
    gen, true = np.asarray(lm_gen, np.float64), np.asarray(lm_true, np.float64)
    dist = np.linalg.norm(gen[:, MOUTH] - true[:, MOUTH], axis=-1).mean(axis=1)  # (T,) px
    return 100.0 * dist / inter_ocular(true)


def pearson(a: np.ndarray, b: np.ndarray) -> tuple[float | None, str | None]:
    """Pearson r of the true (``a``) and generated (``b``) mouth openings, or ``(None, reason)`` for
    fewer than 3 frames or a constant series."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < MIN_CORR_FRAMES:
        return None, f"{len(a)} frames with a face in both videos (need {MIN_CORR_FRAMES})"
    for name, series in (("true", a), ("generated", b)):
        if series.std() < 1e-12:
            return None, f"the mouth opening of the {name} video does not change"
    return float(np.corrcoef(a, b)[0, 1]), None


def frame_metrics(
    true: np.ndarray,
    gen: np.ndarray,
    lm_true: np.ndarray,
    valid_true: np.ndarray,
    lm_gen: np.ndarray,
    valid_gen: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per-frame metrics of aligned frames; NaN where a metric is undefined (no face).

    Parameters
    ----------
    true, gen: (T, H, W, 3) uint8 frames of the same size.
    lm_true, lm_gen: (T, 68, 2) dlib landmarks, px; ``valid_true``, ``valid_gen``: (T,) bool.

    Returns
    -------
    (T,) float64 arrays: ``face_psnr`` and ``jaw_psnr`` (dB, capped at :data:`PSNR_CAP_DB`),
    ``face_ssim``, ``cpbd_true``, ``cpbd_gen`` (where the truth has a face), ``lmd_pct``,
    ``open_true``, ``open_gen`` (where both have one).
    """
    if true.shape != gen.shape:
        raise ValueError(f"frame shapes differ: {true.shape} vs {gen.shape}")
    n, height, width = true.shape[:3]
    out = {k: np.full(n, np.nan) for k in ("face_psnr", "face_ssim", "jaw_psnr", "cpbd_true", "cpbd_gen")}
    for i in np.flatnonzero(valid_true):
        x0, y0, x1, y1 = face_box(lm_true[i], height, width)
        box_true, box_gen = true[i, y0:y1, x0:x1], gen[i, y0:y1, x0:x1]
        out["face_psnr"][i] = capped_psnr(box_gen, box_true)
        if min(box_true.shape[:2]) >= SSIM_MIN_SIDE:  # a face all but outside the frame has none
            out["face_ssim"][i] = ssim(box_gen, box_true)[0]
        out["cpbd_true"][i], out["cpbd_gen"][i] = cpbd(box_true), cpbd(box_gen)
        band = jaw_band_mask(lm_true[i], height, width, jaw_band_width(lm_true[i]))
        if band.any():
            out["jaw_psnr"][i] = capped_psnr(gen[i][band], true[i][band])
    both = np.asarray(valid_true, bool) & np.asarray(valid_gen, bool)
    for key in ("lmd_pct", "open_true", "open_gen"):
        out[key] = np.full(n, np.nan)
    out["lmd_pct"][both] = mouth_lmd_percent(lm_gen[both], lm_true[both])
    out["open_true"][both] = mouth_opening(lm_true[both])
    out["open_gen"][both] = mouth_opening(lm_gen[both])
    return out


def _mean(values: np.ndarray) -> float | None:
    """Mean of the non-NaN entries, or None when there are none."""
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def summarize(per_frame: dict[str, np.ndarray]) -> dict[str, Any]:
    """The score of a pair of videos from :func:`frame_metrics`' arrays (concatenated over chunks).

    PSNRs are per-frame values capped at :data:`PSNR_CAP_DB` (identical pixels score exactly that),
    averaged over the frames with a face in the truth; undefined values are None.
    """
    has_face = ~np.isnan(per_frame["face_psnr"])
    both = ~np.isnan(per_frame["open_true"])
    r, reason = pearson(per_frame["open_true"][both], per_frame["open_gen"][both])
    cpbd_true, cpbd_gen = _mean(per_frame["cpbd_true"]), _mean(per_frame["cpbd_gen"])
    return {
        "frames_compared": len(has_face),
        "frames_with_face": int(has_face.sum()),
        "frames_with_both_faces": int(both.sum()),
        "face_psnr_db": _mean(per_frame["face_psnr"]),
        "face_ssim": _mean(per_frame["face_ssim"]),
        "jaw_band_psnr_db": _mean(per_frame["jaw_psnr"]),
        "mouth_lmd_pct_iod": _mean(per_frame["lmd_pct"]),
        "mouth_open_r": r,
        "mouth_open_r_reason": reason,
        "cpbd_true": cpbd_true,
        "cpbd_generated": cpbd_gen,
        "cpbd_ratio": cpbd_gen / cpbd_true if cpbd_gen is not None and cpbd_true else None,
        "psnr_cap_db": PSNR_CAP_DB,
    }


def score_frames(
    true: np.ndarray,
    gen: np.ndarray,
    lm_true: np.ndarray,
    valid_true: np.ndarray,
    lm_gen: np.ndarray,
    valid_gen: np.ndarray,
) -> dict[str, Any]:
    """:func:`summarize` of :func:`frame_metrics` for frames held in memory (same arguments)."""
    return summarize(frame_metrics(true, gen, lm_true, valid_true, lm_gen, valid_gen))


def _frame_pairs(
    true_path: Path, gen_path: Path, start_s: float, max_frames: int | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Aligned (n, H, W, 3) chunks of both videos at :data:`FPS`, as many frames as both have."""
    from gsmoothface.media import iter_frames

    left = math.inf if max_frames is None else max_frames
    with (
        contextlib.closing(iter_frames(true_path, chunk=CHUNK, fps=FPS, start_s=start_s or None)) as trues,
        contextlib.closing(iter_frames(gen_path, chunk=CHUNK, fps=FPS)) as gens,
    ):
        # both decoders fill every chunk but their last, so chunks stay aligned
        for true, gen in zip(trues, gens, strict=False):
            n = int(min(len(true), len(gen), left))
            if n == 0:
                return
            yield true[:n], gen[:n]
            left -= n
            if left <= 0 or n < CHUNK:
                return


def score_videos(
    true_path: str | Path, gen_path: str | Path, start_s: float = 0.0, max_frames: int | None = None
) -> dict[str, Any]:
    """Score a generated video against the true one (same scene, size and framing), at 25 fps.

    Parameters
    ----------
    true_path, gen_path: the true and the generated video; the frames both have are compared.
    start_s: the true video's frame at this time (s) matches the generated video's first frame.
    max_frames: compare at most this many frames.

    Returns
    -------
    :func:`summarize`'s dict, with the two paths and ``start_s``.

    Raises
    ------
    InputError: a file is missing or not a video, the sizes differ, no frames overlap, or no face
        is found in the true video.
    """
    from gsmoothface.landmarks.dlib68 import DlibSource
    from gsmoothface.media import probe
    from gsmoothface.progress import progress

    true_path, gen_path = Path(true_path), Path(gen_path)
    infos = [probe(p) for p in (true_path, gen_path)]
    for info in infos:
        if not info.has_video:
            raise InputError(f"{info.path}: no video stream")
    true_info, gen_info = infos
    if (true_info.width, true_info.height) != (gen_info.width, gen_info.height):
        raise InputError(
            f"resolutions differ: {true_path} is {true_info.width}x{true_info.height}, "
            f"{gen_path} is {gen_info.width}x{gen_info.height} (score compares the same framing)"
        )
    if start_s < 0:
        raise InputError(f"start_s must be at least 0 s, got {start_s}")
    if start_s >= true_info.video_end_s:
        raise InputError(
            f"no overlapping frames: --start-s {start_s} is outside {true_path} "
            f"(0 to {true_info.video_end_s:.2f} s)"
        )
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be at least 1, got {max_frames}")
    detector = DlibSource()
    chunks: list[dict[str, np.ndarray]] = []
    expected = min(true_info.video_end_s - start_s, gen_info.video_end_s) * FPS
    if max_frames is not None:
        expected = min(expected, max_frames)
    pairs = _frame_pairs(true_path, gen_path, start_s, max_frames)
    for true, gen in progress(pairs, "score chunks", total=math.ceil(expected / CHUNK), every=10):
        lm_true, valid_true = detector.detect(true)
        # the generated face matters only where the truth has one
        lm_gen = np.full_like(lm_true, np.nan)
        valid_gen = np.zeros_like(valid_true)
        lm_gen[valid_true], valid_gen[valid_true] = detector.detect(gen[valid_true])
        chunks.append(frame_metrics(true, gen, lm_true, valid_true, lm_gen, valid_gen))
    if not chunks:
        raise InputError(f"no overlapping frames between {true_path} (from {start_s} s) and {gen_path}")
    result = summarize({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})
    if result["frames_with_face"] == 0:
        raise InputError(
            f"{true_path}: no face found in any of the {result['frames_compared']} compared frames"
        )
    return {"true_video": str(true_path), "generated_video": str(gen_path), "start_s": start_s, **result}


def format_score(result: dict[str, Any]) -> str:
    """:func:`score_videos`' result as a small text table (``n/a`` for undefined values, with why)."""

    def num(value: float | None, digits: int) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    r = result["mouth_open_r"]
    rows = [
        ("frames compared", str(result["frames_compared"])),
        (
            "frames with a face (truth / both)",
            f"{result['frames_with_face']} / {result['frames_with_both_faces']}",
        ),
        ("face-box PSNR, dB", num(result["face_psnr_db"], 2)),
        ("face-box SSIM", num(result["face_ssim"], 4)),
        ("jaw-band PSNR, dB", num(result["jaw_band_psnr_db"], 2)),
        ("mouth LMD, % inter-ocular", num(result["mouth_lmd_pct_iod"], 2)),
        ("mouth-opening r", num(r, 3) if r is not None else f"n/a ({result['mouth_open_r_reason']})"),
        ("CPBD true / generated", f"{num(result['cpbd_true'], 3)} / {num(result['cpbd_generated'], 3)}"),
        ("CPBD ratio (generated / true)", num(result["cpbd_ratio"], 3)),
    ]
    side = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{side}}  {value}" for name, value in rows)
