"""Geometric metrics: mouth landmark distance (LMD), lip vertex error (LVE), expression error.

LMD follows the ATVG protocol (Chen et al. 2019) as used by GSmoothFace's table: the mean L2
distance between the mouth landmarks (iBUG-68 points 48-67) of generated and true frames, in pixels
of the evaluated frames; ``center=True`` gives the RAD-NeRF/ER-NeRF variant that mean-centres each
mouth first (insensitive to a global shift). LVE follows FaceFormer (Fan et al. 2022): per frame
the largest L2 error over the lip vertices, averaged over frames.
"""

from __future__ import annotations

import numpy as np

MOUTH = slice(48, 68)  # iBUG-68 outer (48-59) and inner (60-67) lip points
INNER_LIP_UPPER = 62  # iBUG-68 inner upper-lip midpoint
INNER_LIP_LOWER = 66  # iBUG-68 inner lower-lip midpoint


def landmark_distance(
    pred: np.ndarray, true: np.ndarray, points: slice = MOUTH, center: bool = False
) -> np.ndarray:
    """Per-frame mean L2 distance between corresponding landmarks.

    Parameters
    ----------
    pred, true: (T,68,2) landmarks in pixels of the same frames.
    points: which landmarks (default: the mouth, 48-67).
    center: subtract each frame's mean of the selected points first.

    Returns
    -------
    (T,) float64 distances in px.
    """
    if pred.shape != true.shape or pred.shape[-2:] != (68, 2):
        raise ValueError(f"expected two (T,68,2) arrays, got {pred.shape} and {true.shape}")
    p = np.asarray(pred, dtype=np.float64)[:, points]  # (T,P,2)
    t = np.asarray(true, dtype=np.float64)[:, points]
    if center:
        p = p - p.mean(axis=1, keepdims=True)
        t = t - t.mean(axis=1, keepdims=True)
    return np.linalg.norm(p - t, axis=-1).mean(axis=1)


def lmd(pred: np.ndarray, true: np.ndarray, points: slice = MOUTH, center: bool = False) -> float:
    """LMD: :func:`landmark_distance` averaged over frames, in px."""
    return float(landmark_distance(pred, true, points, center).mean())


def lip_vertex_error(pred: np.ndarray, true: np.ndarray) -> float:
    """FaceFormer's lip vertex error: mean over frames of the max over lip vertices of the L2 error.

    Parameters
    ----------
    pred, true: (T,L,3) lip-vertex positions (or expression offsets: identity cancels), in face
        model units.
    """
    if pred.shape != true.shape or pred.shape[-1] != 3:
        raise ValueError(f"expected two (T,L,3) arrays, got {pred.shape} and {true.shape}")
    err = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(true, np.float64), axis=-1)  # (T,L)
    return float(err.max(axis=1).mean())


def expression_error(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over frames of the L2 distance between expression coefficient vectors (T,64)."""
    if pred.shape != true.shape:
        raise ValueError(f"shape mismatch: {pred.shape} vs {true.shape}")
    return float(np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(true, np.float64), axis=-1).mean())


def expression_vertices(exp_base: np.ndarray, exp: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Expression offsets of selected vertices, ``B_exp . beta`` restricted to ``vertices``.

    Parameters
    ----------
    exp_base: (3N,64) expression basis, rows x,y,z per vertex (Deep3DFace layout).
    exp: (T,64) expression coefficients.
    vertices: (L,) int vertex indices.

    Returns
    -------
    (T,L,3) offsets in face model units.
    """
    basis = np.asarray(exp_base, dtype=np.float64).reshape(-1, 3, exp_base.shape[-1])[vertices]  # (L,3,64)
    return np.einsum("lck,tk->tlc", basis, np.asarray(exp, dtype=np.float64))


def jaw_open(offsets: np.ndarray, mean_points: np.ndarray) -> np.ndarray:
    """Mouth opening per frame: distance between the inner-lip midpoints.

    Parameters
    ----------
    offsets: (T,2,3) expression offsets of the face model's keypoint vertices for landmarks 62
        and 66 (upper and lower inner lip), e.g. from :func:`expression_vertices`.
    mean_points: (2,3) the same two vertices of the neutral (mean) shape.

    Returns
    -------
    (T,) float64 opening in face model units.
    """
    points = np.asarray(mean_points, np.float64)[None] + offsets  # (T,2,3)
    return np.linalg.norm(points[:, 1] - points[:, 0], axis=-1)
