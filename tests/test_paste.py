"""Paste-back: only the lower face changes, and the generated face's colour meets the frame's."""

from __future__ import annotations

import torch

from gsmoothface.blend.paste import RAMP_BOTTOM, RAMP_TOP, gaussian_blur, match_colour, paste_mask


def face_landmarks(size: int) -> torch.Tensor:
    """(1, 68, 2) landmarks with the ramp's points at rows 0.45 and 0.6 of the crop."""
    lm = torch.full((1, 68, 2), size / 2)
    lm[0, RAMP_TOP, 1] = 0.45 * size
    lm[0, RAMP_BOTTOM, 1] = 0.6 * size
    return lm


def disk(size: int, radius: float) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return (((ys - size / 2) ** 2 + (xs - size / 2) ** 2) < radius**2).float()[None, None]


def test_lower_paste_mask_leaves_the_upper_face_and_the_outside_alone():
    size = 96
    region = disk(size, 36)
    mask = paste_mask(region, face_landmarks(size), "lower", erode_px=5, feather_px=2.0)
    top = int(0.45 * size) - 3 * 2  # the ramp's top less the feather's reach (3 sigma)
    assert mask[..., :top, :].max() < 1e-6  # eyes and above: the frame's own pixels
    assert mask[region == 0].max() == 0  # never outside the region
    assert mask[0, 0, int(0.75 * size), size // 2] > 0.99  # the mouth and chin are replaced
    full = paste_mask(region, face_landmarks(size), "full", erode_px=5, feather_px=2.0)
    assert full[0, 0, int(0.3 * size), size // 2] > 0.99  # `full` replaces the upper face too
    soft = (mask > 0.02) & (mask < 0.98)
    assert soft.any()  # a feathered edge, not a hard one


def test_colour_matching_removes_a_colour_seam_but_keeps_the_face_detail():
    size = 96
    frame = torch.full((1, 3, size, size), 0.6)
    detail = 0.2 * (torch.arange(size) % 8 < 4).float().view(1, 1, 1, -1).expand(1, 3, size, size)
    generated = frame - 0.15 + detail * disk(size, 12)  # a darker face with a striped mouth
    mask = gaussian_blur(disk(size, 30), 3.0)
    fixed = match_colour(generated, frame, mask, sigma=0.08 * size)

    def seam(image: torch.Tensor) -> float:  # pasted result against the frame along the edge
        pasted = frame * (1 - mask) + image * mask
        band = (mask > 0.1) & (mask < 0.9)
        return float((pasted - frame).abs()[band.expand_as(frame)].mean())

    assert seam(generated) > 0.05
    assert seam(fixed) < 0.2 * seam(generated)
    stripes = lambda x: float(x[..., size // 2, size // 2 - 8 : size // 2 + 8].std())  # noqa: E731
    assert abs(stripes(fixed) - stripes(generated)) < 1e-3  # the mouth's detail is untouched
