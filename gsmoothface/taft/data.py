"""TAFT training pairs from the packed MAFB arrays: (reference, blended, target) per frame.

As in GSmoothFace's TAFT data, the target is a true frame t, the blended image is MAFB of frame t
with its fitted coefficients, and the reference is a uniformly random other frame of the same
video. Batches are a pure function of (seed, step, rank), so an interrupted run resumes exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from gsmoothface.blend.store import BlendedClip
from gsmoothface.errors import InputError


def to_model(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.array(images, dtype=np.uint8)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def from_model(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8 (clamped, rounded)."""
    x = ((images.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


class TaftBatches(torch.utils.data.Dataset):
    """Training batches indexed by optimiser step.

    Parameters
    ----------
    clips: training clips (valid frames become targets; each clip needs at least 2 frames).
    batch_size: frames per optimiser step over all processes (a multiple of ``world``).
    seed: sampling seed; rank, world: this process's place in a DDP group (it loads every
        ``world``-th frame of the step's batch).
    patch: side of the training crops (0 = whole frames). A crop is centred on a random pixel of
        the blending mask (the face, where there is something to learn; the same window in the
        reference), which cuts the cost of a step by (S / patch)^2 on a CPU.
    """

    def __init__(
        self,
        clips: list[BlendedClip],
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        patch: int = 0,
    ) -> None:
        self.clips = [c for c in clips if c.n_frames >= 2]
        if not self.clips:
            raise InputError("no training clip with at least 2 frames (check taft.train_split)")
        # (N, 2) rows (clip index, frame index) of the valid target frames
        self.targets = np.concatenate(
            [np.stack([np.full(v.sum(), i), np.flatnonzero(v)], 1) for i, v in self._valid()]
        )
        if len(self.targets) == 0:
            raise InputError("no valid training frame in the blended clips")
        if batch_size % world:
            raise InputError(f"taft.batch_size={batch_size} does not divide among {world} processes")
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world = world
        size = self.clips[0].size
        self.patch = patch if 0 < patch < size else 0

    def _valid(self) -> list[tuple[int, np.ndarray]]:
        return [(i, np.asarray(c.valid, dtype=bool)) for i, c in enumerate(self.clips)]

    def __len__(self) -> int:  # steps are unbounded; the trainer picks the range
        return 2**62

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        # The global batch is drawn alike on every rank (with the seed a single process has always
        # used), and each rank loads its share: N processes train on what one process would.
        rng = np.random.default_rng([self.seed, step, 0, 1])
        rows = self.targets[rng.integers(0, len(self.targets), self.batch_size)]
        ref, blended, target = [], [], []
        for k, (clip_index, t) in enumerate(rows):
            clip = self.clips[clip_index]
            r = int(rng.integers(0, clip.n_frames - 1))
            r += r >= t  # uniform over the other frames of the video
            window = self._window(clip, int(t), rng)
            if k % self.world == self.rank:
                ref.append(clip.frame[r][window])
                blended.append(clip.blended[t][window])
                target.append(clip.frame[t][window])
        return {
            "reference": to_model(np.stack(ref)),
            "blended": to_model(np.stack(blended)),
            "target": to_model(np.stack(target)),
        }

    def _window(self, clip: BlendedClip, t: int, rng: np.random.Generator) -> tuple[slice, slice]:
        """Rows and columns of the training crop of frame ``t`` (everything without patches)."""
        if not self.patch:
            return slice(None), slice(None)
        ys, xs = np.nonzero(clip.mask[t] > 127)
        if len(ys):
            k = int(rng.integers(0, len(ys)))
            cy, cx = int(ys[k]), int(xs[k])
        else:
            cy, cx = (int(v) for v in rng.integers(0, clip.size, 2))
        half, limit = self.patch // 2, clip.size - self.patch
        y0, x0 = min(max(cy - half, 0), limit), min(max(cx - half, 0), limit)
        return slice(y0, y0 + self.patch), slice(x0, x0 + self.patch)


def eval_batch(clips: list[BlendedClip], n_frames: int) -> dict[str, torch.Tensor]:
    """A fixed held-out batch: ``n_frames`` valid frames evenly spaced over ``clips``, each with its
    clip's first frame as the reference (as at inference).

    Returns
    -------
    dict of (n, 3, S, S) tensors in [-1, 1]: reference, blended, target; and mask (n, 1, S, S) bool,
    the MAFB region (the face, where the frames differ).
    """
    rows = [(c, t) for c in clips for t in np.flatnonzero(np.asarray(c.valid, dtype=bool)) if t > 0]
    if not rows:
        raise InputError("no held-out frame to evaluate (check taft.eval_split)")
    pick = np.linspace(0, len(rows) - 1, min(n_frames, len(rows))).round().astype(int)
    chosen = [rows[i] for i in pick]
    return {
        "reference": to_model(np.stack([c.frame[0] for c, _ in chosen])),
        "blended": to_model(np.stack([c.blended[t] for c, t in chosen])),
        "target": to_model(np.stack([c.frame[t] for c, t in chosen])),
        "mask": torch.from_numpy(np.stack([c.mask[t] for c, t in chosen]) > 127)[:, None],
    }
