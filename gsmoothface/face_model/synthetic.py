"""A synthetic morphable face model in the BFM09 front-model format (the embedded default).

Real BFM09 assets are licence-gated, so the default pipeline runs on this generated model. It has
exactly the keys and index semantics of Deep3DFace's ``BFM_model_front.mat`` (1-based indices,
``point_buf`` padded with F+1, iBUG-ordered keypoints, ``tri_mask2`` local to ``frontmask2_idx``)
and loads through the same loader.

Geometry, in decimetres with the BFM09 frame (y up, nose toward +z): a regular grid over an oval
face (alternating diagonals, so vertex degrees are 4 and 8 as in BFM09), lifted by a height field
with eye sockets, brows, nose, cheeks, lips and chin. The mouth line is a slit: the vertices of the
row between the mouth corners are duplicated, the upper copy belongs to the upper lip's triangles
and the lower copy to the lower lip's, so opening the jaw opens a hole the renderer shows as the
mouth. At rest (zero coefficients) the lips touch.

Expression basis (64 columns): the leading six are hand-made motions (constants below), scaled so
a unit coefficient is about one standard deviation of that motion in speech; the other 58 are
small smooth random fields. Identity (80) and texture (80) bases are smooth random fields with
decaying scales, led by global proportions and skin tone.
"""

from __future__ import annotations

import numpy as np

from gsmoothface.errors import InputError
from gsmoothface.face_model.bfm_io import write_model

__all__ = ["generate_synthetic_model", "write_model"]

# Leading expression components (columns of exBase / indices into the 64 exp coefficients).
EXP_JAW_OPEN = 0  # jaw drops, lips separate: 1.0 -> ~4 mm lip gap at the centre; speech drives ~[0, 3]
EXP_LIP_ROUND = 1  # lips protrude and the corners move inward ("oo")
EXP_LIP_STRETCH = 2  # corners move outward, lips flatten ("ee")
EXP_SMILE = 3  # corners move up and out, cheeks rise
EXP_BLINK = 4  # upper eyelids move down; BLINK_CLOSED closes the eyes
EXP_BROW_RAISE = 5  # brows and forehead move up
N_NAMED_EXP = 6
BLINK_CLOSED = 2.0  # blink coefficient at which the upper lids meet the lower lids

N_ID, N_EXP, N_TEX = 80, 64, 80
POINT_BUF_WIDTH = 8
SPACING_RANGE = (0.01, 0.05)  # dm; finer grids are slow, coarser ones merge eye keypoints

# Face outline (ellipse, dm) and feature positions of the design frame.
FACE_AXES = (0.85, 1.0)  # half-width, half-height of the oval face outline
MOUTH_Y = -0.38  # height of the mouth line (the slit)
MOUTH_HALF_WIDTH = 0.25  # mouth corners at x = +-0.25
EYE_CENTRE = (0.31, 0.29)  # |x|, y of the eye centres
EYE_HALF_WIDTH = 0.11  # eye corners at centre +- this
EYE_OPEN_HEIGHT = 0.04  # upper-lid height above the centre line; the lower lid sits at half of it below

# A plausible iBUG-68 layout of the mean face in the design frame (x, y in dm; image-left first).
# The five alignment points (eye centres, nose tip, mouth corners) match Deep3DFace's standard lm3D.
IBUG68_LAYOUT = np.array(
    [(0.74 * np.cos(t), 0.25 + 1.2 * np.sin(t)) for t in np.linspace(np.pi, 2 * np.pi, 17)]  # jaw 1-17
    + [(-0.58, 0.44), (-0.47, 0.51), (-0.35, 0.54), (-0.23, 0.53), (-0.11, 0.50)]  # brow 18-22
    + [(0.11, 0.50), (0.23, 0.53), (0.35, 0.54), (0.47, 0.51), (0.58, 0.44)]  # brow 23-27
    + [(0.0, 0.30), (0.0, 0.18), (0.0, 0.06), (0.0, -0.05)]  # nose bridge 28-31
    + [(-0.12, -0.15), (-0.06, -0.17), (0.0, -0.18), (0.06, -0.17), (0.12, -0.15)]  # nostrils 32-36
    + [(-0.42, 0.29), (-0.35, 0.325), (-0.26, 0.325), (-0.20, 0.29), (-0.26, 0.27), (-0.35, 0.27)]  # 37-42
    + [(0.20, 0.29), (0.26, 0.325), (0.35, 0.325), (0.42, 0.29), (0.35, 0.27), (0.26, 0.27)]  # 43-48
    + [(-0.25, -0.38), (-0.16, -0.34), (-0.06, -0.32), (0.0, -0.33), (0.06, -0.32), (0.16, -0.34)]  # 49-54
    + [(0.25, -0.38), (0.16, -0.44), (0.07, -0.47), (0.0, -0.475), (-0.07, -0.47), (-0.16, -0.44)]  # 55-60
    + [(-0.21, -0.38), (-0.07, -0.37), (0.0, -0.37), (0.07, -0.37), (0.21, -0.38)]  # inner upper 61-65
    + [(0.07, -0.39), (0.0, -0.39), (-0.07, -0.39)]  # inner lower 66-68
)
# 0-based keypoints on the upper lip (they must not sit on a lower-lip copy) and on the lower lip.
UPPER_LIP_KEYPOINTS = (*range(49, 54), *range(60, 65))
LOWER_LIP_KEYPOINTS = (*range(55, 60), *range(65, 68))


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-(((x - cx) / sx) ** 2) - ((y - cy) / sy) ** 2)


