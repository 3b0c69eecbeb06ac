"""The normality tests: correct size under the null, power against skewed data."""

import numpy as np
import pytest

from paperzoo.cmmd.normality import henze_zirkler, mardia
from paperzoo.core.errors import InputError


def test_size_under_the_null_and_power():
    rng = np.random.default_rng(0)
    hz = np.array([henze_zirkler(rng.standard_normal((150, 3)))["p"] for _ in range(200)])
    skew = np.array([mardia(rng.standard_normal((150, 3)))["skewness_p"] for _ in range(200)])
    assert 0.01 < np.mean(hz < 0.05) < 0.11  # ~5% false rejections at the 5% level
    assert 0.01 < np.mean(skew < 0.05) < 0.11
    skewed = rng.exponential(size=(150, 3))
    assert henze_zirkler(skewed)["p"] < 1e-6 and mardia(skewed)["skewness_p"] < 1e-6


def test_high_dimension_is_flagged_not_nan_silently():
    rng = np.random.default_rng(1)
    out = henze_zirkler(rng.standard_normal((300, 64)))
    assert out["degenerate"] and np.isnan(out["p"])
    assert np.isfinite(mardia(rng.standard_normal((300, 64)))["kurtosis_p"])
    with pytest.raises(InputError, match="more samples than dimensions"):
        mardia(rng.standard_normal((10, 20)))


def test_henze_zirkler_matches_pingouin():
    """Values from pingouin 0.7.0 `multivariate_normality` on the same arrays (computed once
    in a separate environment; pingouin is not a dependency)."""
    r = np.random.default_rng(0)
    cases = [
        (r.standard_normal((150, 3)), 0.8208131233201417, 0.2930407797480582),
        (r.exponential(size=(150, 3)), 6.300221384413755, 8.550704341177797e-30),
        (r.standard_t(5, size=(300, 5)), 1.7114946040955985, 1.4321927148862951e-21),
        (np.vstack([r.standard_normal((200, 8)), r.standard_normal((100, 8)) + 1.5]), 1.0226579057571816, 0.005797678843243092),
    ]
    for x, hz, p in cases:
        out = henze_zirkler(x)
        assert out["hz"] == pytest.approx(hz, rel=1e-10) and out["p"] == pytest.approx(p, rel=1e-8)
