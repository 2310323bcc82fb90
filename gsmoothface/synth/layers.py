"""2D image layers that a 3DMM render lacks: background, shoulders and neck, hair, mouth, eyes.

Every layer is placed from the frame's projected 68 landmarks (iBUG order, y down, frame pixels),
so it moves with the head while the 3DMM coefficients stay the ground truth of the geometry: the
mouth interior fills exactly the inner-lip polygon and the eyes exactly the eyelid polygons.
Layers paint into a float32 (H, W, 3) canvas in [0, 1], in place, with antialiased edges.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

SUPERSAMPLE = 4  # sub-pixel grid per axis for antialiased polygon edges
JAW = slice(0, 17)
OUTER_LIP = slice(48, 60)
INNER_LIP = slice(60, 68)
RIGHT_EYE, LEFT_EYE = slice(36, 42), slice(42, 48)  # image-left eye first (subject's right)


@dataclasses.dataclass(frozen=True)
class Appearance:
    """What a speaker looks like beyond the 3DMM (colours RGB in [0, 1])."""

    skin_rgb: tuple[float, float, float]  # neck colour, matched to the face albedo
    hair_rgb: tuple[float, float, float]
    cloth_rgb: tuple[float, float, float]
    iris_rgb: tuple[float, float, float]
    hair_volume: float  # head outline size relative to the face (1.0 = tight)
    hair_length: float  # how far the hair falls at the sides (0 = ear level, 1 = chin)


def fractal_noise(rng: np.random.Generator, size: int, octaves: tuple[float, ...]) -> np.ndarray:
    """Sum of Gaussian-blurred white noise at the given blur radii (pixels), unit std.

    Returns
    -------
    (size, size) float32.
    """
    total = np.zeros((size, size))
    for sigma in octaves:
        layer = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
        total += layer / (layer.std() + 1e-9)
    return (total / (total.std() + 1e-9)).astype(np.float32)


def background_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A room-like backdrop: a colour gradient, soft out-of-focus blobs and a few blurred panels.

    Returns
    -------
    (size, size, 3) float32 in [0, 1].
    """
    top, bottom = rng.uniform(0.2, 0.8, 3), rng.uniform(0.1, 0.6, 3)
    ramp = np.linspace(0.0, 1.0, size)[:, None, None]
    image = (1 - ramp) * top + ramp * bottom + np.zeros((1, size, 1))
    tint = rng.uniform(-1.0, 1.0, 3)
    image += 0.08 * fractal_noise(rng, size, (size / 12, size / 30))[..., None] * (0.5 + 0.5 * tint)
    for _ in range(int(rng.integers(3, 7))):  # shelves, windows, frames
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 10, size // 3, 2)
        panel = np.zeros((size, size))
        panel[y0 : y0 + h, x0 : x0 + w] = 1.0
        panel = ndimage.gaussian_filter(panel, 3.0)[..., None]
        image = image * (1 - 0.7 * panel) + 0.7 * panel * rng.uniform(0.1, 0.9, 3)
    image += 0.02 * fractal_noise(rng, size, (0.8,))[..., None]  # fine grain of a real surface
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def polygon_coverage(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """Antialiased coverage of a polygon, over its bounding box.

    Parameters
    ----------
    points: (K, 2) polygon vertices (x, y) in pixels (pixel centre = integer coordinate).
    shape: (H, W) of the image.

    Returns
    -------
    coverage (h, w) float32 in [0, 1], and the box's top row y0 and left column x0.
    """
    x0 = int(np.clip(np.floor(points[:, 0].min()), 0, shape[1] - 1))
    y0 = int(np.clip(np.floor(points[:, 1].min()), 0, shape[0] - 1))
    x1 = int(np.clip(np.ceil(points[:, 0].max()) + 1, x0 + 1, shape[1]))
    y1 = int(np.clip(np.ceil(points[:, 1].max()) + 1, y0 + 1, shape[0]))
    h, w = y1 - y0, x1 - x0
    s = SUPERSAMPLE
    fine = Image.new("L", (w * s, h * s), 0)
    # pixel p spans [p - 0.5, p + 0.5]: sub-pixel k of it has its centre at p - 0.5 + (k + 0.5) / s
    corners = (points - np.array([x0, y0]) + 0.5) * s - 0.5
    ImageDraw.Draw(fine).polygon([tuple(p) for p in corners.tolist()], fill=255)
    coarse = fine.resize((w, h), Image.Resampling.BOX)  # mean over each s x s block
    return np.asarray(coarse, dtype=np.float32) / 255.0, y0, x0


def blend(canvas: np.ndarray, colour: np.ndarray, alpha: np.ndarray, y0: int, x0: int) -> None:
    """``canvas[box] = (1 - alpha) * canvas[box] + alpha * colour`` for a box at (y0, x0).

    ``colour`` is (3,) or (h, w, 3); ``alpha`` is (h, w).
    """
    h, w = alpha.shape
    box = canvas[y0 : y0 + h, x0 : x0 + w]
    box += alpha[..., None] * (colour - box)


def _soft_ellipse(
    grid_y: np.ndarray, grid_x: np.ndarray, centre: np.ndarray, radii: np.ndarray, angle: float
) -> np.ndarray:
    """Coverage of a rotated ellipse with a one-pixel soft edge."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = grid_x - centre[0], grid_y - centre[1]
    u, v = (c * dx + s * dy) / radii[0], (-s * dx + c * dy) / radii[1]
    r = np.sqrt(u * u + v * v)
    return np.clip((1.0 - r) * radii.min() + 0.5, 0.0, 1.0)


def _box(shape: tuple[int, int], x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
    """Integer box (y0, y1, x0, x1) clipped to the image (may be empty)."""
    h, w = shape
    return (
        int(np.clip(np.floor(y0), 0, h)),
        int(np.clip(np.ceil(y1), 0, h)),
        int(np.clip(np.floor(x0), 0, w)),
        int(np.clip(np.ceil(x1), 0, w)),
    )


def face_frame(lm: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Centre between the eyes, eye-line angle (radians), jaw width and eye-to-chin distance (px)."""
    eyes = np.stack([lm[RIGHT_EYE].mean(0), lm[LEFT_EYE].mean(0)])
    eye_mid = eyes.mean(0)
    angle = float(np.arctan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0]))
    width = float(np.linalg.norm(lm[16] - lm[0]))
    eye_chin = float(np.linalg.norm(lm[8] - eye_mid))
    return eye_mid, angle, width, eye_chin


