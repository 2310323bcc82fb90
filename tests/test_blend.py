import numpy as np
import pytest
import torch
from PIL import Image

from gsmoothface.blend import (
    BlendConfig,
    closing,
    composite,
    crop,
    dilate,
    ellipse_kernel,
    erode,
    mafb_mask,
    uncrop,
)
from gsmoothface.landmarks.align import align_image


def _smooth_image(side: int) -> torch.Tensor:
    ys, xs = np.mgrid[0:side, 0:side] / side
    img = np.stack([0.5 + 0.4 * np.sin(3 * xs) * np.cos(2 * ys), xs * ys, 0.5 + 0.5 * np.cos(4 * ys)])
    return torch.tensor(img, dtype=torch.float32)[None]


def test_ellipse_kernel_hand_made():
    expected = np.array(
        [
            [0, 0, 1, 0, 0],
            [1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1],
            [0, 0, 1, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(ellipse_kernel(5, 5), expected)
    np.testing.assert_array_equal(ellipse_kernel(1, 31), np.ones((31, 1), dtype=bool))


def test_morphology_matches_opencv():
    cv2 = pytest.importorskip("cv2", reason="OpenCV not installed: comparison against cv2 skipped")
    rng = np.random.default_rng(0)
    mask = (rng.random((96, 80)) > 0.8).astype(np.uint8) * 255
    t = torch.tensor(mask / 255.0, dtype=torch.float32)[None, None]
    for w, h in [(21, 21), (5, 31), (7, 3)]:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, h))
        np.testing.assert_array_equal(ellipse_kernel(w, h), k.astype(bool))
        ours = ellipse_kernel(w, h)
        np.testing.assert_array_equal(dilate(t, ours)[0, 0].numpy() * 255, cv2.dilate(mask, k))
        np.testing.assert_array_equal(erode(t, ours)[0, 0].numpy() * 255, cv2.erode(mask, k))
        np.testing.assert_array_equal(
            closing(t, ours)[0, 0].numpy() * 255, cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k)
        )


def test_mafb_mask_hand_made():
    mask = np.zeros((224, 224), dtype=np.float32)
    mask[100:160, 60:164] = 1.0
    mask[110:120, 100:110] = 0.0  # an eye-like hole above the split row
    mask[140:146, 70:76] = 0.0  # a mouth-like hole below it
    out = mafb_mask(torch.from_numpy(mask)[None, None], 21, 1, 31, 128)[0, 0].numpy()
    expected = np.zeros((224, 224), dtype=np.float32)
    expected[100:175, 60:164] = 1.0  # holes closed; grown 15 rows downwards only (rows >= 128)
    np.testing.assert_array_equal(out, expected)


def test_mafb_mask_dilates_only_below_split_row():
    mask = torch.zeros(1, 1, 224, 224)
    mask[..., 40:80, 50:60] = 1.0  # wholly above the split row: untouched
    mask[..., 150:170, 120:140] = 1.0  # wholly below: grown vertically
    out = mafb_mask(mask)[0, 0]
    np.testing.assert_array_equal(out[:128].numpy(), mask[0, 0, :128].numpy())
    assert out[135:150, 130].eq(1).all() and out[170:185, 130].eq(1).all()
    assert out[134, 130] == 0 and out[185, 130] == 0
    assert out[160, 118] == 1 and out[160, 117] == 0  # horizontal growth only 2 px (5 px wide ellipse)


def test_mafb_mask_is_differentiable():
    mask = torch.zeros(1, 1, 224, 224)
    mask[..., 100:180, 80:150] = 0.7
    mask.requires_grad_(True)
    mafb_mask(mask).sum().backward()
    assert mask.grad is not None and mask.grad.abs().sum() > 0


def _pillow_align(frame: np.ndarray, tp: np.ndarray) -> np.ndarray:
    """The image part of Deep3DFace align_img, written out with Pillow."""
    w0, h0, s, t0, t1 = tp
    w, h = int(w0 * s), int(h0 * s)
    left = int(w / 2 - 112 + (t0 - w0 / 2) * s)
    up = int(h / 2 - 112 + (h0 / 2 - t1) * s)
    img = Image.fromarray(frame).resize((w, h), Image.BICUBIC).crop((left, up, left + 224, up + 224))
    return np.asarray(img)


