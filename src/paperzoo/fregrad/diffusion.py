"""The diffusion process with a data-dependent prior (§2, Eqs. 1-4; PriorGrad), in the
wavelet domain for FreGrad.

Forward (Eq. 3), per band, with gamma_t = prod_{i<=t} (1 - beta_i) and ε ~ N(0, Σ):

    x_t = sqrt(gamma_t) x_0 + sqrt(1 - gamma_t) ε

Reverse (Eq. 4), from x_T ~ N(0, Σ):

    x_{t-1} = (x_t - beta_t / sqrt(1 - gamma_t) ε_θ(x_t, t, X)) / sqrt(1 - beta_t) + s_t z,
    z ~ N(0, Σ),  s_t^2 = beta_t (1 - gamma_{t-1}) / (1 - gamma_t)

The code clamps x to [-1, 1] after every step (config `clamp`). A sampling schedule other
than the training one (e.g. PriorGrad's 6-step "fast" betas) maps each of its steps to a
fractional training step by matching sqrt(gamma), as DiffWave's fast sampler does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from paperzoo.core.errors import ConfigError
from paperzoo.fregrad.config import VocoderConfig
from paperzoo.fregrad.schedule import gammas, linear_betas, zero_snr_betas


def training_betas(config: VocoderConfig) -> Tensor:
    """The betas the model trains with (float64): a checkpoint's own (`config.betas`, e.g. the
    official float32 schedule), else linear, or Eq. 8's zero-SNR rescaling of them."""
    if config.betas is not None:
        return torch.tensor(config.betas, dtype=torch.float64)
    betas = linear_betas(config.steps, config.beta_start, config.beta_end)
    return zero_snr_betas(betas) if config.schedule == "zero-snr" else betas


def q_sample(x0: Tensor, t: Tensor, noise: Tensor, gamma: Tensor) -> Tensor:
    """Eq. 3: x_t from x_0 [B, bands, N], integer steps t [B] (0-based) and prior noise ε ~ N(0, Σ)."""
    g = gamma.to(x0)[t].view(-1, 1, 1)
    return g.sqrt() * x0 + (1.0 - g).sqrt() * noise


def fractional_steps(train_betas: Tensor, sample_betas: Tensor) -> Tensor:
    """For each sampling step, the (fractional) training step with the same sqrt(gamma).

    A sqrt(gamma) within 1e-6 beyond either end of the training range (a schedule rounded
    to float32) is taken as that end."""
    tg, sg = gammas(train_betas).sqrt().numpy(), gammas(sample_betas).sqrt().numpy()
    steps = []
    for s in sg:
        if tg[-1] - 1e-6 <= s < tg[-1] or tg[0] < s <= tg[0] + 1e-6:
            s = min(max(s, tg[-1]), tg[0])
        for t in range(len(tg) - 1):
            if tg[t + 1] <= s <= tg[t]:
                steps.append(t + (tg[t] - s) / (tg[t] - tg[t + 1]))
                break
        else:
            raise ConfigError(f"sampling schedule: sqrt(gamma) = {s:.4g} lies outside the training schedule's range")
    return torch.tensor(np.array(steps), dtype=torch.float32)


@torch.no_grad()
def p_sample_loop(model, mel: Tensor, sigma: Tensor, betas: Tensor | None = None, generator: torch.Generator | None = None,
                  progress: bool = False) -> Tensor:
    """Eq. 4 from x_T ~ N(0, Σ) down to x_0: [B, bands, N] in the model's domain.

    `betas`: a sampling schedule (default: the training one, as the code samples: T = 50)."""
    config: VocoderConfig = model.config
    train = training_betas(config)
    if betas is None:
        betas, steps = train, torch.arange(len(train))
    else:
        betas = betas.to(torch.float64)
        same = len(betas) == len(train) and torch.allclose(betas, train)
        steps = torch.arange(len(train)) if same else fractional_steps(train, betas)
    gamma = gammas(betas)
    device = mel.device
    x = torch.randn(sigma.shape, generator=generator, device=device, dtype=mel.dtype) * sigma
    for n in tqdm(range(len(betas) - 1, -1, -1), desc="diffusion steps", leave=False, disable=not progress):
        t = steps[n].reshape(1).expand(x.shape[0]).to(device)
        eps = model(x, mel, t)
        # the official order of float32 operations: c1 (x - c2 ε̂), then + s_t (z Σ^½)
        x = float(1 / (1 - betas[n]).sqrt()) * (x - float(betas[n] / (1 - gamma[n]).sqrt()) * eps)
        if n > 0:
            s = float((betas[n] * (1 - gamma[n - 1]) / (1 - gamma[n])).sqrt())
            x = x + s * (torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype) * sigma)
        if config.clamp is not None:
            x = x.clamp(-config.clamp, config.clamp)
    return x