def face_outline(lm: np.ndarray) -> np.ndarray:
    """The visible face outline: the jaw contour (0-16) closed over the top of the head.

    Returns
    -------
    (19, 2) polygon; its lower part is the projected jaw contour, so the visible outline of the
    face sits where the true coefficients put the jaw landmarks.
    """
    _, angle, _, eye_chin = face_frame(lm)
    up = np.array([np.sin(angle), -np.cos(angle)])
    return np.concatenate([lm[JAW], lm[16:17] + 1.5 * eye_chin * up, lm[0:1] + 1.5 * eye_chin * up])


def draw_body(canvas: np.ndarray, lm: np.ndarray, look: Appearance) -> None:
    """Shoulders (clothing) and a round, shaded neck below the jaw, behind the face."""
    size = canvas.shape[0]
    eye_mid, angle, width, eye_chin = face_frame(lm)
    chin = lm[8]
    neck_x = 0.5 * (chin[0] + eye_mid[0])
    neck_half = 0.3 * width
    top = 0.5 * (lm[4, 1] + lm[12, 1])
    y0, y1, x0, x1 = _box(canvas.shape[:2], neck_x - neck_half - 2, top - 2, neck_x + neck_half + 2, size)
    if y1 > y0 and x1 > x0:
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        across = np.clip(np.abs(xs - neck_x) / neck_half, 0, 1.2)
        neck = np.clip((1.0 - across) * neck_half + 0.5, 0, 1) * np.clip(ys - top + 0.5, 0, 1)
        shadow = np.clip((ys - chin[1]) / (0.25 * eye_chin), 0.0, 1.0)  # shadow under the chin
        light = (0.7 + 0.25 * shadow) * (1.0 - 0.3 * across**2)  # darker toward the sides
        colour = np.asarray(look.skin_rgb) * light[..., None]
        blend(canvas, colour, neck, y0, x0)
    centre = np.array([neck_x, chin[1] + 0.3 * eye_chin + 0.6 * width])
    radii = np.array([1.3 * width, 0.6 * width])
    y0, y1, x0, x1 = _box(canvas.shape[:2], 0, centre[1] - radii[1] - 2, size, size)
    if y1 > y0:
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        shoulders = _soft_ellipse(ys, xs, centre, radii, 0.3 * angle)
        folds = 0.85 + 0.15 * np.sin(xs / (0.05 * width) + 0.3 * np.sin(ys / 40.0))
        blend(canvas, np.asarray(look.cloth_rgb) * folds[..., None], shoulders, y0, x0)


