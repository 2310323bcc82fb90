"""Renderer: coverage, visibility, perspective-correct interpolation, clipping, gradients, batching.

Expected values come from the pinhole model of Deep3DFace's camera evaluated at pixel centres
(continuous top-down coordinates col + 0.5, row + 0.5), never from the renderer itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsmoothface.config import load_section
from gsmoothface.errors import InputError
from gsmoothface.render import MeshRenderer, RenderConfig, interpolate, rasterize, resolve_backend

S = 64  # raster size of most tests; the camera keeps Deep3DFace's field of view at any size


def pixel_rays(renderer: MeshRenderer) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) ray slopes X/Z and Y/Z through each pixel centre, rows top-down, +Y up."""
    centres = np.arange(renderer.size) + 0.5
    tx = (centres - renderer.center) / renderer.focal  # per column
    ty = (renderer.size - centres - renderer.center) / renderer.focal  # per row: row = S - (f Y/Z + c)
    return np.broadcast_to(tx[None, :], (renderer.size,) * 2), np.broadcast_to(
        ty[:, None], (renderer.size,) * 2
    )


def quad(x0: float, x1: float, y0: float, y1: float, z: float | tuple[float, float] = 10.0):
    """Camera-space rectangle (4, 3) and its two triangles; z may vary linearly from x0 to x1."""
    za, zb = (z, z) if isinstance(z, float) else z
    v = torch.tensor([[x0, y0, za], [x1, y0, zb], [x1, y1, zb], [x0, y1, za]], dtype=torch.float32)
    return v, torch.tensor([[0, 1, 2], [0, 2, 3]])


