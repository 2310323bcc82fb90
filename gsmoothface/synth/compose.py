"""Composite the frames of a video: backdrop, body, detailed face, mouth, eyes, hair, exposure.

Layer order, back to front: the speaker's background, shoulders and neck, the rendered face
(:class:`~gsmoothface.synth.face_render.FaceLayer`) cut along the projected jaw contour, the
mouth interior in the mesh's mouth hole, eyes with moving irises inside the eyelid polygons, hair
around and over the top of the face; then a slow exposure drift of the camera.
"""

from __future__ import annotations

import numpy as np

from gsmoothface.synth.layers import (
    draw_body,
    draw_eyes,
    draw_hair,
    draw_mouth,
    face_outline,
    polygon_coverage,
)
from gsmoothface.synth.speakers import Speaker


def compose_frames(
    speaker: Speaker,
    face_rgb: np.ndarray,
    face_mask: np.ndarray,
    window: tuple[int, int, int, int],
    lm68: np.ndarray,
    gaze: np.ndarray,
    exposure: np.ndarray,
) -> np.ndarray:
    """Composite B frames.

    Parameters
    ----------
    face_rgb: (B, h, w, 3) float32 rendered face and face_mask (B, h, w) float32 coverage, over the
        frame box ``window`` = (r0, r1, c0, c1).
    lm68: (B, 68, 2) true landmarks, frame pixels, y down.
    gaze: (B, 2) gaze in [-1, 1]. exposure: (B,) brightness gain of the camera.

    Returns
    -------
    (B, S, S, 3) uint8 RGB frames.
    """
    size = speaker.background.shape[0]
    r0, r1, c0, c1 = window
    frames = np.empty((len(face_rgb), size, size, 3), np.uint8)
    phase = float(speaker.index)
    for b in range(len(face_rgb)):
        canvas = speaker.background.copy()
        draw_body(canvas, lm68[b], speaker.look)
        mask = np.zeros((size, size), np.float32)
        mask[r0:r1, c0:c1] = face_mask[b]
        # the face, cut along its outline (jaw contour closed over the head)
        outline, y0, x0 = polygon_coverage(face_outline(lm68[b]), (size, size))
        h, w = outline.shape
        alpha = np.zeros_like(mask)
        alpha[y0 : y0 + h, x0 : x0 + w] = outline * mask[y0 : y0 + h, x0 : x0 + w]
        box = canvas[r0:r1, c0:c1]
        box += alpha[r0:r1, c0:c1, None] * (face_rgb[b] - box)
        lips, ly, lx = draw_mouth(canvas, lm68[b], alpha, phase)
        draw_eyes(canvas, lm68[b], gaze[b], speaker.look)
        silhouette = alpha  # from here on: the face with its mouth opening filled, for the hair
        lip_box = silhouette[ly : ly + lips.shape[0], lx : lx + lips.shape[1]]
        np.maximum(lip_box, lips, out=lip_box)
        draw_hair(canvas, lm68[b], silhouette, speaker.look, speaker.hair_texture)
        frames[b] = np.clip(canvas * (255.0 * exposure[b]) + 0.5, 0, 255).astype(np.uint8)
    return frames
