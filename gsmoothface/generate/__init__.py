"""The inference path end to end: speech + a reference -> a talking-face mp4 with the speech.

GSmoothFace's demo in one pass (spec section 5): A2EP predicts expression coefficients for the
audio (step 3.1); each output frame takes a reference frame's pose, identity, texture and lighting
with the predicted expression and is rendered and blended into that frame by MAFB (step 3.2); TAFT
translates the blended frame, with the reference clip's first frame as the appearance reference
(step 3.3); the translated face is pasted back into the reference's full-resolution frame through
the MAFB mask, and the frames are encoded with the audio (H.264 yuv420p + AAC). A raw reference
video is sliced and fitted once and cached by content hash. The reference is walked forwards and
backwards (ping-pong) when the audio is longer, so motion never jumps; frames stream in chunks
through memory-mapped copies of the reference, so memory does not grow with the audio's length.
"""

from gsmoothface.generate.config import GenerateConfig
from gsmoothface.generate.drive import (
    EXP,
    DrivenChunk,
    ExpressionPredictor,
    Translator,
    drive,
    reference_indices,
)
from gsmoothface.generate.models import (
    Pipeline,
    PipelineConfig,
    load_pipeline,
    load_predictor,
    load_translator,
    resolve_speaker,
    taft_translator,
)
from gsmoothface.generate.reference import (
    Reference,
    Source,
    file_digest,
    frame_store,
    open_reference,
    prepare_reference,
    resolve_reference,
    source_store,
)
from gsmoothface.generate.video import check_output, generate_video, n_output_frames

__all__ = [
    "EXP",
    "DrivenChunk",
    "ExpressionPredictor",
    "GenerateConfig",
    "Pipeline",
    "PipelineConfig",
    "Reference",
    "Source",
    "Translator",
    "check_output",
    "drive",
    "file_digest",
    "frame_store",
    "generate_video",
    "load_pipeline",
    "load_predictor",
    "load_translator",
    "n_output_frames",
    "open_reference",
    "prepare_reference",
    "reference_indices",
    "resolve_reference",
    "resolve_speaker",
    "source_store",
    "taft_translator",
]
