"""FreGrad's Haar transform (perfect reconstruction, pywt's sign, orthonormality) and its
zero-SNR schedule (Eq. 8: first step unchanged, terminal signal ~0, the card's values)."""

import math

import pytest
import torch

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.fregrad.dwt import haar_dwt, haar_idwt
from paperzoo.fregrad.schedule import gammas, linear_betas, zero_snr_betas


def test_haar_by_hand_and_pywt_sign():
    low, high = haar_dwt(torch.tensor([1.0, 2.0, 3.0, 5.0], dtype=torch.float64))
    r = 1 / math.sqrt(2)
    torch.testing.assert_close(low, torch.tensor([3 * r, 8 * r], dtype=torch.float64))
    torch.testing.assert_close(high, torch.tensor([-r, -2 * r], dtype=torch.float64))  # pywt: (x[2n] - x[2n+1]) / sqrt(2)


def test_haar_equals_pywt():
    import pywt

    x = torch.randn(2, 3, 514, dtype=torch.float64)
    low, high = haar_dwt(x)
    ref_low, ref_high = pywt.dwt(x.numpy(), "haar", axis=-1)
    torch.testing.assert_close(low, torch.from_numpy(ref_low), rtol=0, atol=1e-12)
    torch.testing.assert_close(high, torch.from_numpy(ref_high), rtol=0, atol=1e-12)
    torch.testing.assert_close(haar_idwt(low, high), torch.from_numpy(pywt.idwt(ref_low, ref_high, "haar", axis=-1)))


def test_haar_reconstructs_and_keeps_energy():
    x = torch.randn(3, 2, 4096, dtype=torch.float64)
    low, high = haar_dwt(x)
    assert low.shape == high.shape == (3, 2, 2048)
    torch.testing.assert_close(haar_idwt(low, high), x, rtol=0, atol=1e-12)
    torch.testing.assert_close(low.pow(2).sum() + high.pow(2).sum(), x.pow(2).sum())
    x32 = torch.randn(2, 1000)
    assert (haar_idwt(*haar_dwt(x32)) - x32).abs().max() < 1e-6


def test_haar_errors():
    with pytest.raises(InputError, match="even length"):
        haar_dwt(torch.zeros(2, 7))
    with pytest.raises(InputError, match="differ in shape"):
        haar_idwt(torch.zeros(4), torch.zeros(5))


def test_zero_snr_schedule_matches_eq8_and_the_card():
    base = linear_betas()
    assert gammas(base)[-1].item() == pytest.approx(0.2797, abs=1e-4)
    betas = zero_snr_betas(base)
    g = gammas(betas)
    assert betas[0].item() == pytest.approx(1e-4, abs=1e-12)  # the first step is unchanged
    assert g[-1].item() < 1e-6 and g[-1].item() == pytest.approx(4.50e-8, rel=0.01)
    assert betas[-1].item() == pytest.approx(0.999948, abs=1e-6)
    assert betas[1].item() == pytest.approx(0.0023726, rel=1e-3)
    assert ((betas > 0) & (betas < 1)).all() and (betas[1:] > betas[:-1]).all()
    # Eq. 8 directly: sqrt(gamma') is an affine map of sqrt(gamma) fixing the first step
    root, new = gammas(base).sqrt(), g.sqrt()
    slope = (new[-1] - new[0]) / (root[-1] - root[0])
    torch.testing.assert_close(new, new[0] + slope * (root - root[0]))


def test_schedule_errors():
    with pytest.raises(ConfigError, match="linear_betas"):
        linear_betas(50, 0.05, 1e-4)
