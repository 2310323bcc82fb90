"""Configuration of the morphology-augmented face blending (MAFB), params section ``blend``."""

from __future__ import annotations

import dataclasses

from gsmoothface.config import ConfigError, check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class BlendConfig:
    """MAFB settings (``blend`` section); defaults are the embedded default, the recipe uses size 512.

    The morphology sizes are in pixels of the 224 aligned crop, as in the GSmoothFace TAFT data code.
    """

    # side in px of the blended, mask and target frames (the TAFT resolution; recipe 512)
    size: int = ranged(256, low=16)
    # ellipse closing kernel (px of the 224 crop): fills the mouth and eye holes
    closing_size: int = ranged(21, low=1, odd=True)
    # width of the vertical dilation ellipse (px of the 224 crop)
    dilate_width: int = ranged(5, low=1, odd=True)
    # height of the vertical dilation ellipse: hides the original mouth and jaw
    dilate_height: int = ranged(31, low=1, odd=True)
    split_row: int = 128  # rows of the 224 crop at or below this take the dilated mask, above the closed one
    batch_size: int = ranged(16, low=1)  # frames rendered and blended at once
    # what the generated face replaces: lower (mouth, cheeks, jaw, chin) or full (the MAFB region)
    paste_region: str = "lower"
    paste_erode: int = ranged(7, low=1, odd=True)  # ellipse erosion of the paste mask, px of the 224 crop
    paste_feather: float = ranged(5.0, low=0.0)  # Gaussian sigma of the paste mask's edge, px of the 224 crop
    # reach of the colour matching across the paste edge, as a fraction of the TAFT side; 0 = none
    colour_match: float = ranged(0.08, low=0.0)

    def __post_init__(self) -> None:
        check_ranges(self, "blend")
        if self.paste_region not in ("lower", "full"):
            raise ConfigError(f"blend.paste_region must be lower or full, got {self.paste_region!r}")
