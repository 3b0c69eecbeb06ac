"""The 3D world (SHINOBI): the renderer against its slow per-pixel reference, known cases of the
shading integral, cameras, and determinism."""

import math

import numpy as np
import pytest
import torch

from paperzoo.core.errors import ConfigError
from paperzoo.world import objects3d as o3

SMALL = o3.ObjectConfig(image_size=12, train_views=2, test_views=1, quadrature=256)


def _scene(seed=0, size=10, quadrature=96):
    rng = np.random.default_rng(seed)
    config = o3.ObjectConfig(image_size=size, quadrature=quadrature)
    obj = o3.make_object(config, rng)
    camera = o3.random_camera(config, rng, azimuth=1.0)
    return obj, camera, o3.random_light(rng, 4), o3.gradient_background(size, rng)


def test_render_equals_the_per_pixel_reference():
    obj, camera, light, bg = _scene()
    fast = o3.render(obj, camera, light, bg, quadrature=96)
    slow = o3.render_reference(obj, camera, light, bg, quadrature=96)
    assert fast.mask.sum() >= 10  # the object covers part of the 10x10 view
    np.testing.assert_array_equal(fast.mask, slow.mask)
    on = fast.mask > 0
    np.testing.assert_allclose(fast.depth[on], slow.depth[on], atol=2e-4)
    np.testing.assert_allclose(fast.normal[on], slow.normal[on], atol=2e-3)
    np.testing.assert_allclose(fast.image, slow.image, atol=1e-3)
    np.testing.assert_allclose(fast.basecolour, slow.basecolour, atol=1e-3)


def test_lambertian_under_constant_light_returns_albedo_times_radiance():
    """The known case of the rendering integral: int (a / pi) L max(n.w, 0) dw = a L."""
    light = o3.SGLight(torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                       torch.tensor([[0.7, 0.5, 0.3]], dtype=torch.float64))
    normals = torch.nn.functional.normalize(torch.randn(20, 3, dtype=torch.float64), dim=-1)
    albedo = torch.rand(20, 3, dtype=torch.float64)
    out = o3.shade(normals, normals, albedo, torch.full((20,), 0.5, dtype=torch.float64), light,
                   o3.fibonacci_sphere(4096), specular=False)
    np.testing.assert_allclose(out.numpy(), (albedo * torch.tensor([0.7, 0.5, 0.3])).numpy(), rtol=2e-3)


def test_quadrature_integrates_a_spherical_gaussian():
    """int mu exp(lambda (w.xi - 1)) dw = 2 pi mu (1 - exp(-2 lambda)) / lambda."""
    dirs = o3.fibonacci_sphere(8192)
    for lam in (1.0, 10.0):
        light = o3.SGLight(torch.tensor([[0.6, 0.0, 0.8]], dtype=torch.float64), torch.tensor([lam], dtype=torch.float64),
                           torch.ones(1, 3, dtype=torch.float64))
        total = light.radiance(dirs).sum(0)[0] * 4 * math.pi / len(dirs)
        assert total == pytest.approx(2 * math.pi * (1 - math.exp(-2 * lam)) / lam, rel=1e-3)


def test_specular_brdf_conserves_energy_under_white_light():
    """A white furnace: under constant L = 1, a dielectric with basecolour 1 reflects at most all of it
    (Cook-Torrance without multiple scattering loses some at high roughness) and not far from it."""
    light = o3.SGLight(torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                       torch.ones(1, 3, dtype=torch.float64))
    n = torch.tensor([[0.0, 0.0, 1.0]] * 3, dtype=torch.float64)
    v = torch.nn.functional.normalize(torch.tensor([[0.0, 0.3, 1.0]] * 3, dtype=torch.float64), dim=-1)
    out = o3.shade(n, v, torch.ones(3, 3, dtype=torch.float64), torch.tensor([0.4, 0.6, 0.9], dtype=torch.float64),
                   light, o3.fibonacci_sphere(16384))
    assert (out <= 1.02).all() and (out >= 0.85).all()


def test_cameras_project_their_own_rays_to_the_pixel_centres():
    _, camera, _, _ = _scene(size=8)
    r = camera.rotation
    torch.testing.assert_close(r.T @ r, torch.eye(3, dtype=torch.float64))
    assert torch.det(r) == pytest.approx(1.0)
    origins, dirs = camera.rays()
    pixels, depth = camera.project(origins + 2.0 * dirs)
    rows, cols = torch.meshgrid(torch.arange(8.0) + 0.5, torch.arange(8.0) + 0.5, indexing="ij")
    torch.testing.assert_close(pixels, torch.stack([cols, rows], -1).double())
    assert (depth > 0).all()
    # the camera looks at the object: the centre ray passes near the origin
    _, centre = o3.pixel_rays(r, camera.position, torch.tensor(camera.focal), (8, 8), torch.tensor([[4.0, 4.0]], dtype=torch.float64))
    miss = torch.linalg.cross(centre[0], -camera.position).norm()
    assert miss < 0.1


def test_octant_reads_the_camera_side():
    assert o3.octant(torch.tensor([1.0, -2.0, 0.5])) == (True, False, True)


def test_collection_is_deterministic_and_seeded():
    a, b = o3.collection(SMALL, 3), o3.collection(SMALL, 3)
    c = o3.collection(SMALL, 4)
    assert len(a.train) == 2 and len(a.test) == 1 and len(a.relight) == 1
    np.testing.assert_array_equal(a.train[0].image, b.train[0].image)
    assert not np.allclose(a.train[0].image, c.train[0].image)
    view = a.train[0]
    assert view.image.shape == (12, 12, 3) and view.image.dtype == np.float32
    assert 0 <= view.image.min() and view.image.max() <= 1
    np.testing.assert_array_equal(view.mask > 0, view.depth > 0)
    # the held-out light changes the object's colour, not its silhouette
    np.testing.assert_array_equal(a.relight[0].mask, a.test[0].mask)
    assert not np.allclose(a.relight[0].radiance, a.test[0].radiance)


def test_objects_fit_inside_the_bounding_sphere():
    obj = o3.make_object(o3.ObjectConfig(), np.random.default_rng(5))
    x = torch.nn.functional.normalize(torch.randn(2000, 3, dtype=torch.float64), dim=-1) * o3.BOUND
    assert (obj.sdf(x) > 0).all()
    assert obj.sdf(torch.full((1, 3), 0.01, dtype=torch.float64))[0] < 0


def test_bad_config_is_named():
    with pytest.raises(ConfigError, match="image_size"):
        o3.ObjectConfig(image_size=2)


def test_camera_frames_stay_finite_straight_above_and_below():
    backs = torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [1e-5, 1.0, 0.0], [0.3, 0.5, 0.8]], dtype=torch.float64)
    frames = o3.camera_frame(backs, torch.tensor([0.0, 0.3, 0.0, 0.1], dtype=torch.float64))
    assert torch.isfinite(frames).all()
    eye = torch.eye(3, dtype=torch.float64).expand(4, 3, 3)
    torch.testing.assert_close(frames.transpose(1, 2) @ frames, eye)
    torch.testing.assert_close(frames[..., 2], backs / backs.norm(dim=-1, keepdim=True))
