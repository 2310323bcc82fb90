"""A tiny synthetic blended-clip set for the TAFT tests (no face model, no video decoding).

Each clip: a static textured background and a moving face disk whose true content has stripes (the
detail a render lacks); the blended image shows the disk flat, as an untextured render would.
"""

from pathlib import Path

import numpy as np

from gsmoothface.blend.store import write_blended_clip


def make_clips(root: Path, n_clips: int = 3, frames: int = 24, size: int = 32, seed: int = 0) -> None:
    """Write ``n_clips`` clips under ``root``; the last one has split ``val``, the others ``train``."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size]
    for k in range(n_clips):
        bg = rng.integers(40, 200, (size, size, 3)).astype(np.float64)
        bg = (bg + np.roll(bg, 1, 0) + np.roll(bg, 1, 1)) / 3
        colour = rng.integers(120, 220, 3)
        frame, blended, mask = [], [], []
        for t in range(frames):
            cx = size / 2 + size / 8 * np.sin(t / 3 + k)
            cy = size / 2 + size / 10 * np.cos(t / 4)
            r = size / 4
            disk = ((xs - cx) ** 2 + (ys - cy) ** 2) < r**2
            stripes = 40 * np.sin((ys - cy) * 1.5) * (np.abs(xs - cx) < r * 0.6)
            img, flat = bg.copy(), bg.copy()
            img[disk] = colour + stripes[disk][:, None]
            flat[disk] = colour
            frame.append(img.clip(0, 255).round().astype(np.uint8))
            blended.append(flat.clip(0, 255).round().astype(np.uint8))
            mask.append(disk.astype(np.uint8) * 255)
        split = "val" if k == n_clips - 1 else "train"
        chunks = [(np.stack(blended), np.stack(mask), np.stack(frame))]
        meta = {"clip": f"clip{k}", "split": split}
        write_blended_clip(root / f"clip{k}", chunks, frames, size, np.ones(frames, bool), meta)
