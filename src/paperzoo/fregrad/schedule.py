"""Noise schedules: DiffWave/PriorGrad's linear betas (§2) and FreGrad's zero-terminal-SNR
rescaling of them (§3.3, Eq. 8, after Lin et al. 2024).

With gamma_t = prod_{i<=t} (1 - beta_i), Eq. 8 shifts and scales sqrt(gamma) so that the
last step has (almost) zero signal while the first step is unchanged:

    sqrt(gamma'_t) = sqrt(gamma_1) (sqrt(gamma_t) - sqrt(gamma_T) + tau) / (sqrt(gamma_1) - sqrt(gamma_T) + tau)

with tau = 1e-4 keeping gamma'_T above zero (the paper's sqrt(gamma_0) is the first
cumulative product, gamma_1). The betas are recovered from ratios of consecutive gammas:
beta'_t = 1 - gamma'_t / gamma'_{t-1}, gamma'_0 = 1. For FreGrad's base schedule
(linspace(1e-4, 0.05, 50)): gamma_T 0.280 -> 4.5e-8, beta'_1 = 1e-4, beta'_50 = 0.99995.
Computed in float64 (the official code's float32 path gives beta'_1 = 9.99e-5); a model loaded
from an official checkpoint trains and samples with the checkpoint's own float32 betas instead
(`VocoderConfig.betas`), as the official sampler does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from paperzoo.core.errors import ConfigError

TAU = 1e-4


def linear_betas(steps: int = 50, start: float = 1e-4, end: float = 0.05) -> Tensor:
    """DiffWave / PriorGrad's training schedule (T = 50, 1e-4 ... 0.05), float64."""
    if steps < 2 or not 0.0 < start < end < 1.0:
        raise ConfigError(f"linear_betas: expected steps >= 2 and 0 < start < end < 1, got {steps}, {start}, {end}")
    return torch.linspace(start, end, steps, dtype=torch.float64)


def gammas(betas: Tensor) -> Tensor:
    """gamma_t = prod_{i<=t} (1 - beta_i) (DiffWave's `noise_level`)."""
    return torch.cumprod(1.0 - betas.to(torch.float64), dim=0)


def zero_snr_betas(betas: Tensor, tau: float = TAU) -> Tensor:
    """Eq. 8: the betas whose cumulative product ends at (almost) zero signal."""
    root = gammas(betas).sqrt()
    first, last = root[0], root[-1]
    rescaled = first * (root - last + tau) / (first - last + tau)
    g = rescaled**2
    previous = torch.cat([g.new_ones(1), g[:-1]])
    return 1.0 - g / previous