def _grid_mesh(spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Oval grid with a mouth slit: xy (N, 2), 0-based CCW triangles (F, 3), lip side (N,) in {-1, 0, 1}."""
    a, b = FACE_AXES
    n_half = int(np.ceil(a / spacing)) + 1
    xs = np.arange(-n_half, n_half + 1) * spacing
    k_lo, k_hi = int(np.floor((-b - MOUTH_Y) / spacing)) - 1, int(np.ceil((b - MOUTH_Y) / spacing)) + 1
    ys = MOUTH_Y + np.arange(k_lo, k_hi + 1) * spacing  # rows bottom to top; row -k_lo is the mouth line
    mouth_row = -k_lo
    gx, gy = np.meshgrid(xs, ys)  # (rows, cols)
    inside = (gx / a) ** 2 + (gy / b) ** 2 <= 1.0
    vid = np.where(inside, np.cumsum(inside).reshape(inside.shape) - 1, -1)
    n_grid = int(inside.sum())
    slit = inside[mouth_row] & (np.abs(xs) < MOUTH_HALF_WIDTH - 1e-9)
    lower_row = vid[mouth_row].copy()
    lower_row[slit] = n_grid + np.arange(int(slit.sum()))
    top = vid[1:].copy()  # top corners of the quads of each band (band r spans rows r and r+1)
    top[mouth_row - 1] = lower_row  # the band below the mouth line uses the lower-lip copies
    v00, v10, v01, v11 = vid[:-1, :-1], vid[:-1, 1:], top[:, :-1], top[:, 1:]
    quad_ok = (v00 >= 0) & (v10 >= 0) & (v01 >= 0) & (v11 >= 0)
    even = ((np.arange(len(ys) - 1)[:, None] + np.arange(len(xs) - 1)[None, :]) % 2 == 0) & quad_ok
    odd = ~even & quad_ok
    tri = np.concatenate(
        [
            np.stack([v00[even], v10[even], v11[even]], 1),
            np.stack([v00[even], v11[even], v01[even]], 1),
            np.stack([v00[odd], v10[odd], v01[odd]], 1),
            np.stack([v10[odd], v11[odd], v01[odd]], 1),
        ]
    )
    xy = np.concatenate(
        [
            np.stack([gx[inside], gy[inside]], 1),
            np.stack([xs[slit], np.full(int(slit.sum()), ys[mouth_row])], 1),
        ]
    )
    side = np.sign(np.round((xy[:, 1] - MOUTH_Y) / spacing)).astype(np.int64)
    side[vid[mouth_row][slit]] = 1
    side[n_grid:] = -1
    used = np.zeros(len(xy), bool)
    used[tri.ravel()] = True
    remap = np.cumsum(used) - 1
    return xy[used], remap[tri], side[used]


def _height(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Depth z (dm) of the mean face over the design frame: a cap with facial features."""
    ex, ey = EYE_CENTRE
    cap = 1.0 * np.sqrt(np.clip(1.0 - (x / 0.9) ** 2 - (y / 1.15) ** 2, 0.0, None))
    # Nose: a ridge widening toward the tip at y = -0.05, falling off quickly below it.
    ridge = np.where(y >= -0.05, _smoothstep((0.34 - y) / 0.39) ** 1.3, np.exp(-(((y + 0.05) / 0.07) ** 2)))
    width = 0.04 + 0.05 * _smoothstep((0.34 - y) / 0.39)
    nose = 0.30 * ridge * np.exp(-((x / width) ** 2)) + 0.05 * (
        _gauss(x, y, -0.1, -0.12, 0.05, 0.04) + _gauss(x, y, 0.1, -0.12, 0.05, 0.04)
    )
    eyes = sum(
        -0.07 * _gauss(x, y, s * ex, ey, 0.15, 0.1) + 0.03 * _gauss(x, y, s * ex, ey, 0.07, 0.05)
        for s in (-1, 1)
    )
    brows = 0.04 * np.exp(-(((y - 0.47) / 0.08) ** 2) - ((np.abs(x) - 0.33) / 0.25) ** 2)
    cheeks = 0.04 * (_gauss(x, y, -0.4, -0.15, 0.15, 0.15) + _gauss(x, y, 0.4, -0.15, 0.15, 0.15))
    lips = 0.05 * (_gauss(x, y, 0, MOUTH_Y + 0.04, 0.22, 0.05) + _gauss(x, y, 0, MOUTH_Y - 0.05, 0.2, 0.05))
    chin = 0.05 * _gauss(x, y, 0, -0.8, 0.15, 0.1)
    return cap + nose + eyes + brows + cheeks + lips + chin


def _eye_centre_x(x: np.ndarray) -> np.ndarray:
    """x of the eye centre on the same side as x."""
    return np.where(x >= 0.0, EYE_CENTRE[0], -EYE_CENTRE[0])


def _eye_opening(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper- and lower-lid heights over x and the eye-centre x of the nearer eye."""
    cx = _eye_centre_x(x)
    profile = np.clip(1.0 - ((x - cx) / EYE_HALF_WIDTH) ** 2, 0.0, None)
    top = EYE_CENTRE[1] + EYE_OPEN_HEIGHT * profile
    bottom = EYE_CENTRE[1] - 0.5 * EYE_OPEN_HEIGHT * profile
    return top, bottom, cx


def _named_expressions(x: np.ndarray, y: np.ndarray, side: np.ndarray) -> np.ndarray:
    """The six hand-made expression motions, displacements (6, N, 3) in dm per unit coefficient."""
    out = np.zeros((N_NAMED_EXP, len(x), 3))
    dy_mouth = y - MOUTH_Y
    # Jaw open: the lower face drops and moves back a little (rotation about a pivot behind the face);
    # the lips part, the lower lip more than the upper, the gap vanishing at the corners.
    drop = 0.03 * np.exp(-((x / 0.45) ** 2)) * _smoothstep((MOUTH_Y + 0.02 - y) / 0.35)
    gap = 0.04 * np.clip(1.0 - (x / MOUTH_HALF_WIDTH) ** 2, 0.0, None)
    part = np.where(side < 0, -0.75 * gap * np.exp(-((dy_mouth / 0.10) ** 2)), 0.0)
    part += np.where(side > 0, 0.25 * gap * np.exp(-((dy_mouth / 0.06) ** 2)), 0.0)
    out[EXP_JAW_OPEN, :, 1] = part - drop
    out[EXP_JAW_OPEN, :, 2] = -0.35 * drop
    lip = np.exp(-((x / 0.28) ** 2) - (dy_mouth / 0.11) ** 2)
    out[EXP_LIP_ROUND, :, 0] = -0.16 * x * lip
    out[EXP_LIP_ROUND, :, 2] = 0.025 * lip
    out[EXP_LIP_STRETCH, :, 0] = 0.12 * x * lip
    out[EXP_LIP_STRETCH, :, 2] = -0.008 * lip
    corner = np.exp(-(((np.abs(x) - 0.24) / 0.12) ** 2) - (dy_mouth / 0.10) ** 2)
    cheek = np.exp(-(((np.abs(x) - 0.38) / 0.12) ** 2) - ((y + 0.12) / 0.12) ** 2)
    out[EXP_SMILE, :, 0] = 0.010 * np.sign(x) * corner
    out[EXP_SMILE, :, 1] = 0.022 * corner + 0.010 * cheek
    out[EXP_SMILE, :, 2] = 0.008 * cheek
    # Blink: between the lids the skin collapses onto the lower lid; above, the lid skin slides down.
    top, bottom, _ = _eye_opening(x)
    inside = (y >= bottom) & (y <= top)
    above = y > top
    closure = np.where(inside, -(y - bottom), 0.0)
    closure += np.where(above, -(top - bottom) * np.exp(-(((y - top) / 0.08) ** 2)), 0.0)
    out[EXP_BLINK, :, 1] = closure / BLINK_CLOSED
    brow = _smoothstep((y - 0.33) / 0.15) * (1.0 - 0.6 * _smoothstep((y - 0.55) / 0.3))
    out[EXP_BROW_RAISE, :, 1] = 0.025 * np.exp(-(((np.abs(x) - 0.34) / 0.35) ** 2)) * brow
    return out


def _smooth_fields(
    rng: np.random.Generator, xy: np.ndarray, n_fields: int, channels: int, scales: np.ndarray
) -> np.ndarray:
    """Random smooth fields (n_fields, N, channels): random mixtures of a shared set of Gaussian
    bumps over the face; per-coordinate rms of field k = ``scales[k]``."""
    n_bumps = 48
    centres = rng.uniform(-0.8, 0.8, size=(n_bumps, 2))
    widths = rng.uniform(0.2, 0.45, size=(n_bumps, 1))
    bumps = np.exp(-((xy[None] - centres[:, None]) ** 2).sum(-1) / widths**2)  # (bumps, N)
    weights = rng.normal(size=(n_fields, channels, n_bumps))
    fields = (weights.reshape(-1, n_bumps) @ bumps).reshape(n_fields, channels, -1).transpose(0, 2, 1)
    rms = np.sqrt((fields**2).mean(axis=(1, 2), keepdims=True))
    return fields / rms * scales[:, None, None]


def _point_buf(tri: np.ndarray, n_vertices: int) -> np.ndarray:
    """0-based (N, 8) incident-face lists padded with F."""
    n_faces = len(tri)
    vertex = tri.ravel()
    face = np.repeat(np.arange(n_faces), 3)
    order = np.argsort(vertex, kind="stable")
    vertex, face = vertex[order], face[order]
    first = np.searchsorted(vertex, np.arange(n_vertices))
    rank = np.arange(len(vertex)) - first[vertex]
    if rank.max() >= POINT_BUF_WIDTH:
        raise ValueError(f"vertex degree {rank.max() + 1} exceeds point_buf width {POINT_BUF_WIDTH}")
    buf = np.full((n_vertices, POINT_BUF_WIDTH), n_faces, dtype=np.int64)
    buf[vertex, rank] = face
    return buf


def _keypoints(xy: np.ndarray, side: np.ndarray) -> np.ndarray:
    """0-based vertex of each iBUG-68 layout point: the nearest in xy on the right side of the slit."""
    d2 = ((IBUG68_LAYOUT[:, None] - xy[None]) ** 2).sum(-1)  # (68, N)
    d2[np.ix_(UPPER_LIP_KEYPOINTS, np.flatnonzero(side < 0))] = np.inf
    d2[np.ix_(LOWER_LIP_KEYPOINTS, np.flatnonzero(side > 0))] = np.inf
    return d2.argmin(axis=1)


def _mean_texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Skin-like mean albedo (N, 3) in 0-255 with lips, brows, sclera and irises."""
    skin = np.array([205.0, 155.0, 130.0])
    colour = np.tile(skin, (len(x), 1))
    lips = np.exp(-((x / 0.25) ** 4) - ((y - MOUTH_Y) / 0.075) ** 4)[:, None]  # flat-topped lip region
    colour = colour * (1 - lips) + np.array([165.0, 75.0, 80.0]) * lips
    brow_y = 0.44 + 0.1 * np.clip(1 - ((np.abs(x) - 0.35) / 0.25) ** 2, 0, None)
    brows = (np.exp(-(((y - brow_y) / 0.03) ** 2)) * ((np.abs(x) > 0.1) & (np.abs(x) < 0.6)))[:, None]
    colour = colour * (1 - brows) + np.array([95.0, 70.0, 55.0]) * brows
    top, bottom, cx = _eye_opening(x)
    eye = (y >= bottom) & (y <= top) & (top > bottom)
    colour[eye] = (235.0, 230.0, 225.0)
    iris = eye & ((x - cx) ** 2 + (y - EYE_CENTRE[1]) ** 2 < 0.04**2)
    colour[iris] = (60.0, 45.0, 35.0)
    return colour


def generate_synthetic_model(seed: int = 0, spacing: float = 0.025) -> dict[str, np.ndarray]:
    """Generate the synthetic morphable model as BFM_model_front arrays.

    Parameters
    ----------
    seed: seed of the random identity, texture and minor expression fields.
    spacing: grid spacing in decimetres, within ``SPACING_RANGE`` (0.025 -> 4,287 vertices, 8,244
        triangles).

    Returns
    -------
    dict with ``meanshape`` (1, 3N) f32 dm (centred), ``idBase`` (3N, 80), ``exBase`` (3N, 64),
    ``meantex`` (1, 3N) 0-255, ``texBase`` (3N, 80), and 1-based int32 ``tri`` (F, 3),
    ``point_buf`` (N, 8) padded with F+1, ``keypoints`` (1, 68), ``frontmask2_idx`` (Nf, 1),
    ``tri_mask2`` (Ff, 3) local to ``frontmask2_idx``, ``skinmask`` (1, N) 0/1.
    """
    if not SPACING_RANGE[0] <= spacing <= SPACING_RANGE[1]:
        raise InputError(
            f"face_model.synthetic_spacing must lie in [{SPACING_RANGE[0]}, {SPACING_RANGE[1]}] dm, "
            f"got {spacing}"
        )
    rng = np.random.default_rng(seed)
    xy, tri, side = _grid_mesh(spacing)
    x, y = xy[:, 0], xy[:, 1]
    shape = np.stack([x, y, _height(x, y)], axis=1)
    shape -= shape.mean(axis=0)
    n = len(shape)

    id_fields = np.empty((N_ID, n, 3))
    id_fields[0] = shape * np.array([0.06, 0.0, 0.0])  # face width
    id_fields[1] = shape * np.array([0.0, 0.05, 0.0])  # face length
    id_fields[2] = shape * np.array([0.0, 0.0, 0.08])  # depth of the features
    id_fields[3:] = _smooth_fields(rng, xy, N_ID - 3, 3, 0.02 * np.arange(1, N_ID - 2) ** -0.6)
    exp_fields = np.concatenate(
        [
            _named_expressions(x, y, side),
            _smooth_fields(rng, xy, N_EXP - N_NAMED_EXP, 3, np.full(N_EXP - N_NAMED_EXP, 0.0008)),
        ]
    )
    tex_fields = np.empty((N_TEX, n, 3))
    tex_fields[0] = 15.0  # brightness
    tex_fields[1] = (12.0, -3.0, -6.0)  # redness
    tex_fields[2] = (6.0, 4.0, -8.0)  # yellowness
    tex_fields[3:] = _smooth_fields(rng, xy, N_TEX - 3, 3, 8.0 * np.arange(1, N_TEX - 2) ** -0.5)

    def basis(fields: np.ndarray) -> np.ndarray:  # (K, N, 3) -> (3N, K), xyz interleaved
        return fields.reshape(len(fields), -1).T.astype(np.float32)

    lips = np.exp(-((x / 0.3) ** 2) - ((y - MOUTH_Y) / 0.12) ** 2) > 0.3
    cx = _eye_centre_x(x)
    eyes = ((x - cx) / 0.17) ** 2 + ((y - EYE_CENTRE[1]) / 0.1) ** 2 < 1.0
    inner = (x / (FACE_AXES[0] - 0.12)) ** 2 + (y / (FACE_AXES[1] - 0.12)) ** 2 <= 1.0
    skin = inner & ~lips & ~eyes & (y < 0.42)
    front = np.flatnonzero(inner)
    local = np.full(n, -1)
    local[front] = np.arange(len(front))
    tri_front = local[tri[np.all(inner[tri], axis=1)]]
    return {
        "meanshape": shape.reshape(1, -1).astype(np.float32),
        "idBase": basis(id_fields),
        "exBase": basis(exp_fields),
        "meantex": _mean_texture(x, y).reshape(1, -1).astype(np.float32),
        "texBase": basis(tex_fields),
        "tri": (tri + 1).astype(np.int32),
        "point_buf": (_point_buf(tri, n) + 1).astype(np.int32),
        "keypoints": (_keypoints(xy, side) + 1).reshape(1, 68).astype(np.int32),
        "frontmask2_idx": (front + 1).reshape(-1, 1).astype(np.int32),
        "tri_mask2": (tri_front + 1).astype(np.int32),
        "skinmask": skin.reshape(1, -1).astype(np.float32),
    }
