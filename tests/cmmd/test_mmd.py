"""CMMD's estimators: blocked sums vs a dense transcription, the official formula, and the
card's identities (§7)."""

import numpy as np
import pytest
import torch

from paperzoo.cmmd import cmmd, cmmd_both
from paperzoo.cmmd.mmd import kernel_sums, KernelSums, mmd2_from_sums
from paperzoo.core.errors import InputError


def unit(rng, n, d, shift=0.0):
    x = rng.standard_normal((n, d)) + shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def dense_reference(x, y, sigma=10.0, estimator="unbiased"):
    """Written from the definitions with explicit pairwise distances (no expansion trick)."""
    k = lambda a, b: np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    if estimator == "biased":
        return 1000 * (kxx.mean() + kyy.mean() - 2 * kxy.mean())
    off = lambda a: (a.sum() - np.trace(a)) / (len(a) * (len(a) - 1))  # noqa: E731
    return 1000 * (off(kxx) + off(kyy) - 2 * kxy.sum() / (m * n))


def official_transcription(x, y):
    """google-research cmmd/distance.py `mmd`, transcribed to numpy (biased, diagonal included)."""
    gamma = 1 / (2 * 10**2)
    x_sqnorms = np.diag(x @ x.T)
    y_sqnorms = np.diag(y @ y.T)
    k_xx = np.mean(np.exp(-gamma * (-2 * x @ x.T + x_sqnorms[:, None] + x_sqnorms[None, :])))
    k_xy = np.mean(np.exp(-gamma * (-2 * x @ y.T + x_sqnorms[:, None] + y_sqnorms[None, :])))
    k_yy = np.mean(np.exp(-gamma * (-2 * y @ y.T + y_sqnorms[:, None] + y_sqnorms[None, :])))
    return 1000 * (k_xx + k_yy - 2 * k_xy)


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize("block", [1, 7, 64, 4096])
def test_blocked_equals_dense_in_float64(estimator, block):
    rng = np.random.default_rng(0)
    x, y = unit(rng, 53, 16), unit(rng, 41, 16, shift=0.3)
    ours = cmmd(x, y, estimator=estimator, block=block)
    assert ours == pytest.approx(dense_reference(x, y, estimator=estimator), abs=1e-10)


def test_biased_matches_the_official_formula_on_768d_unit_vectors():
    rng = np.random.default_rng(1)
    x, y = unit(rng, 300, 768), unit(rng, 200, 768, shift=0.05)
    expected = official_transcription(x, y)
    assert cmmd(x, y, estimator="biased", block=64) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # float32 matmuls (the default for float32 input) stay close to it
    assert cmmd(x.astype(np.float32), y.astype(np.float32), estimator="biased") == pytest.approx(expected, rel=1e-4)


def test_identities():
    rng = np.random.default_rng(2)
    x, y = unit(rng, 40, 32), unit(rng, 30, 32, shift=0.2)
    m, n = len(x), len(y)
    assert cmmd(x, x, estimator="biased") == pytest.approx(0.0, abs=1e-12)
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 200)
    u_xx = (k.sum() - m) / (m * (m - 1))
    assert cmmd(x, x) == pytest.approx(-(2000 / m) * (1 - u_xx), abs=1e-10)
    assert cmmd(x, x) < 0  # the unbiased estimate is not clamped
    ky = np.exp(-((y[:, None] - y[None]) ** 2).sum(-1) / 200)
    u_yy = (ky.sum() - n) / (n * (n - 1))
    both = cmmd_both(x, y)
    assert both["biased"] - both["unbiased"] == pytest.approx(1000 * ((1 - u_xx) / m + (1 - u_yy) / n), abs=1e-10)
    # symmetric and permutation invariant
    assert cmmd(y, x) == pytest.approx(both["unbiased"], abs=1e-12)
    assert cmmd(x[rng.permutation(m)], y[rng.permutation(n)], block=5) == pytest.approx(both["unbiased"], abs=1e-10)


