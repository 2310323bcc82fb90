"""gsmoothface: audio-driven talking-face generation (GSmoothFace) as a reproducible DVC pipeline."""

__version__ = "0.1.0"
