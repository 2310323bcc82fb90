"""MAFB: the morphology-augmented face blending of GSmoothFace (render, un-crop, blend)."""

from gsmoothface.blend.config import BlendConfig
from gsmoothface.blend.mafb import BlendResult, MafbBlender, blend_clip, composite, to_tensor, to_uint8
from gsmoothface.blend.morphology import closing, dilate, ellipse_kernel, erode, mafb_mask
from gsmoothface.blend.store import BlendedClip, list_blended, write_blended_clip
from gsmoothface.blend.warp import CROP_SIZE, crop, frame_to_crop_affine, uncrop

__all__ = [
    "CROP_SIZE",
    "BlendConfig",
    "BlendResult",
    "BlendedClip",
    "MafbBlender",
    "blend_clip",
    "closing",
    "composite",
    "crop",
    "dilate",
    "ellipse_kernel",
    "erode",
    "frame_to_crop_affine",
    "list_blended",
    "mafb_mask",
    "to_tensor",
    "to_uint8",
    "uncrop",
    "write_blended_clip",
]
