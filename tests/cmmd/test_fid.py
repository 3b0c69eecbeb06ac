"""FID on embeddings: the Gaussian closed form, both square-root routes, N > D."""

import numpy as np
import pytest

from paperzoo.cmmd import fid, frechet_distance
from paperzoo.cmmd.fid import trace_sqrt_product
from paperzoo.core.errors import InputError


def test_diagonal_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 2, 6), rng.uniform(0.1, 2, 6)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    for route in ("eigvals", "sqrtm"):
        assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b), route) == pytest.approx(expected, rel=1e-10)


def test_routes_agree_on_random_covariances():
    rng = np.random.default_rng(1)
    for d in (3, 20, 64):
        p, q = rng.standard_normal((d, 2 * d)), rng.standard_normal((d, 2 * d))
        s1, s2 = p @ p.T / d, q @ q.T / d
        assert trace_sqrt_product(s1, s2, "eigvals") == pytest.approx(trace_sqrt_product(s1, s2, "sqrtm"), rel=1e-8)


def test_fid_on_samples():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4000, 4)) * np.array([1.0, 2.0, 0.5, 1.0])
    y = rng.standard_normal((4000, 4)) * np.array([1.0, 1.0, 0.5, 3.0]) + np.array([1.0, 0, 0, 0])
    expected = 1.0 + (2 - 1) ** 2 + (1 - 3) ** 2
    assert fid(x, y) == pytest.approx(expected, rel=0.08)
    assert fid(x, y, route="sqrtm") == pytest.approx(fid(x, y), rel=1e-6)
    assert abs(fid(x, x)) < 1e-9


def test_fid_needs_more_samples_than_dimensions():
    rng = np.random.default_rng(3)
    with pytest.raises(InputError, match=r"x: FID needs more embeddings than dimensions \(N > D\), got N=64, D=64"):
        fid(rng.standard_normal((64, 64)), rng.standard_normal((100, 64)))
    with pytest.raises(InputError, match="route"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), route="svd")
