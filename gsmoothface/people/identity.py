"""Is every video of one person? dlib's face descriptors (128-D, same person below 0.6 apart)."""

from __future__ import annotations

import numpy as np

from gsmoothface.errors import InputError

RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def face_descriptors(frames: np.ndarray) -> np.ndarray:
    """The largest face's 128-D descriptor of each frame that shows one -> (k, 128) float32."""
    import dlib

    from gsmoothface.landmarks.dlib68 import predictor_path

    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(str(predictor_path()))
    encoder = dlib.face_recognition_model_v1(str(predictor_path().parent / RECOGNITION_FILE))
    out = []
    for frame in frames:
        frame = np.ascontiguousarray(frame)
        faces = detector(frame, 1)
        if len(faces):
            face = max(faces, key=lambda r: r.area())
            out.append(np.asarray(encoder.compute_face_descriptor(frame, shape(frame, face)), np.float32))
    return np.stack(out) if out else np.zeros((0, 128), np.float32)


def check_one_person(clip_frames: dict[str, np.ndarray], max_distance: float = 0.6) -> float:
    """Raise unless every sampled face is one person; return the largest distance found.

    Every pair of sampled frames, within a clip and across clips, must lie within ``max_distance``
    (dlib's recommended 0.6 for a pair of single images).

    Parameters
    ----------
    clip_frames: clip or video name -> a few (n, H, W, 3) uint8 frames of it, spread over its length.

    Raises
    ------
    InputError: two sampled faces are further apart than ``max_distance`` (frames where dlib finds
        no face, such as a synthetic one, are not compared).
    """
    names, found = [], []
    for name, frames in clip_frames.items():
        descriptors = face_descriptors(frames)  # none: a face dlib cannot see (slicing found one)
        names += [name] * len(descriptors)
        found.append(descriptors)
    pooled = np.concatenate(found)
    if len(pooled) < 2:
        return 0.0
    distance = np.linalg.norm(pooled[:, None] - pooled[None], axis=-1)
    i, j = np.unravel_index(int(distance.argmax()), distance.shape)
    worst = float(distance[i, j])
    if worst > max_distance:
        where = names[i] if names[i] == names[j] else f"{names[i]} and {names[j]}"
        raise InputError(
            f"{where}: two different people (face distance {worst:.2f} > {max_distance}); "
            "adapt one person at a time"
        )
    return worst