def test_crop_matches_align_img():
    frame = (_smooth_image(200)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    tp = np.array([200.0, 200.0, 1.7, 95.0, 108.0])
    ours = crop(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255, tp[None], mode="bicubic")
    ours = ours[0].permute(1, 2, 0).numpy() * 255
    ref = _pillow_align(frame, tp).astype(np.float64)
    inside = (slice(4, -4), slice(4, -4))
    assert np.abs(ours[inside] - ref[inside]).mean() < 0.5
    assert np.abs(ours[inside] - ref[inside]).max() < 3.0


@pytest.mark.parametrize("out_side", [512, 256])
def test_uncrop_then_crop_returns_render(out_side):
    render = _smooth_image(224)
    tp = np.array([[512.0, 512.0, 0.6, 250.0, 262.0]])
    frame = uncrop(render, tp, (out_side, out_side))
    back = crop(frame, tp)
    err = (back - render)[..., 8:-8, 8:-8].abs()
    assert err.max() < 0.02 and err.mean() < 2e-3
    assert frame[..., : out_side // 16, :].abs().max() == 0  # zero outside the crop


def test_composite_keeps_frame_outside_mask_exactly():
    cfg = BlendConfig()
    frames = torch.rand(2, 3, 128, 128)
    image = torch.rand(2, 3, 224, 224)
    mask = torch.zeros(2, 1, 224, 224)
    mask[..., 70:170, 60:160] = 1.0
    tp = np.array([[512.0, 512.0, 0.45, 256.0, 256.0], [512.0, 512.0, 0.5, 240.0, 270.0]])
    out = composite(frames, image, mask, tp, cfg)
    outside = out.mask == 0
    assert outside.float().mean() > 0.5
    expanded = outside.expand_as(frames)
    assert torch.equal(out.blended[expanded], frames[expanded])
    inside = (out.mask == 1).expand_as(frames)
    assert inside.any() and torch.allclose(out.blended[inside], out.render[inside])
    assert ((out.mask > 0) & (out.mask < 1)).any()  # soft, un-cropped edge


def test_crop_matches_face_align_image():
    frame = (_smooth_image(200)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    tp = np.array([200.0, 200.0, 1.6, 104.0, 97.0])
    ref = align_image(frame, tp).astype(np.float64)
    ours = crop(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255, tp[None], mode="bicubic")
    ours = ours[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(ours[4:-4, 4:-4] - ref[4:-4, 4:-4]).mean() < 0.5


def test_blender_renders_face_into_frame():
    from gsmoothface.blend import MafbBlender
    from gsmoothface.face_model import FaceModelConfig, load_face_model

    model = load_face_model(FaceModelConfig())
    blender = MafbBlender(model, BlendConfig(), backend="cpu")
    coeff = torch.zeros(2, 257)
    coeff[1, 80] = 1.0  # another expression
    frames = torch.zeros(2, 3, 64, 64)
    tp = np.tile([512.0, 512.0, 0.45, 256.0, 256.0], (2, 1))
    out = blender(frames, coeff, tp)
    assert out.blended.shape == (2, 3, 64, 64)
    centre = out.mask[:, 0, 24:40, 24:40]
    assert centre.min() > 0.99  # the face covers the centre of the frame
    assert out.mask[:, 0, :3, :].max() == 0  # and not the top rows
    assert out.blended[:, :, 24:40, 24:40].mean() > 0.1  # lit face on a black frame
    # the second expression changes the rendered face, and only where the face is drawn
    changed = (out.render[1] - out.render[0]).abs().amax(dim=0)  # (64, 64)
    assert changed[out.mask[0, 0] > 0.99].max() > 0.05
    outside = (out.mask[0, 0] == 0) & (out.mask[1, 0] == 0)
    assert (out.blended[:, :, outside] == 0).all()
