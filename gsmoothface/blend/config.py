"""Configuration of the morphology-augmented face blending (MAFB), params section ``blend``."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BlendConfig:
    """MAFB settings (``blend`` section); defaults are the embedded default, the recipe uses size 512.

    The morphology sizes are in pixels of the 224 aligned crop, as in the GSmoothFace TAFT data code.
    """

    size: int = 128  # side in px of the blended, mask and target frames (the TAFT resolution; recipe 512)
    closing_size: int = 21  # ellipse closing kernel (px of the 224 crop): fills the mouth and eye holes
    dilate_width: int = 5  # width of the vertical dilation ellipse (px of the 224 crop)
    dilate_height: int = 31  # height of the vertical dilation ellipse: hides the original mouth and jaw
    split_row: int = 128  # rows of the 224 crop at or below this take the dilated mask, above the closed one
    batch_size: int = 16  # frames rendered and blended at once

    def __post_init__(self) -> None:
        for name in ("closing_size", "dilate_width", "dilate_height"):
            value = getattr(self, name)
            if value < 1 or value % 2 == 0:
                raise ValueError(f"blend.{name} must be a positive odd number, got {value}")
        if self.size < 16:
            raise ValueError(f"blend.size must be at least 16, got {self.size}")
        if self.batch_size < 1:
            raise ValueError(f"blend.batch_size must be positive, got {self.batch_size}")