def draw_hair(
    canvas: np.ndarray, lm: np.ndarray, silhouette: np.ndarray, look: Appearance, texture: np.ndarray
) -> None:
    """Hair: a head outline around the face and a fringe over the top of the forehead.

    Hair covers the part of the head ellipse that is off the face (``silhouette`` < 1) or above
    the hairline, down to the speaker's hair length.

    Parameters
    ----------
    silhouette: (H, W) float32 coverage of the face including its mouth opening.
    texture: (H, W) float32 unit-std strand texture of this speaker.
    """
    eye_mid, angle, width, eye_chin = face_frame(lm)
    up = np.array([np.sin(angle), -np.cos(angle)])  # image direction of the head's "up"
    centre = eye_mid + up * 0.1 * eye_chin
    radii = np.array([0.62 * width, 1.12 * eye_chin]) * look.hair_volume
    reach = radii.max() + 2
    y0, y1, x0, x1 = _box(
        canvas.shape[:2], centre[0] - reach, centre[1] - reach, centre[0] + reach, centre[1] + reach
    )
    if y1 <= y0 or x1 <= x0:
        return
    # the smooth parts (head shape, hairline, sheen) on a half-resolution grid of 2x2 block
    # centres; only the boundary against the face uses the full-resolution silhouette
    ys, xs = np.mgrid[y0:y1:2, x0:x1:2].astype(np.float32) + 0.5
    head = _soft_ellipse(ys, xs, centre, radii, angle)
    # position along the head's up axis and across it, from the eye midpoint (pixels)
    rise = (xs - eye_mid[0]) * up[0] + (ys - eye_mid[1]) * up[1]
    across = (xs - eye_mid[0]) * np.cos(angle) + (ys - eye_mid[1]) * np.sin(angle)
    # the hairline stays below the top edge of the mesh (the fringe hides the mesh's border)
    hairline = 0.32 * eye_chin - 0.25 * eye_chin * (across / (0.5 * width)) ** 2
    fringe = np.clip(rise - hairline + 0.5, 0, 1)
    lowest = -(0.1 + 0.8 * look.hair_length) * eye_chin
    head *= np.clip(rise - lowest + 0.5, 0, 1)  # the hair falls this far
    band = np.clip(1.0 - np.abs(rise - 0.9 * eye_chin) / (0.2 * eye_chin), 0, 1)  # sheen on the crown
    h, w = y1 - y0, x1 - x0
    alpha = _upsample2(head, h, w) * np.maximum(1.0 - silhouette[y0:y1, x0:x1], _upsample2(fringe, h, w))
    shine = 0.9 + 0.12 * texture[y0:y1, x0:x1] + 0.25 * _upsample2(band, h, w)
    colour = np.clip(np.asarray(look.hair_rgb, np.float32) * shine[..., None], 0, 1)
    blend(canvas, colour, alpha, y0, x0)


