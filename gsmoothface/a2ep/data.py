"""A2EP training data: per-clip audio features and expression targets, cut into windows.

Each clip contributes its cached 50 Hz audio features (``data/audio/<clip>.npy``) resampled to its
frame count, and the expression part of its 3DMM coefficients, ``coeff[:, 80:144]`` of
``data/3dmm/<clip>.npz`` (or of the synthetic demo's ``truth.npz``). The clip's ``meta.json``
gives its speaker and split: ``train`` clips are trained on, ``val`` clips (later time ranges of
training speakers) and ``test`` clips (held-out speakers) are only evaluated.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from gsmoothface.audio.features import to_frame_rate
from gsmoothface.errors import InputError

EXP_SLICE = slice(80, 144)  # expression coefficients inside the 257-d vector
SPLITS = ("train", "val", "test")


@dataclasses.dataclass
class ClipData:
    """One clip's A2EP inputs and targets, both at the video frame rate."""

    name: str
    speaker: str
    split: str
    features: np.ndarray  # (T, C) float32 audio features at fps
    exp: np.ndarray  # (T, 64) float32 expression coefficients


def _read_targets(path: Path, name: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: expression targets of clip '{name}' not found (run gsmoothface fit-3dmm)")
    with np.load(path) as data:
        if "coeff" not in data:
            raise InputError(f"{path}: no 'coeff' array")
        coeff = data["coeff"]
    if coeff.ndim != 2 or coeff.shape[1] != 257:
        raise InputError(f"{path}: coeff has shape {coeff.shape}, expected (T, 257)")
    exp = coeff[:, EXP_SLICE].astype(np.float32)  # (T, 64)
    if not np.isfinite(exp).all():
        raise InputError(f"{path}: expression coefficients contain NaN or infinity")
    return exp


def load_clip(
    clip_dir: Path,
    features_dir: Path,
    fits_dir: Path,
    targets: Literal["fit", "truth"] = "fit",
    fps: int = 25,
    sample_rate: int = 16000,
) -> ClipData:
    """Load one clip's features, targets and metadata (see the module docstring for the paths)."""
    name = clip_dir.name
    meta_path = clip_dir / "meta.json"
    if not meta_path.is_file():
        raise InputError(f"{meta_path}: clip metadata not found")
    meta = json.loads(meta_path.read_text())
    split = meta.get("split", "train")
    if split not in SPLITS:
        raise InputError(f"{meta_path}: split '{split}' is not one of {', '.join(SPLITS)}")
    feat_path = features_dir / f"{name}.npy"
    if not feat_path.is_file():
        raise InputError(
            f"{feat_path}: audio features of clip '{name}' not found (run gsmoothface audio-features)"
        )
    features = np.load(feat_path)  # (n50, C)
    target_path = clip_dir / "truth.npz" if targets == "truth" else fits_dir / f"{name}.npz"
    exp = _read_targets(target_path, name)
    n_frames = exp.shape[0]
    if "frames" in meta and int(meta["frames"]) != n_frames:
        raise InputError(f"{target_path}: {n_frames} frames but {meta_path} says {meta['frames']}")
    if features.ndim != 2 or features.shape[0] < 2:
        raise InputError(f"{feat_path}: expected (n, C) features with n >= 2, got {features.shape}")
    return ClipData(
        name=name,
        speaker=str(meta.get("speaker", name)),
        split=split,
        features=to_frame_rate(features, n_frames, fps, sample_rate),
        exp=exp,
    )


def load_clips(
    clips_dir: Path,
    features_dir: Path,
    fits_dir: Path,
    targets: Literal["fit", "truth"] = "fit",
    fps: int = 25,
    sample_rate: int = 16000,
) -> list[ClipData]:
    """Every clip under ``clips_dir`` (a folder with ``meta.json`` per clip), sorted by name."""
    dirs = (
        sorted(p for p in Path(clips_dir).iterdir() if (p / "meta.json").is_file())
        if clips_dir.is_dir()
        else []
    )
    if not dirs:
        raise InputError(f"{clips_dir}: no clips (folders with meta.json) found (run gsmoothface slice)")
    return [load_clip(d, features_dir, fits_dir, targets, fps, sample_rate) for d in dirs]


def load_speech(path: Path, fps: int = 25, sample_rate: int = 16000) -> list[ClipData]:
    """The audio-only speech corpus' items (``audio-features --corpus`` output) as training clips.

    Each item is one utterance, clean or augmented, with the utterance's true expressions.
    """
    if not path.is_file():
        raise InputError(
            f"{path}: speech-corpus features not found (run gsmoothface audio-features --corpus)"
        )
    with np.load(path) as data:
        feats, f_off = data["features"], data["feature_offsets"]
        exp, e_off, speaker = data["exp"], data["frame_offsets"], data["speaker"]
        utterance, copy = data["utterance"], data["copy"]
    clips = []
    for m, (u, k) in enumerate(zip(utterance, copy, strict=True)):
        target = exp[e_off[u] : e_off[u + 1]]  # (T, 64)
        clips.append(
            ClipData(
                name=f"speech{u:04d}_{k}",
                speaker=str(speaker[u]),
                split="train",
                features=to_frame_rate(feats[f_off[m] : f_off[m + 1]], len(target), fps, sample_rate),
                exp=target.astype(np.float32),
            )
        )
    return clips


def training_speakers(clips: list[ClipData]) -> list[str]:
    """Sorted speakers of the training clips: the one-hot order of the style vector."""
    speakers = sorted({c.speaker for c in clips if c.split == "train"})
    if not speakers:
        raise InputError("no clip has split 'train' in its meta.json; A2EP has nothing to train on")
    return speakers


class WindowSampler:
    """Fixed-length training windows, reshuffled every epoch from ``(seed, epoch)`` alone.

    Each epoch takes ``T // window`` non-overlapping windows per clip (as GSmoothFace does) at a
    random offset, so the tail a clip leaves over moves between epochs. Batch ``k`` of epoch ``e``
    depends only on ``(seed, e, k)``, which makes a resumed run see the same data as an
    uninterrupted one.
    """

    def __init__(self, clips: list[ClipData], window: int, batch_size: int, seed: int) -> None:
        self.clips = clips
        self.window = window
        self.seed = seed
        self.counts = [c.exp.shape[0] // window for c in clips]
        self.n_windows = sum(self.counts)
        if self.n_windows == 0:
            longest = max(c.exp.shape[0] for c in clips)
            raise InputError(f"a2ep.window={window} frames exceeds every training clip (longest {longest})")
        self.batch_size = min(batch_size, self.n_windows)
        self.steps_per_epoch = self.n_windows // self.batch_size

    def epoch(self, epoch: int) -> list[tuple[int, int]]:
        """Shuffled ``(clip index, start frame)`` windows of one epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        windows = []
        for i, (clip, count) in enumerate(zip(self.clips, self.counts, strict=True)):
            if count:
                offset = int(rng.integers(0, clip.exp.shape[0] - count * self.window + 1))
                windows += [(i, offset + k * self.window) for k in range(count)]
        order = rng.permutation(len(windows))
        return [windows[j] for j in order]

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The windows of global optimiser step ``step``."""
        epoch, k = divmod(step, self.steps_per_epoch)
        return self.epoch(epoch)[k * self.batch_size : (k + 1) * self.batch_size]


def collate(
    clips: list[ClipData], windows: list[tuple[int, int]], window: int, speakers: list[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack windows into (features (B, W, C), one-hot speaker (B, S), expressions (B, W, 64))."""
    feats = np.stack([clips[i].features[s : s + window] for i, s in windows])
    exp = np.stack([clips[i].exp[s : s + window] for i, s in windows])
    index = [speakers.index(clips[i].speaker) for i, _ in windows]
    one_hot = np.eye(len(speakers), dtype=np.float32)[index]
    return torch.from_numpy(feats), torch.from_numpy(one_hot), torch.from_numpy(exp)
