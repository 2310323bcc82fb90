"""A2EP: GSmoothFace's audio-to-expression predictor (model, data, training, long-audio prediction)."""

from gsmoothface.a2ep.checkpoint import load_model
from gsmoothface.a2ep.config import A2EPConfig
from gsmoothface.a2ep.model import A2EP
from gsmoothface.a2ep.predict import predict_audio, predict_expressions, speaker_code

__all__ = ["A2EP", "A2EPConfig", "load_model", "predict_audio", "predict_expressions", "speaker_code"]
