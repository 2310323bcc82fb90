"""dlib's iBUG 68-point shape predictor: a landmark detector that works on real faces offline.

The HOG face detector (Dalal-Triggs, as shipped in dlib) finds the face; the ensemble of regression
trees of Kazemi & Sullivan (CVPR 2014), trained on iBUG 300-W, places the 68 points. The predictor
file ships in the ``face_recognition_models`` package, so nothing is downloaded. (Its training data,
iBUG 300-W, is licensed for research use.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from gsmoothface.errors import MissingAssetError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def predictor_path() -> Path:
    """Where ``face_recognition_models`` keeps the 68-point predictor.

    The package is located without importing it: its ``__init__`` needs ``pkg_resources``.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingAssetError(
            f"{PREDICTOR_FILE} not found: install the package that ships it "
            "(`pip install face_recognition_models`, a dependency of gsmoothface)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise MissingAssetError(f"{path} missing: reinstall face_recognition_models")
    return path


class DlibSource:
    """HOG face detection + 68-point shape prediction, one frame at a time on the CPU.

    Parameters
    ----------
    detect_size: frames are shrunk so that their longer side is at most this many pixels before
        face detection (HOG finds faces of about 80 px and up); when nothing is found the full
        frame is tried. The shape predictor always runs on the full-resolution frame.
    """

    name = "dlib"

    def __init__(self, detect_size: int = 480) -> None:
        import dlib

        self.detect_size = detect_size
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path()))
        self._rectangle = dlib.rectangle

    def detect(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of ``frames`` (n, H, W, 3) uint8 RGB -> ((n, 68, 2) float32 y down, (n,) bool)."""
        n = len(frames)
        lm68 = np.full((n, 68, 2), np.nan, np.float32)
        valid = np.zeros(n, bool)
        for i, frame in enumerate(frames):
            frame = np.ascontiguousarray(frame)
            box = self._face_box(frame)
            if box is None:
                continue
            shape = self._predictor(frame, self._rectangle(*box))
            lm68[i] = [(p.x, p.y) for p in shape.parts()]
            valid[i] = True
        return lm68, valid

    def _face_box(self, frame: np.ndarray) -> tuple[int, int, int, int] | None:
        """The largest face as (left, top, right, bottom) full-resolution pixels, or None."""
        import cv2

        scale = min(1.0, self.detect_size / max(frame.shape[:2]))
        attempts = [scale, 1.0] if scale < 1.0 else [1.0]
        for s in attempts:
            image = frame if s == 1.0 else cv2.resize(frame, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            faces = self._detector(image, 0)
            if len(faces):
                face = max(faces, key=lambda r: r.area())
                return (
                    round(face.left() / s),
                    round(face.top() / s),
                    round(face.right() / s),
                    round(face.bottom() / s),
                )
        return None
