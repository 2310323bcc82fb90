"""Does A2EP lip-sync real speech? Each real video's own audio drives A2EP; the predicted mouth is
compared with the real speaker's mouth in the true frames.

For every video in ``--videos`` (default ``../shared/testdata/real``) the video is sliced and
fitted once (dlib landmarks, cached under ``generate.cache_dir`` like a ``generate`` reference),
A2EP predicts expressions from the clip's audio, and per video the table reports:

- ``r_jaw``: Pearson r of the predicted jaw-open coefficient with the fitted one;
- ``r_open``: Pearson r of the predicted inner-lip opening on the mesh (points 63 and 67 of the
  iBUG 68, over the eye distance) with dlib's inner-lip opening on the true frames;
- ``r_loud``: the loudness-envelope baseline, Pearson r of the loudness with dlib's opening;
- ``r_phones``: the phonetic front end's jaw articulation channel (the viseme model over the
  recognised phones, before A2EP) in the same place: what the phones alone say;
- ``closure``: lip-closure recall: of the speech frames whose true lips are closed, the share
  where the predicted lips are closed too (closed: opening under 20% of that video's 95th
  percentile opening, for truth and prediction alike).

With ``--synthetic`` (default ``data/clips``) it also reports stillness in silence on the held-out
synthetic clips: the mean absolute frame-to-frame change of the mouth coefficients (jaw, round,
stretch) over silent frames, predicted against the synthetic truth.

Run from the project root with the venv active: ``python bench/real_lipsync.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from gsmoothface.audio import AudioConfig, load_audio, open_frontend, to_frame_rate
from gsmoothface.audio.phonetic import ARTICULATION
from gsmoothface.config import load_section, read_params
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.face_model.synthetic import EXP_JAW_OPEN, EXP_LIP_ROUND, EXP_LIP_STRETCH
from gsmoothface.generate import GenerateConfig, load_predictor, prepare_reference
from gsmoothface.preparation import PreparationConfig
from gsmoothface.synth.mapping import loudness_envelope

UPPER_INNER, LOWER_INNER = 62, 66  # 0-based iBUG points 63 and 67: centre of the inner lips
MOUTH = [EXP_JAW_OPEN, EXP_LIP_ROUND, EXP_LIP_STRETCH]


def eye_distance(points: np.ndarray) -> np.ndarray:
    """(T, 68, D) -> (T,) distance between the two eye centres."""
    return np.linalg.norm(points[:, 36:42].mean(1) - points[:, 42:48].mean(1), axis=-1)


def inner_lip_opening(points: np.ndarray) -> np.ndarray:
    """(T, 68, D) -> (T,) inner-lip opening over the eye distance."""
    return np.linalg.norm(points[:, LOWER_INNER] - points[:, UPPER_INNER], axis=-1) / eye_distance(points)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-12))


def closure_recall(pred: np.ndarray, true: np.ndarray, speech: np.ndarray) -> float:
    """Share of speech frames with closed true lips where the predicted lips are closed too."""
    true_closed = (true < 0.2 * np.percentile(true, 95)) & speech
    pred_closed = pred < 0.2 * np.percentile(pred, 95)
    return float(pred_closed[true_closed].mean()) if true_closed.any() else float("nan")


def speech_frames(loudness: np.ndarray, radius: int = 12) -> np.ndarray:
    """Frames within ``radius`` frames of clearly voiced audio (inside an utterance)."""
    loud = loudness > 0.6
    kernel = np.ones(2 * radius + 1, bool)
    return np.convolve(loud, kernel, mode="same") > 0


def mesh_points(face, id_coeff: np.ndarray, exp: np.ndarray) -> np.ndarray:
    """Keypoints (T, 68, 3) of the face with one identity and per-frame expressions."""
    with torch.no_grad():
        ids = torch.from_numpy(np.repeat(id_coeff[None], len(exp), 0)).float()
        shape = face.compute_shape(ids, torch.from_numpy(exp).float())
    return shape[:, face.keypoints].numpy()


def real_row(
    video: Path, predict, face, phonetic, cfg: GenerateConfig, prep: PreparationConfig, speaker: str | None
) -> dict:
    ref = prepare_reference(video, cfg, prep)
    clip_dir = ref.video.parent
    fit = np.load(clip_dir.parent.parent / "3dmm" / f"{ref.name}.npz")
    valid = fit["valid"].astype(bool)
    audio = load_audio(clip_dir / "audio.wav", 16000)
    n = ref.n_frames
    exp = predict(audio, n, speaker)  # (T, 64)
    true_open = inner_lip_opening(fit["lm68"])
    pred_open = inner_lip_opening(mesh_points(face, ref.coeff[:, :80].mean(0), exp))
    loud = loudness_envelope(audio, n)
    phones_jaw = to_frame_rate(phonetic(audio), n)[:, ARTICULATION.start]
    speech = speech_frames(loud) & valid
    return {
        "video": video.stem[:28],
        "frames": int(valid.sum()),
        "r_jaw": pearson(exp[valid, EXP_JAW_OPEN], ref.coeff[valid, 80 + EXP_JAW_OPEN]),
        "r_open": pearson(pred_open[valid], true_open[valid]),
        "r_loud": pearson(loud[valid], true_open[valid]),
        "r_phones": pearson(phones_jaw[valid], true_open[valid]),
        "closure": closure_recall(pred_open, true_open, speech),
    }


def stillness(clips_dir: Path, predict, speaker_of: dict) -> dict:
    """Mean |frame-to-frame change| of the mouth coefficients in silence: prediction vs truth."""
    pred_steps, true_steps = [], []
    for clip in sorted(p for p in clips_dir.iterdir() if (p / "truth.npz").is_file()):
        meta = json.loads((clip / "meta.json").read_text())
        if meta.get("split") == "train":
            continue
        truth = np.load(clip / "truth.npz")["coeff"][:, 80:144]
        audio = load_audio(clip / "audio.wav", 16000)
        exp = predict(audio, len(truth), speaker_of.get(meta.get("speaker")))
        silent = loudness_envelope(audio, len(truth)) < 0.05
        silent = silent[1:] & silent[:-1]  # both frames of a step silent
        pred_steps.append(np.abs(np.diff(exp[:, MOUTH], axis=0))[silent])
        true_steps.append(np.abs(np.diff(truth[:, MOUTH], axis=0))[silent])
    pred, true = np.concatenate(pred_steps), np.concatenate(true_steps)
    return {"silent_steps": len(pred), "pred": float(pred.mean()), "truth": float(true.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=Path, default=Path("../shared/testdata/real"))
    parser.add_argument("--model", type=Path, default=Path("models/a2ep.pt"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--speaker", default=None, help="A2EP style (default: the mean style)")
    parser.add_argument("--synthetic", type=Path, default=Path("data/clips"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    raw = read_params(args.params)
    cfg = load_section(GenerateConfig, "generate", raw)
    predict, speakers = load_predictor(args.model, load_section(AudioConfig, "audio", raw))
    face = load_face_model(load_section(FaceModelConfig, "face_model", raw))
    videos = sorted(args.videos.glob("*.mp4"))
    prep = PreparationConfig.from_params(raw)
    phonetic = open_frontend(AudioConfig(frontend="phonetic"))
    rows = [real_row(v, predict, face, phonetic, cfg, prep, args.speaker) for v in videos]
    print(f"\nA2EP {args.model} on real videos driven by their own audio (Pearson r; recall)\n")
    print(f"| {'video':<28} | frames | r_jaw | r_open | r_loud | r_phones | closure |")
    print(f"|{'-' * 30}|--------|-------|--------|--------|----------|---------|")
    for r in rows:
        print(
            f"| {r['video']:<28} | {r['frames']:>6} | {r['r_jaw']:>5.2f} | {r['r_open']:>6.2f} | "
            f"{r['r_loud']:>6.2f} | {r['r_phones']:>8.2f} | {r['closure']:>7.2f} |"
        )
    if rows:
        opens = np.array([r["r_open"] for r in rows])
        above = sum(r["r_open"] > r["r_loud"] for r in rows)
        print(
            f"\nmedian r_open {np.median(opens):.2f}, min {opens.min():.2f}; above loudness on "
            f"{above} of {len(rows)}; median closure recall "
            f"{np.nanmedian([r['closure'] for r in rows]):.2f}"
        )
    if args.synthetic.is_dir():
        s = stillness(args.synthetic, predict, {s: s for s in speakers})
        print(
            f"\nstillness in silence (synthetic held-out clips, {s['silent_steps']} silent steps): "
            f"mean |d mouth coeff| predicted {s['pred']:.4f}, truth {s['truth']:.4f}, "
            f"ratio {s['pred'] / max(s['truth'], 1e-9):.2f}"
        )


if __name__ == "__main__":
    main()
