"""Facial landmarks: detectors behind one interface, 68 -> 5 points, Deep3DFace alignment."""

from gsmoothface.landmarks.sidecar import read_sidecar
from gsmoothface.landmarks.source import (
    KINDS,
    LandmarkSource,
    interpolate_invalid,
    open_landmark_source,
)

__all__ = ["KINDS", "LandmarkSource", "interpolate_invalid", "open_landmark_source", "read_sidecar"]
