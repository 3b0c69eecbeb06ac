"""The prior (§3.3), the biquads of the official code, the diffusion process (Eqs. 3-4),
the sampler's schedule mapping, and the loss (Eqs. 9-10)."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.signal import freqz

from paperzoo.fregrad.biquad import biquad, coefficients
from paperzoo.fregrad.config import config
from paperzoo.fregrad.diffusion import fractional_steps, p_sample_loop, q_sample, training_betas
from paperzoo.fregrad.loss import log_magnitude_loss, prior_mse, vocoder_loss
from paperzoo.fregrad.prior import EnergyStats, frame_energy, frame_sigma, sample_sigma
from paperzoo.fregrad.schedule import gammas, linear_betas

STATS = EnergyStats(0.01, 4.0)


def random_log_mel(frames=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 80, frames, generator=g) * 2.5 - 5.0


def test_sigma_lies_in_std_min_to_one():
    for name in ("fregrad", "priorgrad"):
        s = frame_sigma(random_log_mel() + 3.0, STATS, config(name))
        assert s.min() >= 0.1 - 1e-7 and s.max() <= 1.0 + 1e-6


def test_separate_prior_by_hand_without_the_filter():
    cfg = dataclasses.replace(config("fregrad"), prior_filter="none")
    mel = random_log_mel()
    sigma = frame_sigma(mel, STATS, cfg)
    e_low = mel[:, :40].exp().sum(1).sqrt().clamp(max=4.0)
    e_high = mel[:, 40:].exp().sum(1).sqrt()  # the code clips only the low band's energy at E_max
    torch.testing.assert_close(sigma[:, 0], ((e_low - 0.01) / 3.99).clamp(min=0.1))
    torch.testing.assert_close(sigma[:, 1], ((e_high - 0.01) / 3.99).clamp(min=0.1))
    # the bands see only their own bins
    louder_high = mel.clone()
    louder_high[:, 40:] += 1.0
    changed = frame_sigma(louder_high, STATS, cfg)
    torch.testing.assert_close(changed[:, 0], sigma[:, 0])
    assert (changed[:, 1] >= sigma[:, 1]).all() and (changed[:, 1] > sigma[:, 1]).any()


def test_single_and_no_prior():
    mel = random_log_mel()
    single = frame_sigma(mel, STATS, config("priorgrad"))
    assert single.shape == (2, 1, 40)
    torch.testing.assert_close(single[:, 0], ((frame_energy(mel).clamp(max=4.0) - 0.01) / 3.99).clamp(min=0.1))
    assert torch.equal(frame_sigma(mel, STATS, config("diffwave")), torch.ones(2, 1, 40))
    assert frame_sigma(mel, STATS, config("fregrad-single-prior")).shape == (2, 2, 40)


def test_sample_sigma_repeats_each_frame_over_its_samples():
    mel = random_log_mel(frames=3)
    for name, per_frame in (("fregrad", 128), ("priorgrad", 256)):
        cfg = config(name)
        s, f = sample_sigma(mel, STATS, cfg), frame_sigma(mel, STATS, cfg)
        assert s.shape[-1] == 3 * per_frame
        assert torch.equal(s[..., per_frame: 2 * per_frame], f[..., 1:2].expand(-1, -1, per_frame))


def test_biquads_match_the_cookbook_response():
    for kind, cutoff in (("highpass", 15.0), ("lowpass", 5500.0)):
        b, a = coefficients(kind, 11025, cutoff)
        _, h = freqz(b, a, worN=[cutoff], fs=11025)
        assert abs(abs(h[0]) - 0.707) < 1e-3  # |H(f_c)| = Q
    b, a = coefficients("highpass", 11025, 15.0)
    assert abs(sum(b)) < 1e-12  # no DC
    b, a = coefficients("lowpass", 11025, 5500.0)
    assert sum(b) / sum(a) == pytest.approx(1.0)
    # torchaudio clamps the filtered output to [-1, 1]
    assert biquad(torch.full((1, 50), 3.0), "lowpass", 11025, 5500.0).max() <= 1.0


def test_official_filter_decays_a_sustained_sigma():
    """The card's finding: with the code's 15 Hz high-pass, a constant sigma of 0.6 falls to ~0.24
    by frame 61 and to std_min by frame ~100 (the prior is not the paper's sigma on long clips)."""
    cfg = config("fregrad")
    level = math.log(0.6 * 3.99 + 0.01)  # one bin carries all the energy -> sigma 0.6
    mel = torch.full((1, 80, 120), -30.0)
    mel[:, 0] = 2 * level
    mel[:, 40] = 2 * level
    sigma = frame_sigma(mel, STATS, cfg)[0, 1]
    assert sigma[0] == pytest.approx(0.6, abs=0.02)
    assert 0.2 < sigma[61] < 0.28 and sigma[110] == pytest.approx(0.1)
    unfiltered = frame_sigma(mel, STATS, dataclasses.replace(cfg, prior_filter="none"))[0, 1]
    torch.testing.assert_close(unfiltered, torch.full_like(unfiltered, 0.6), atol=0.02, rtol=0)


def test_q_sample_moments():
    gamma = gammas(training_betas(config("fregrad"))).float()
    x0 = torch.full((4000, 1, 8), 0.5)
    sigma = torch.full_like(x0, 0.3)
    for t in (0, 25, 49):
        xt = q_sample(x0, torch.full((4000,), t), torch.randn_like(x0) * sigma, gamma)
        assert xt.mean().item() == pytest.approx(0.5 * gamma[t].sqrt().item(), abs=0.01)
        assert xt.std().item() == pytest.approx(0.3 * (1 - gamma[t]).sqrt().item(), rel=0.03)


class OracleDenoiser(torch.nn.Module):
    """Knows x_0, so it returns the true noise: the sampler's algebra must then give back x_0."""

    def __init__(self, cfg, x0):
        super().__init__()
        self.config, self.x0 = cfg, x0
        self.gamma = gammas(training_betas(cfg))

    def forward(self, x, mel, t):
        g = self.gamma[t.long()].view(-1, 1, 1).to(x)
        return (x - g.sqrt() * self.x0) / (1 - g).sqrt()


@pytest.mark.parametrize("name", ["fregrad", "priorgrad"])
def test_sampler_with_the_true_noise_recovers_x0(name):
    cfg = dataclasses.replace(config(name), clamp=None)
    x0 = torch.rand(2, cfg.bands, 64, dtype=torch.float64) - 0.5
    out = p_sample_loop(OracleDenoiser(cfg, x0), torch.zeros(2, 80, 64 * cfg.bands // cfg.hop + 1),
                        torch.full_like(x0, 0.5), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x0, rtol=0, atol=1e-9)


def test_sampler_is_seeded_and_clamped():
    from paperzoo.fregrad.model import Vocoder

    torch.manual_seed(0)
    model = Vocoder("tiny-fregrad")
    mel, sigma = torch.randn(1, 80, 2), torch.ones(1, 2, 256)
    a = p_sample_loop(model, mel, sigma, generator=torch.Generator().manual_seed(1))
    b = p_sample_loop(model, mel, sigma, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.abs().max() <= 1.0


def test_fractional_steps():
    train = training_betas(config("priorgrad"))
    torch.testing.assert_close(fractional_steps(train, train), torch.arange(50, dtype=torch.float32), atol=1e-4, rtol=0)
    fast = fractional_steps(train, torch.tensor([1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5], dtype=torch.float64))
    assert fast[0] == 0 and (fast.diff() > 0).all() and fast[-1] <= 49
    with pytest.raises(Exception, match="outside"):
        fractional_steps(linear_betas(50), torch.tensor([0.9, 0.9], dtype=torch.float64))


def test_loss_terms():
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(2, 2, 4096, generator=g)
    sigma = torch.rand(2, 2, 4096, generator=g) + 0.1
    assert vocoder_loss(noise, noise, sigma)["loss"].item() == pytest.approx(0.0, abs=1e-6)
    pred = noise + 0.1 * torch.randn(2, 2, 4096, generator=g)
    out = vocoder_loss(pred, noise, sigma, mag_weight=0.1)
    by_hand = sum((((pred[:, i] - noise[:, i]) / sigma[:, i]) ** 2).mean() for i in range(2))
    torch.testing.assert_close(out["mse"], by_hand)
    torch.testing.assert_close(out["loss"], out["mse"] + 0.1 * out["mag"])
    assert prior_mse(pred[:, 0], noise[:, 0], sigma[:, 0]).item() > 0
    # doubling a signal moves every log-magnitude by ln 2 (away from the clamp)
    for res in ("official", "paper"):
        assert log_magnitude_loss(noise[:, 0], 2 * noise[:, 0], res).item() == pytest.approx(np.log(2), rel=1e-4)
    assert "mag" not in vocoder_loss(pred, noise, sigma, mag_weight=0.0)