def test_near_linear_kernel_first_order():
    """sigma = 10 on unit vectors: CMMD_biased ~ 10 ||mean x - mean y||^2 within ~1%."""
    rng = np.random.default_rng(3)
    x, y = unit(rng, 500, 64, shift=0.15), unit(rng, 500, 64)
    first_order = 10 * np.sum((x.mean(0) - y.mean(0)) ** 2)
    assert cmmd(x, y, estimator="biased") == pytest.approx(first_order, rel=0.02)


def test_single_pair_value():
    """N = 1 each: biased = 2000 (1 - exp(-||x - y||^2 / 200)). The official example's 7.696
    (card §7) is the value at cos = 0.61446; cos 0.614 gives 7.7051."""
    x = np.array([[1.0, 0.0]])
    for c, pinned in ((0.614, 7.70512), (0.61446, 7.69595)):
        y = np.array([[c, np.sqrt(1 - c * c)]])
        expected = 2000 * (1 - np.exp(-np.sum((x - y) ** 2) / 200))
        assert cmmd(x, y, estimator="biased") == pytest.approx(expected, rel=1e-12)
        assert cmmd(x, y, estimator="biased") == pytest.approx(pinned, abs=1e-5)


def test_unbiased_is_unbiased_and_biased_is_not():
    """Same distribution on both sides: the unbiased mean over repeats is ~0 (within 3
    standard errors), the biased one is clearly positive and shrinks like 1/N."""
    rng = np.random.default_rng(4)
    draw = lambda n: unit(rng, n, 16)  # noqa: E731
    vals = np.array([[*cmmd_both(draw(20), draw(20)).values()] for _ in range(300)])  # unbiased, biased
    unbiased, biased = vals[:, 0], vals[:, 1]
    assert abs(unbiased.mean()) < 3 * unbiased.std() / np.sqrt(len(unbiased))
    assert biased.mean() > 10 * biased.std() / np.sqrt(len(biased))
    big = np.mean([cmmd(draw(80), draw(80), estimator="biased") for _ in range(50)])
    assert big == pytest.approx(biased.mean() / 4, rel=0.2)


def test_sums_are_shardable():
    """Any split of the row blocks adds up to the whole (what sharded.py relies on), and the
    upper-triangle shortcut for x-x equals the full square."""
    rng = np.random.default_rng(5)
    x = torch.from_numpy(unit(rng, 37, 8))
    whole = kernel_sums(x, x, 0.005, block=5, same=True)
    parts = kernel_sums(x, x, 0.005, 5, True, row_blocks=range(0, 8, 3)) + kernel_sums(x, x, 0.005, 5, True, row_blocks=range(1, 8, 3)) \
        + kernel_sums(x, x, 0.005, 5, True, row_blocks=range(2, 8, 3))
    assert parts.total == pytest.approx(whole.total, rel=1e-14) and parts.diagonal == pytest.approx(whole.diagonal, rel=1e-14)
    assert abs(whole.diagonal) < 1e-12  # sums of k - 1; k(x, x) = 1
    full = kernel_sums(x, x.clone(), 0.005, block=5)  # not told it is symmetric: the whole square
    assert whole.total == pytest.approx(full.total, rel=1e-12)
    assert mmd2_from_sums(KernelSums(4.0, 2.0), KernelSums(4.0, 2.0), KernelSums(4.0), 2, 2, "biased") == 0.0


def test_bad_input():
    rng = np.random.default_rng(6)
    x = unit(rng, 5, 4)
    with pytest.raises(InputError, match="x and y.*dimensions differ.*4 vs 3"):
        cmmd(x, unit(rng, 5, 3))
    with pytest.raises(InputError, match="y: expected a non-empty"):
        cmmd(x, np.zeros((0, 4)))
    with pytest.raises(InputError, match="x: embeddings contain NaN"):
        cmmd(np.full((3, 4), np.nan), x)
    with pytest.raises(InputError, match="estimator.*'median'"):
        cmmd(x, x, estimator="median")
    with pytest.raises(InputError, match="unbiased estimator needs at least 2"):
        cmmd(x[:1], x)
    with pytest.raises(InputError, match="block"):
        cmmd(x, x, block=0)
    with pytest.raises(InputError, match="sigma"):
        cmmd(x, x, sigma=0)
    with pytest.raises(InputError, match="x: expected a .N, D. array"):
        cmmd([[1.0]], x)