def _upsample2(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Linear 2x upsampling of a 2D image sampled at 2x2 block centres, cut to (h, w).

    Low-resolution sample k sits at full-resolution coordinate 2k + 0.5, so full pixel 2k takes
    0.75 of sample k and 0.25 of sample k - 1, pixel 2k + 1 0.75 of k and 0.25 of k + 1 (edges held).
    """
    for _ in range(2):  # rows, then (after the transpose) columns
        out = np.empty((2 * image.shape[0], image.shape[1]), image.dtype)
        out[0::2] = out[1::2] = 0.75 * image
        out[2::2] += 0.25 * image[:-1]
        out[0] += 0.25 * image[0]
        out[1:-1:2] += 0.25 * image[1:]
        out[-1] += 0.25 * image[-1]
        image = out.T
    return image[:h, :w]


def draw_mouth(
    canvas: np.ndarray, lm: np.ndarray, face_mask: np.ndarray, phase: float
) -> tuple[np.ndarray, int, int]:
    """Dark mouth interior, a tongue and upper/lower teeth where the mesh shows its mouth hole.

    The hole is the part of the outer-lip polygon (48-59) that the rendered face does not cover
    (``face_mask`` < 1), so the interior fills exactly the opening the true coefficients make. With
    closed lips nothing is drawn. ``phase`` shifts the tooth pattern (per speaker).

    Returns
    -------
    the outer-lip polygon's coverage over its box, and the box's top row and left column.
    """
    lips, y0, x0 = polygon_coverage(lm[OUTER_LIP], canvas.shape[:2])
    h, w = lips.shape
    coverage = lips * (1.0 - face_mask[y0 : y0 + h, x0 : x0 + w])
    if coverage.max() <= 0.01:
        return lips, y0, x0
    inner = lm[INNER_LIP]
    ys, xs = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    mouth_w = float(np.linalg.norm(lm[54] - lm[48]))
    # lip curves y(x) of the opening: upper 60-64, lower 64-67 and back to 60
    upper = _curve(inner[[0, 1, 2, 3, 4]], xs)
    lower = _curve(inner[[4, 5, 6, 7, 0]], xs)
    depth = np.clip((ys - upper) / np.maximum(lower - upper, 1.0), 0, 1)
    centre_x = 0.5 * (lm[48, 0] + lm[54, 0])
    side = np.clip(np.abs(xs - centre_x) / (0.5 * mouth_w), 0, 1)  # 0 centre .. 1 corners
    dark = np.full_like(depth, 0.08)
    interior = np.stack([0.28 - 0.1 * depth, dark, dark], axis=-1)  # dark red, deeper = darker
    interior *= (1.0 - 0.6 * side)[..., None]
    tongue = np.clip(1.0 - ((xs - centre_x) / (0.3 * mouth_w)) ** 2 - ((1.0 - depth) / 0.35) ** 2, 0, 1)
    interior += tongue[..., None] * (np.array([0.55, 0.22, 0.24]) - interior)
    teeth_h = 0.08 * mouth_w
    upper_teeth = np.clip(upper + teeth_h - ys + 0.5, 0, 1) * np.clip((0.75 - side) * 8, 0, 1)
    lower_teeth = np.clip(ys - (lower - 0.5 * teeth_h) + 0.5, 0, 1) * np.clip((0.55 - side) * 8, 0, 1)
    gaps = 0.88 + 0.12 * np.abs(np.cos(np.pi * (xs - centre_x) / (0.13 * mouth_w) + phase))
    enamel = np.array([0.85, 0.82, 0.74]) * ((1.0 - 0.5 * side) * gaps)[..., None]
    teeth = np.maximum(upper_teeth, lower_teeth)[..., None]
    colour = interior + teeth * (enamel - interior)
    blend(canvas, colour, coverage, y0, x0)
    return lips, y0, x0


def draw_eyes(canvas: np.ndarray, lm: np.ndarray, gaze: np.ndarray, look: Appearance) -> None:
    """Sclera, a moving iris with pupil and highlight, and a lash line, inside each eyelid polygon.

    Parameters
    ----------
    gaze: (2,) in [-1, 1], (right, down) as a fraction of the iris travel.
    """
    for eye in (RIGHT_EYE, LEFT_EYE):
        pts = lm[eye]
        coverage, y0, x0 = polygon_coverage(pts, canvas.shape[:2])
        if coverage.max() <= 0:
            continue
        h, w = coverage.shape
        ys, xs = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
        eye_w = float(np.linalg.norm(pts[3] - pts[0]))
        centre = pts.mean(0) + gaze * np.array([0.22, 0.12]) * eye_w
        radius = 0.21 * eye_w
        r = np.sqrt((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / radius
        corner = np.clip(np.abs(xs - pts.mean(0)[0]) / (0.5 * eye_w), 0, 1)
        sclera = np.array([0.86, 0.82, 0.8]) * (1.0 - 0.25 * corner**2)[..., None]
        iris = np.asarray(look.iris_rgb) * (0.7 + 0.5 * np.clip(1.0 - r, 0, 1))[..., None]
        iris = iris * (1.0 - 0.6 * np.clip((r - 0.8) / 0.2, 0, 1))[..., None]  # dark limbal ring
        colour = sclera + np.clip(1.0 - r + 0.5 / radius, 0, 1)[..., None] * (iris - sclera)
        pupil = np.clip((0.42 - r) * radius + 0.5, 0, 1)[..., None]
        colour = colour * (1.0 - pupil) + 0.03 * pupil
        glint = np.sqrt((xs - centre[0] - 0.3 * radius) ** 2 + (ys - centre[1] + 0.3 * radius) ** 2)
        colour += 0.8 * np.clip(0.12 * radius - glint + 0.5, 0, 1)[..., None]
        upper = _curve(pts[[0, 1, 2, 3]], xs)
        lash = np.clip(1.0 - (ys - upper) / max(0.12 * eye_w, 1.0), 0, 1)[..., None]
        colour = colour * (1.0 - 0.75 * lash)  # shadow of the upper lid and lashes
        blend(canvas, np.clip(colour, 0, 1), coverage, y0, x0)


def _curve(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Piecewise-linear y(x) through ``points`` (sorted by x), evaluated at ``xs``."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1]).astype(np.float32)
