"""Write one synthetic video: the mp4 with its speech, the ground truth and the landmark sidecar.

Files for video ``<name>`` in the output folder (the data contract of ``data/raw/demo``):

- ``<name>.mp4``: H.264 (yuv420p, ``crf``) 25 fps, S x S, AAC 16 kHz mono speech;
- ``<name>.truth.npz``: ``coeff (T, 257) f32`` (the frame camera: Deep3DFace's camera scaled to the
  S x S frame, focal 1015 S / 224, centre S / 2), ``trans_params (T, 5) f64`` (POS alignment of the
  noise-free landmarks, as a fitter with perfect landmarks computes it), ``lm68 (T, 68, 2) f32``
  noise-free, y down, frame pixels (pixel centre = integer coordinate, the renderer's convention),
  ``phones (K,) str`` (IPA; "" = pause) and ``phone_spans (K, 2) f64`` (seconds): what was said;
- ``<name>.landmarks.npz``: ``lm68 (T, 68, 2) f32`` with detector-like noise and ``valid (T,) bool``
  (missed frames are NaN), the sidecar the ``sidecar`` landmark source reads.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from gsmoothface.atomic import write_npz
from gsmoothface.landmarks.align import estimate_trans_params_batch
from gsmoothface.media import VideoWriter, write_wav
from gsmoothface.synth.compose import compose_frames
from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.face_render import FaceLayer, frame_landmarks
from gsmoothface.synth.motion import smooth_noise
from gsmoothface.synth.utterance import Utterance

JAW_CONTOUR_NOISE = 1.5  # detectors are less sure along the jaw than at eyes and mouth


def detector_noise(
    rng: np.random.Generator, lm68: np.ndarray, cfg: SynthConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt true landmarks like a 68-point detector: white jitter, slow per-point drift, misses.

    Parameters
    ----------
    lm68: (T, 68, 2) true landmarks (frame pixels).
    cfg: ``landmark_noise_px`` (white, std per coordinate), ``landmark_drift_px`` (slow, std per
        coordinate), both x1.5 on the jaw contour (points 0-16), and ``landmark_miss_rate``.

    Returns
    -------
    noisy (T, 68, 2) float32 (NaN on missed frames) and valid (T,) bool.
    """
    n = len(lm68)
    scale = np.where(np.arange(68) < 17, JAW_CONTOUR_NOISE, 1.0)[None, :, None]
    jitter = cfg.landmark_noise_px * rng.standard_normal(lm68.shape)
    drift = np.stack([smooth_noise(rng, n, 0.5) for _ in range(68 * 2)], axis=1).reshape(n, 68, 2)
    noisy = lm68 + scale * (jitter + cfg.landmark_drift_px * drift)
    valid = rng.random(n) >= cfg.landmark_miss_rate
    noisy[~valid] = np.nan
    return noisy.astype(np.float32), valid


def write_video(
    out_dir: Path,
    utt: Utterance,
    face: FaceLayer,
    cfg: SynthConfig,
    rng: np.random.Generator,
    sample_rate: int = 16000,
    fps: int = 25,
) -> dict[str, np.ndarray]:
    """Render, composite and encode one utterance; write its truth and landmark sidecar.

    Returns
    -------
    the truth arrays (``coeff``, ``trans_params``, ``lm68``).
    """
    speaker = utt.speaker
    coeff = torch.from_numpy(utt.coeff)
    with torch.no_grad():
        lm68 = frame_landmarks(face.model, coeff, cfg.size).numpy().astype(np.float32)  # (T, 68, 2)
    window = face.window(coeff)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        write_wav(wav, utt.audio, sample_rate)
        with VideoWriter(out_dir / f"{utt.name}.mp4", cfg.size, cfg.size, fps, cfg.crf, wav) as video:
            for start in range(0, utt.n_frames, cfg.batch_frames):
                stop = min(start + cfg.batch_frames, utt.n_frames)
                rgb, mask = face.render(
                    coeff[start:stop], window, speaker.detail, cfg.skin_detail, speaker.specular
                )
                video.write(
                    compose_frames(
                        speaker,
                        rgb,
                        mask,
                        window,
                        lm68[start:stop],
                        utt.gaze[start:stop],
                        utt.exposure[start:stop],
                    )
                )
    truth = {
        "coeff": utt.coeff,
        "trans_params": estimate_trans_params_batch(lm68, cfg.size, cfg.size).astype(np.float64),
        "lm68": lm68,
        "phones": np.array([p.ipa for p in utt.phones]),
        "phone_spans": np.array([(p.start, p.end) for p in utt.phones], np.float64).reshape(-1, 2),
    }
    write_npz(out_dir / f"{utt.name}.truth.npz", **truth)
    noisy, valid = detector_noise(rng, lm68, cfg)
    write_npz(out_dir / f"{utt.name}.landmarks.npz", lm68=noisy, valid=valid)
    return truth
