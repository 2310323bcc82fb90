"""Self-reconstruction evaluation on held-out clips (GSmoothFace's protocol, spec section 6).

Each held-out clip is driven by its own audio: A2EP predicts the expressions, MAFB renders them
with the clip's fitted pose, identity, texture and lighting, TAFT translates the blended frame and
the face is pasted back into the clip's frame; the result is compared with the clip's true frames.

Baselines computed in the same run:
- ``reference_copy``: the reference (first) frame's face pasted into each true frame through the
  same soft mask, i.e. a face that never moves; it gets the same untouched background as the
  generated frames, so the comparison isolates the face;
- ``blended``: the MAFB input of TAFT (render pasted in), to see what TAFT adds;
- ``speaker_mean``: for A2EP, the speaker's mean training expression in every frame (the mean over
  all training clips for a speaker not seen in training).

LMD with ``landmark_source: sidecar`` (the embedded default, whose landmarks come from sidecar
files instead of a detector) compares the true landmarks with the 3DMM landmarks of the driven
coefficients projected into the frame; the fitted coefficients' projection gives the floor
(``fit``). With a detector (``fan``, ``dlib``) the landmarks of the true, generated
and baseline frames are all detected.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gsmoothface.evaluation.config import EvaluateConfig
from gsmoothface.evaluation.cpbd import cpbd_frames
from gsmoothface.evaluation.image_metrics import mean_finite, psnr, ssim_against
from gsmoothface.evaluation.motion_metrics import (
    INNER_LIP_LOWER,
    INNER_LIP_UPPER,
    expression_error,
    expression_vertices,
    jaw_open,
    landmark_distance,
    lip_vertex_error,
)
from gsmoothface.generate import (
    EXP,
    ExpressionPredictor,
    GenerateConfig,
    Translator,
    drive,
    frame_store,
    resolve_speaker,
)
from gsmoothface.generate import open_reference as open_clip

DM_TO_MM = 100.0  # face model units are decimetres


def eval_clips(cfg: EvaluateConfig) -> list[tuple[Path, dict[str, Any]]]:
    """Clip folders whose ``meta.json`` split is in ``cfg.splits``, sorted by name, with their meta."""
    found = []
    for meta_path in sorted(cfg.clips_dir.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        if meta.get("split") in cfg.splits:
            found.append((meta_path.parent, meta))
    return found


def speaker_mean_expressions(cfg: EvaluateConfig) -> dict[str | None, np.ndarray]:
    """Mean fitted expression (64,) of each speaker's training clips; key ``None``: all training clips."""
    sums: dict[str | None, np.ndarray] = {}
    counts: dict[str | None, int] = {}
    for meta_path in sorted(cfg.clips_dir.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        fit = cfg.fit_dir / f"{meta.get('clip', meta_path.parent.name)}.npz"
        if meta.get("split") != "train" or not fit.is_file():
            continue
        with np.load(fit) as data:
            exp = data["coeff"][:, EXP].astype(np.float64)  # (T, 64)
        for key in (meta.get("speaker"), None):
            sums[key] = sums.get(key, 0.0) + exp.sum(axis=0)
            counts[key] = counts.get(key, 0) + len(exp)
    return {key: (sums[key] / counts[key]).astype(np.float32) for key in sums}


@dataclasses.dataclass
class ClipResult:
    """One clip's metrics (a CSV row) and its jaw-opening series."""

    row: dict[str, Any]
    jaw: dict[str, np.ndarray]  # predicted / true jaw opening per frame, mm


class Evaluator:
    """Drives held-out clips and measures them (see the module docstring).

    Parameters
    ----------
    face_model: the ``gsmoothface.face_model.FaceModel``.
    blender: MAFB at the TAFT resolution ``size``; translator: TAFT.
    predictor: A2EP, trained on ``speakers``; speaker_means: :func:`speaker_mean_expressions`.
    landmarks: ``None`` for the sidecar protocol, else a ``LandmarkSource`` detecting on frames.
    syncnet: a loaded :class:`~gsmoothface.evaluation.syncnet.SyncNet`, or None.
    """

    def __init__(
        self,
        cfg: EvaluateConfig,
        face_model: Any,
        blender: Any,
        translator: Translator,
        size: int,
        predictor: ExpressionPredictor,
        speakers: list[str],
        speaker_means: dict[str | None, np.ndarray],
        cache_dir: Path,
        landmarks: Any = None,
        syncnet: Any = None,
        sample_rate: int = 16000,
    ) -> None:
        self.cfg, self.face_model, self.blender, self.translator = cfg, face_model, blender, translator
        self.size, self.predictor, self.speakers = size, predictor, speakers
        self.speaker_means = speaker_means
        self.landmarks, self.syncnet, self.sample_rate = landmarks, syncnet, sample_rate
        self.gen_cfg = GenerateConfig(clips_dir=cfg.clips_dir, fit_dir=cfg.fit_dir, cache_dir=cache_dir)
        exp_base = face_model.exp_base.cpu().numpy()  # (3N, 64)
        lips = np.flatnonzero(face_model.mouth_mask.cpu().numpy())
        self.lip_basis = (exp_base, lips)
        inner = face_model.keypoints.cpu().numpy()[[INNER_LIP_UPPER, INNER_LIP_LOWER]]
        mean = face_model.mean_shape.cpu().numpy().reshape(-1, 3)
        self.jaw_basis = (exp_base, inner, mean[inner])

    def _project(self, coeff: np.ndarray, trans_params: np.ndarray) -> np.ndarray:
        """3DMM landmarks of coefficients (n,257) in clip pixels (n,68,2)."""
        from gsmoothface.landmarks.align import points_from_crop

        device = self.face_model.exp_base.device
        with torch.no_grad():
            lm224 = self.face_model.landmarks_224(torch.from_numpy(coeff).float().to(device)).cpu().numpy()
        return points_from_crop(lm224, trans_params).astype(np.float32)

    def _jaw_mm(self, exp: np.ndarray) -> np.ndarray:
        exp_base, inner, mean_points = self.jaw_basis
        return jaw_open(expression_vertices(exp_base, exp, inner), mean_points) * DM_TO_MM

    def evaluate_clip(
        self, clip_dir: Path, meta: dict[str, Any], video_out: Path | None = None
    ) -> ClipResult:
        """Drive one clip with its own audio and measure it; optionally write truth | blended | generated."""
        from gsmoothface.landmarks import interpolate_invalid
        from gsmoothface.landmarks.sidecar import read_sidecar
        from gsmoothface.media import VideoWriter, load_audio, write_wav

        reference = open_clip(clip_dir, self.gen_cfg)
        n = reference.n_frames if not self.cfg.max_frames else min(reference.n_frames, self.cfg.max_frames)
        samples = n * self.sample_rate // 25
        audio = load_audio(clip_dir / "audio.wav", self.sample_rate)[:samples]
        speaker = meta.get("speaker")
        style = resolve_speaker(None, speaker, self.speakers)  # the clip's own style when trained on it
        exp_true = reference.coeff[:n, EXP]  # (n, 64)
        exp_pred = self.predictor(audio, n, style)
        store = frame_store(reference.video, self.gen_cfg.cache_dir, reference.n_frames)
        appearance = np.asarray(store[0], dtype=np.float32)  # (H, W, 3) the reference frame
        truth_lm = None
        if self.landmarks is None:
            lm68, valid = read_sidecar(clip_dir / "landmarks.npz")
            truth_lm = interpolate_invalid(lm68, valid)[:n]
        per_frame: dict[str, list[np.ndarray]] = {}
        kept_for_sync: list[np.ndarray] = []

        def add(key: str, values: np.ndarray) -> None:
            per_frame.setdefault(key, []).append(np.asarray(values, dtype=np.float64))

        with contextlib.ExitStack() as stack:
            writer = None
            if video_out is not None:
                wav = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "audio.wav"
                write_wav(wav, audio, self.sample_rate)  # the evaluated span's audio
                side_by_side = VideoWriter(video_out, 3 * store.shape[2], store.shape[1], audio_path=wav)
                writer = stack.enter_context(side_by_side)
            for driven in drive(
                reference, exp_pred, store, self.blender, self.translator, self.size, self.cfg.chunk, "loop"
            ):
                truth, gen, blended = driven.frames, driven.generated, driven.blended
                m = driven.mask[..., None]
                copy = np.round(truth * (1 - m) + appearance * m).astype(np.uint8)
                compared = {"generated": gen, "reference_copy": copy, "blended": blended}
                similarity = ssim_against(compared, truth, gaussian_weights=self.cfg.ssim_gaussian)
                for name, frames in compared.items():
                    add(f"psnr_{name}", psnr(frames, truth))
                    add(f"ssim_{name}", similarity[name])
                add("cpbd_generated", cpbd_frames(gen))
                add("cpbd_truth", cpbd_frames(truth))
                idx = driven.reference_index
                if truth_lm is not None:
                    for name, frames in (("generated", gen), ("reference_copy", copy)):
                        face, jaw = region_psnr(frames, truth, truth_lm[idx])
                        add(f"psnr_face_{name}", face)
                        add(f"psnr_jaw_{name}", jaw)
                if self.landmarks is None:
                    lm_true = truth_lm[idx]
                    lm_gen = self._project(driven.coeff, reference.trans_params[idx])
                    lm_fit = self._project(reference.coeff[idx], reference.trans_params[idx])
                    add("lmd_fit", landmark_distance(lm_fit, lm_true, center=self.cfg.lmd_center))
                    lm_copy = np.repeat(truth_lm[:1], len(idx), axis=0)
                else:
                    lm_true = interpolate_invalid(*self.landmarks.detect(truth))
                    lm_gen = interpolate_invalid(*self.landmarks.detect(gen))
                    lm_copy = interpolate_invalid(*self.landmarks.detect(copy))
                add("lmd_generated", landmark_distance(lm_gen, lm_true, center=self.cfg.lmd_center))
                add("lmd_reference_copy", landmark_distance(lm_copy, lm_true, center=self.cfg.lmd_center))
                if writer is not None:
                    writer.write(np.concatenate([truth, blended, gen], axis=2))
                if self.syncnet is not None:
                    kept_for_sync.append(gen)
        row: dict[str, Any] = {
            "clip": reference.name,
            "speaker": speaker,
            "split": meta.get("split"),
            "frames": n,
        }
        for key, chunks in per_frame.items():
            values = np.concatenate(chunks)
            row[key] = mean_finite(values) if key.startswith("psnr") else float(np.mean(values))
        row.update(self._a2ep_metrics(exp_pred, exp_true, speaker))
        row.update(self._sync(kept_for_sync, audio))
        jaw = {"predicted": self._jaw_mm(exp_pred), "true": self._jaw_mm(exp_true)}
        row["jaw_open_pearson"] = _pearson(jaw["predicted"], jaw["true"])
        return ClipResult(row=row, jaw=jaw)

    def _a2ep_metrics(
        self, exp_pred: np.ndarray, exp_true: np.ndarray, speaker: str | None
    ) -> dict[str, float]:
        exp_base, lips = self.lip_basis
        mean = self.speaker_means.get(speaker, self.speaker_means.get(None))
        true_v = expression_vertices(exp_base, exp_true, lips)
        out = {
            "lve_mm_a2ep": lip_vertex_error(expression_vertices(exp_base, exp_pred, lips), true_v) * DM_TO_MM,
            "exp_error_a2ep": expression_error(exp_pred, exp_true),
        }
        if mean is not None:
            mean_seq = np.repeat(mean[None], len(exp_true), axis=0)
            out["lve_mm_speaker_mean"] = (
                lip_vertex_error(expression_vertices(exp_base, mean_seq, lips), true_v) * DM_TO_MM
            )
            out["exp_error_speaker_mean"] = expression_error(mean_seq, exp_true)
        return out

    def _sync(self, frames: list[np.ndarray], audio: np.ndarray) -> dict[str, float | None]:
        if self.syncnet is None:
            return {"lse_d": None, "lse_c": None, "av_offset": None}
        from gsmoothface.evaluation.syncnet import evaluate_sync

        try:
            scores = evaluate_sync(
                self.syncnet, np.concatenate(frames), audio, self.sample_rate, self.cfg.syncnet_vshift
            )
        except ValueError:  # clip shorter than the offset search: no score for it
            return {"lse_d": None, "lse_c": None, "av_offset": None}
        return {"lse_d": scores.lse_d, "lse_c": scores.lse_c, "av_offset": scores.offset}


def region_psnr(frames: np.ndarray, truth: np.ndarray, lm68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PSNR over the true landmarks' face box and over the band along the jaw contour
    (the regions of ``gsmoothface score``): ((n,), (n,)) dB; NaN where the landmarks are missing."""
    from gsmoothface.evaluation.score import capped_psnr, face_box, jaw_band_mask, jaw_band_width

    height, width = truth.shape[1:3]
    face = np.full(len(truth), np.nan)
    jaw = np.full(len(truth), np.nan)
    for i, lm in enumerate(lm68):
        if not np.isfinite(lm).all():
            continue
        x0, y0, x1, y1 = face_box(lm, height, width)
        face[i] = capped_psnr(frames[i, y0:y1, x0:x1], truth[i, y0:y1, x0:x1])
        band = jaw_band_mask(lm, height, width, jaw_band_width(lm))
        if band.any():
            jaw[i] = capped_psnr(frames[i][band], truth[i][band])
    return face, jaw


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation, or None where either series is constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return None
    return float(np.corrcoef(a, b)[0, 1])
