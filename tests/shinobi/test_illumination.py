"""SG shading (closed forms) against the world's quadrature of the same integrals."""

import math

import numpy as np
import pytest
import torch

from paperzoo.shinobi import illumination as il
from paperzoo.world import objects3d as o3

DIRS = o3.fibonacci_sphere(20000)


def _normals(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)


@pytest.mark.parametrize("lam", [2.0, 4.0, 10.0, 30.0])
def test_fitted_irradiance_matches_quadrature(lam):
    """Max error under 2% of the peak irradiance for sharpness >= 2 (the range the model allows)."""
    axis = torch.tensor([[0.3, 0.9, 0.3]], dtype=torch.float64)
    axis = axis / axis.norm()
    light = o3.SGLight(axis, torch.tensor([lam], dtype=torch.float64), torch.ones(1, 3, dtype=torch.float64))
    n = _normals()
    exact = (n @ DIRS.T).clamp_min(0) @ light.radiance(DIRS) * 4 * math.pi / len(DIRS)
    fitted = il.sg_irradiance(axis[None].expand(len(n), -1, -1), light.sharpness[None].expand(len(n), -1),
                              light.amplitudes[None].expand(len(n), -1, -1), n)
    assert (fitted - exact).abs().max() < 0.02 * exact.max()


def test_sg_inner_product_and_integral():
    a1 = torch.nn.functional.normalize(torch.tensor([1.0, 0.2, 0.0], dtype=torch.float64), dim=0)
    a2 = torch.nn.functional.normalize(torch.tensor([0.5, 1.0, 0.1], dtype=torch.float64), dim=0)
    g1 = o3.SGLight(a1[None], torch.tensor([5.0], dtype=torch.float64), torch.ones(1, 3, dtype=torch.float64))
    g2 = o3.SGLight(a2[None], torch.tensor([8.0], dtype=torch.float64), torch.full((1, 3), 2.0, dtype=torch.float64))
    exact = (g1.radiance(DIRS) * g2.radiance(DIRS)).sum(0) * 4 * math.pi / len(DIRS)
    closed = il.sg_inner(a1, torch.tensor(5.0, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
                         a2, torch.tensor(8.0, dtype=torch.float64), torch.full((3,), 2.0, dtype=torch.float64))
    torch.testing.assert_close(closed, exact, rtol=1e-3, atol=0)
    integral = il.sg_integral(torch.tensor(5.0, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(integral, g1.radiance(DIRS).sum(0) * 4 * math.pi / len(DIRS), rtol=1e-3, atol=0)


def test_shading_is_close_to_the_worlds_rendering_integral():
    """The model's SG shading (closed forms) against the world's quadrature, on a world light: mean absolute
    error under 5% of the mean radiance at every roughness (measured 1.5-3.7%)."""
    light = o3.random_light(np.random.default_rng(0), 6)
    n = _normals()
    g = torch.Generator().manual_seed(1)
    v = torch.nn.functional.normalize(n + 0.5 * torch.nn.functional.normalize(
        torch.randn(len(n), 3, generator=g, dtype=torch.float64), dim=-1), dim=-1)
    base = torch.rand(len(n), 3, generator=g, dtype=torch.float64)
    k = len(n)
    for r in (0.4, 0.6, 0.9):
        rough = torch.full((k,), r, dtype=torch.float64)
        world = o3.shade(n, v, base, rough, light, o3.fibonacci_sphere(8192))
        model = il.shade(n, v, base, torch.zeros(k, dtype=torch.float64), rough, light.axes[None].expand(k, -1, -1),
                         light.sharpness[None].expand(k, -1), light.amplitudes[None].expand(k, -1, -1))
        assert (model - world).abs().mean() < 0.05 * world.mean()


def test_set_light_round_trip():
    illum = il.SGIllumination(images=3, lobes=6)
    light = o3.random_light(np.random.default_rng(2), 6)
    illum.set_light(1, light)
    back = illum.light(1)
    torch.testing.assert_close(back.axes, light.axes, atol=1e-6, rtol=0)
    torch.testing.assert_close(back.sharpness, light.sharpness, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(back.amplitudes, light.amplitudes, rtol=1e-4, atol=1e-5)
    # the initial lobes give about the radiance asked for, averaged over the sphere
    init = illum.light(0)
    assert init.radiance(DIRS.float().double()).mean() == pytest.approx(0.5, rel=0.05)
