"""The mouth-region vertex mask (GSmoothFace's ``big_mouth_mask``, weighted 1.8 in the A2EP loss).

GSmoothFace does not release ``big_mouth_mask.npy``; its use (``below_face_mask = ~mask``) shows a
generous mouth/jaw region. We derive it from the 68 keypoints of the mean shape so that the real
BFM09 model and the synthetic model get the same rule:

    a vertex is in the mask when, in the frontal (x, y) plane of the re-centred mean shape,
    x lies within the mouth corners (keypoints 48 and 54) widened by a margin on each side, and
    y lies between the chin (keypoint 8) and the highest mouth keypoint (48-67) raised by the margin,

with margin = ``MARGIN_FRACTION`` x the mouth width (distance between the mouth corners).
"""

from __future__ import annotations

import numpy as np

MARGIN_FRACTION = 0.25  # margin around the mouth, as a fraction of the mouth-corner distance
MOUTH_KEYPOINTS = slice(48, 68)  # iBUG-68 points 49-68 (0-based 48-67)
LEFT_CORNER, RIGHT_CORNER, CHIN = 48, 54, 8  # 0-based iBUG indices


def mouth_mask_from_keypoints(mean_shape: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Boolean (N,) mouth/jaw mask of a mean shape (N, 3) with 0-based iBUG keypoints (68,)."""
    kp = mean_shape[np.asarray(keypoints, dtype=np.int64)]  # (68, 3)
    mouth = kp[MOUTH_KEYPOINTS]
    width = float(np.linalg.norm(kp[RIGHT_CORNER, :2] - kp[LEFT_CORNER, :2]))
    margin = MARGIN_FRACTION * width
    x_lo = min(kp[LEFT_CORNER, 0], kp[RIGHT_CORNER, 0]) - margin
    x_hi = max(kp[LEFT_CORNER, 0], kp[RIGHT_CORNER, 0]) + margin
    y_lo = kp[CHIN, 1]
    y_hi = mouth[:, 1].max() + margin
    x, y = mean_shape[:, 0], mean_shape[:, 1]
    return (x >= x_lo) & (x <= x_hi) & (y >= y_lo) & (y <= y_hi)
