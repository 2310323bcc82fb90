"""Facial landmarks: detectors behind one interface, 68 -> 5 points, Deep3DFace alignment."""
