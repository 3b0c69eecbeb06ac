"""Noise schedules, from diffusers: DDPM for training, DDIM for sampling.

Training draws x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al. 2020, Eq. 4) with
`DDPMScheduler.add_noise`; sampling takes DDIM steps (Song et al. 2021, Eq. 12) with
`DDIMScheduler.step`. `ddim_step_reference` writes that step out; the tests hold diffusers'
step against it, so the schedule we rely on is the one in the paper.
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler
from torch import Tensor

from paperzoo.diffusion.config import TextToImageConfig


def training_scheduler(config: TextToImageConfig) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=config.train_timesteps, beta_schedule=config.beta_schedule,
                         prediction_type=config.prediction_type, clip_sample=False)


def sampling_scheduler(config: TextToImageConfig) -> DDIMScheduler:
    """DDIM over "trailing" timesteps (the last step starts at t = T - 1, Lin et al. 2024),
    with the predicted x_0 clipped to the image range [-1, 1]."""
    return DDIMScheduler(num_train_timesteps=config.train_timesteps, beta_schedule=config.beta_schedule,
                         prediction_type=config.prediction_type, clip_sample=True, clip_sample_range=1.0,
                         set_alpha_to_one=True, timestep_spacing="trailing")


def ddim_step_reference(eps: Tensor, t: int, t_prev: int, x_t: Tensor, alphas_cumprod: Tensor,
                        eta: float = 0.0, noise: Tensor | None = None, clip: float | None = 1.0) -> Tensor:
    """One DDIM step x_t -> x_{t_prev}, Song et al. (2021) Eq. 12, for an epsilon model:

        x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)          (clipped to [-clip, clip])
        sigma  = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)
        x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps + sigma z

    with abar_prev = 1 when t_prev < 0 (the final step returns x0_hat).
    """
    a_t = alphas_cumprod[t]
    a_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=alphas_cumprod.dtype)
    x0 = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    if clip is not None:
        x0 = x0.clamp(-clip, clip)
    sigma = eta * ((1 - a_prev) / (1 - a_t)).sqrt() * (1 - a_t / a_prev).sqrt()
    x_prev = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).sqrt() * eps
    if eta > 0:
        x_prev = x_prev + sigma * noise
    return x_prev