def grid_mesh(n: int, half: float, z: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(n*n, 3) flat grid at depth z spanning [-half, half]^2 and its (2 (n-1)^2, 3) triangles."""
    g = torch.linspace(-half, half, n)
    yy, xx = torch.meshgrid(g, g, indexing="ij")
    v = torch.stack([xx.ravel(), yy.ravel(), torch.full((n * n,), z)], 1)
    idx = torch.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    return v, torch.cat([torch.stack([a, b, c], 1), torch.stack([a, c, d], 1)])


@pytest.mark.parametrize("size", [S, 224])
def test_square_covers_exactly_the_pinhole_pixels(size):
    renderer = MeshRenderer(size=size, backend="cpu")
    x0, x1, y0, y1, z = -0.13, 0.21, -0.05, 0.3, 10.0
    v, tri = quad(x0, x1, y0, y1, z)
    feat = torch.tensor([[0.2, 0.4, 0.6]]).expand(4, 3)
    out = renderer(v[None], tri, feat[None])

    tx, ty = pixel_rays(renderer)
    xs, ys = tx * z, ty * z
    margin = np.minimum.reduce([np.abs(xs - x0), np.abs(xs - x1), np.abs(ys - y0), np.abs(ys - y1)])
    assert margin.min() * renderer.focal / z > 1e-3  # no pixel centre on an edge: the test is exact
    expected = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    assert expected.sum() > 20

    mask = out.mask[0, 0].numpy() > 0
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_allclose(out.depth[0, 0].numpy()[mask], z, rtol=1e-6)
    np.testing.assert_allclose(
        out.image[0].numpy()[:, mask].T, np.broadcast_to([0.2, 0.4, 0.6], (mask.sum(), 3)), rtol=1e-6
    )
    # background: 0 everywhere outside the mask
    assert not out.depth[0, 0].numpy()[~mask].any()
    assert not out.image[0].numpy()[:, ~mask].any()
    assert set(np.unique(out.mask.numpy())) == {0.0, 1.0}


def test_nearer_triangle_wins_in_either_order():
    renderer = MeshRenderer(size=S, backend="cpu")
    near, _ = quad(-0.4, 0.1, -0.3, 0.2, 8.0)
    far, _ = quad(-0.1, 0.4, -0.2, 0.3, 12.0)
    v = torch.cat([near, far])[None]
    feat = torch.cat([torch.full((4, 1), 1.0), torch.full((4, 1), 2.0)])[None]
    near_tris = torch.tensor([[0, 1, 2], [0, 2, 3]])
    for tri in (torch.cat([near_tris, near_tris + 4]), torch.cat([near_tris + 4, near_tris])):
        out = renderer(v, tri, feat)
        tx, ty = pixel_rays(renderer)
        in_near = (tx * 8 > -0.4) & (tx * 8 < 0.1) & (ty * 8 > -0.3) & (ty * 8 < 0.2)
        in_far = (tx * 12 > -0.1) & (tx * 12 < 0.4) & (ty * 12 > -0.2) & (ty * 12 < 0.3)
        assert (in_near & in_far).sum() > 20
        image, depth = out.image[0, 0].numpy(), out.depth[0, 0].numpy()
        np.testing.assert_allclose(image[in_near], 1.0)
        np.testing.assert_allclose(depth[in_near], 8.0, rtol=1e-6)
        np.testing.assert_allclose(image[in_far & ~in_near], 2.0)


def test_barycentrics_are_perspective_correct_on_a_tilted_plane():
    renderer = MeshRenderer(size=S, backend="cpu")
    # plane Z = 10 + 3 X between X = -0.6 (Z 8.2) and X = 0.6 (Z 11.8); attribute = X
    v, tri = quad(-0.6, 0.6, -0.5, 0.5, (8.2, 11.8))
    out = renderer(v[None], tri, v[None, :, :1])
    tx, _ = pixel_rays(renderer)
    z_true = 10.0 / (1.0 - 3.0 * tx)  # ray (tx Z, ty Z, Z) meets the plane
    x_true = tx * z_true
    mask = out.mask[0, 0].numpy() > 0
    assert mask.sum() > 200
    np.testing.assert_allclose(out.depth[0, 0].numpy()[mask], z_true[mask], rtol=2e-5)
    np.testing.assert_allclose(out.image[0, 0].numpy()[mask], x_true[mask], atol=2e-5)
    # screen-space (affine) interpolation between the projected edges would miss by far more
    ta, tb = -0.6 / 8.2, 0.6 / 11.8
    x_affine = -0.6 + 1.2 * (tx - ta) / (tb - ta)
    assert np.abs(x_affine - x_true)[mask].max() > 0.02
    # rast's z/w channel is the clip depth of the analytic point: (f + n)/(f - n) - 2 f n / ((f - n) Z)
    rast = rasterize(renderer.to_clip(v[None]), tri, (S, S), backend="cpu")
    zw_true = 2.0 - 15.0 / z_true
    np.testing.assert_allclose(rast[0, ..., 2].numpy()[mask], zw_true[mask], atol=1e-5)


def test_near_far_clipping_with_vertices_behind_the_camera():
    renderer = MeshRenderer(size=S, backend="cpu")
    # plane Z = 10 + 12 X from X = -2 (Z = -14, behind the camera) to X = 2 (Z = 34, beyond far)
    v, tri = quad(-2.0, 2.0, -1.0, 1.0, (-14.0, 34.0))
    out = renderer(v[None], tri)
    tx, ty = pixel_rays(renderer)
    with np.errstate(divide="ignore"):
        z_true = np.where(1 - 12 * tx > 0, 10.0 / (1.0 - 12.0 * tx), -1.0)
    inside = (np.abs(tx * z_true) <= 2) & (np.abs(ty * z_true) <= 1)
    expected = inside & (z_true >= 5.0) & (z_true <= 15.0)
    boundary = (np.abs(z_true - 5.0) < 1e-3) | (np.abs(z_true - 15.0) < 1e-3)
    mask = out.mask[0, 0].numpy() > 0
    assert expected.sum() > 100 and (~expected & inside).sum() > 100  # both planes clip something
    np.testing.assert_array_equal(mask[~boundary], expected[~boundary])
    depth = out.depth[0, 0].numpy()[mask]
    assert depth.min() >= 5.0 - 1e-3 and depth.max() <= 15.0 + 1e-3
    # these triangles take the homogeneous path: their barycentrics are perspective-correct too
    np.testing.assert_allclose(depth, z_true[mask], rtol=1e-4)


def test_projection_is_deep3dface_ndc_proj_with_y_negated():
    # Deep3DFace util/nvdiffrast.py at 224: ndc_proj = [[n/x, 0, 0, 0], [0, n/x, 0, 0],
    # [0, 0, (f+n)/(f-n), -2fn/(f-n)], [0, 0, 1, 0]] with n/x = 1015/112, applied after y -> -y
    scale = 1015.0 / 112.0
    expected = torch.tensor(
        [[scale, 0, 0, 0], [0, -scale, 0, 0], [0, 0, 2.0, -15.0], [0, 0, 1.0, 0]], dtype=torch.float32
    )
    torch.testing.assert_close(MeshRenderer().projection(), expected)
    torch.testing.assert_close(MeshRenderer(size=512).projection(), expected)  # same field of view
    v = torch.randn(2, 5, 3) + torch.tensor([0.0, 0.0, 10.0])
    homogeneous = torch.cat([v, torch.ones(2, 5, 1)], -1) @ expected.T
    torch.testing.assert_close(MeshRenderer().to_clip(v), homogeneous)


def test_rows_are_top_down_and_rast_is_bottom_up():
    renderer = MeshRenderer(size=S, backend="cpu")
    v, tri = quad(-0.2, 0.2, 0.1, 0.4)  # above the optical axis (+Y up)
    rows = np.nonzero(renderer(v[None], tri).mask[0, 0].numpy().any(1))[0]
    assert rows.size > 5 and rows.max() < S // 2  # upper rows of the image
    # nvdiffrast memory order: clip y > 0 lands in rows >= H / 2
    pos = torch.tensor([[[-0.5, 0.2, 0.0, 1.0], [0.5, 0.2, 0.0, 1.0], [0.0, 0.9, 0.0, 1.0]]])
    rast_rows = np.nonzero(
        rasterize(pos, torch.tensor([[0, 1, 2]]), (16, 16), "cpu")[0, ..., 3].numpy().any(1)
    )[0]
    assert rast_rows.size > 2 and rast_rows.min() >= 8


def test_gradients_reach_colours_lighting_and_positions():
    torch.manual_seed(0)
    renderer = MeshRenderer(size=32, backend="cpu")
    v, tri = grid_mesh(6, 0.6, 10.0)
    v = v + torch.randn_like(v) * torch.tensor([0.02, 0.02, 0.3])
    albedo = torch.rand(1, v.shape[0], 3)
    normals = torch.nn.functional.normalize(torch.randn(1, v.shape[0], 3), dim=-1)
    weights = torch.rand(1, 3, 32, 32)

    def loss(vertices: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        # toy lighting: colour = albedo * (g0 + g1 n_z + g2 n_x), differentiable in gamma
        shade = gamma[0] + gamma[1] * normals[..., 2:3] + gamma[2] * normals[..., 0:1]
        return (renderer(vertices, tri, albedo * shade).image * weights).sum()

    verts = v[None].clone().requires_grad_()
    gamma = torch.tensor([0.8, 0.3, -0.2], requires_grad=True)
    loss(verts, gamma).backward()
    assert gamma.grad is not None and verts.grad is not None

    for k in range(3):  # colour is linear in gamma: central differences are exact up to rounding
        e = torch.zeros(3)
        e[k] = 0.5
        fd = (loss(v[None], gamma.detach() + e) - loss(v[None], gamma.detach() - e)) / 1.0
        assert gamma.grad[k].item() == pytest.approx(fd.item(), rel=1e-3)
    # positions through the barycentrics: an interior vertex moved within the mesh changes no coverage
    interior = 14
    for axis in range(3):
        e = torch.zeros_like(v)
        e[interior, axis] = 1e-3 if axis < 2 else 5e-2
        fd = (loss((v + e)[None], gamma.detach()) - loss((v - e)[None], gamma.detach())) / (2 * e.sum())
        assert verts.grad[0, interior, axis].item() == pytest.approx(fd.item(), rel=5e-2, abs=1e-2)
    assert verts.grad[0, interior].abs().sum() > 1.0


def test_colour_gradient_matches_finite_differences():
    torch.manual_seed(1)
    renderer = MeshRenderer(size=32, backend="cpu")
    v, tri = grid_mesh(5, 0.5, 10.0)
    feat = torch.rand(1, v.shape[0], 2, requires_grad=True)
    weights = torch.rand(1, 2, 32, 32)
    (renderer(v[None], tri, feat).image * weights).sum().backward()
    for i, c in [(0, 0), (7, 1), (12, 0), (24, 1)]:
        bump = torch.zeros_like(feat)
        bump[0, i, c] = 1.0
        with torch.no_grad():
            fd = (renderer(v[None], tri, feat + bump).image * weights).sum() - (
                renderer(v[None], tri, feat).image * weights
            ).sum()
        assert feat.grad[0, i, c].item() == pytest.approx(fd.item(), rel=1e-4)
        assert fd.item() > 0.0


def test_batch_matches_single_renders_and_shared_attributes():
    renderer = MeshRenderer(size=S, backend="cpu")
    v, tri = grid_mesh(7, 0.4, 10.0)
    batch = torch.stack([v, v + torch.tensor([0.1, -0.05, 1.0]), v * torch.tensor([1.3, 0.7, 1.0])])
    feat = torch.rand(3, v.shape[0], 3)
    out = renderer(batch, tri, feat)
    for b in range(3):
        single = renderer(batch[b : b + 1], tri, feat[b : b + 1])
        torch.testing.assert_close(out.mask[b], single.mask[0], rtol=0, atol=0)
        torch.testing.assert_close(out.image[b], single.image[0], rtol=0, atol=0)
        torch.testing.assert_close(out.depth[b], single.depth[0], rtol=0, atol=0)
    assert not torch.equal(out.mask[0], out.mask[2])
    # (N, C) attributes broadcast over the batch, gradients summed over it
    rast = rasterize(renderer.to_clip(batch), tri, (S, S), "cpu")
    shared = feat[0].clone().requires_grad_()
    expanded = feat[0].expand(3, -1, -1).clone().requires_grad_()
    torch.testing.assert_close(interpolate(shared, rast, tri, "cpu"), interpolate(expanded, rast, tri, "cpu"))
    interpolate(shared, rast, tri, "cpu").sum().backward()
    interpolate(expanded, rast, tri, "cpu").sum().backward()
    torch.testing.assert_close(shared.grad, expanded.grad.sum(0))


def test_bad_inputs_and_config():
    pos = torch.zeros(1, 3, 4)
    with pytest.raises(InputError, match="outside"):
        rasterize(pos, torch.tensor([[0, 1, 3]]), (8, 8), "cpu")
    with pytest.raises(InputError, match="pos_clip"):
        rasterize(torch.zeros(1, 3, 3), torch.tensor([[0, 1, 2]]), (8, 8), "cpu")
    with pytest.raises(InputError, match="backend"):
        resolve_backend("opengl")
    assert resolve_backend("auto", "cpu") == "cpu"
    assert load_section(RenderConfig, "render", {"render": {"backend": "cpu"}}).backend == "cpu"


def _cuda_ready() -> bool:
    from gsmoothface.render.cuda import nvdiffrast_available

    return nvdiffrast_available()


@pytest.mark.cuda
@pytest.mark.skipif(
    not _cuda_ready(), reason="needs a CUDA GPU and nvdiffrast (pip install 'gsmoothface[gpu]')"
)
def test_cpu_matches_nvdiffrast():
    torch.manual_seed(0)
    v, tri = grid_mesh(60, 0.8, 10.0)
    r = (v[:, :2] ** 2).sum(1, keepdim=True)
    v = torch.cat([v[:, :2], v[:, 2:] - 0.8 * torch.sqrt((1 - r / 1.3).clamp(min=0))], 1)  # a bulge
    batch = torch.stack([v, v + torch.tensor([0.05, 0.1, 0.5])])
    feat = torch.rand(2, v.shape[0], 3)
    cpu = MeshRenderer(backend="cpu")(batch, tri, feat)
    gpu = MeshRenderer(backend="cuda")(batch.cuda(), tri.cuda(), feat.cuda())
    m_cpu, m_gpu = cpu.mask > 0, gpu.mask.cpu() > 0
    iou = (m_cpu & m_gpu).sum() / (m_cpu | m_gpu).sum()
    assert iou > 0.99
    both = (m_cpu & m_gpu).expand_as(cpu.image)
    assert (cpu.image[both] - gpu.image.cpu()[both]).abs().mean() < 1e-3
    assert (cpu.depth - gpu.depth.cpu()).abs()[m_cpu & m_gpu].mean() < 1e-3
