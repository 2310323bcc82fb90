"""The embedded default dataset: synthetic speakers talking, with ground-truth 3DMM coefficients."""

from gsmoothface.synth.config import SynthConfig
from gsmoothface.synth.corpus import build_corpus

__all__ = ["SynthConfig", "build_corpus"]
