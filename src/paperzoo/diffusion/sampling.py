"""Sampling: DDIM steps with classifier-free guidance.

    eps_hat = eps(x_t, "" or the negative prompt) + w (eps(x_t, c) - eps(x_t, "" or the negative prompt))

(Ho & Salimans 2022; a negative prompt takes the empty prompt's place, as in Stable
Diffusion pipelines). w = 1 is the plain conditional model.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from paperzoo.diffusion.schedule import sampling_scheduler


@torch.no_grad()
def generate(model, prompts: Sequence[str], steps: int = 20, guidance: float = 3.0, eta: float = 0.0,
             generator: torch.Generator | None = None, negative_prompts: Sequence[str] | None = None,
             noise: Tensor | None = None) -> Tensor:
    """Images (N, C, H, W) in [-1, 1] for `prompts`. `noise` (N, C, H, W) fixes the starting
    x_T (identical noise across models, for paired comparisons); else it is drawn from `generator`."""
    cfg = model.config
    n = len(prompts)
    device = model.alphas_cumprod.device
    scheduler = sampling_scheduler(cfg)
    scheduler.set_timesteps(steps)
    shape = (n, cfg.channels, cfg.image_size, cfg.image_size)
    x = noise.to(device) if noise is not None else torch.randn(shape, generator=generator, device=device)
    if tuple(x.shape) != shape:
        raise ValueError(f"noise: shape {tuple(x.shape)}, expected {shape}")
    ids, mask = model.tokenize(list(prompts))
    neg_ids, neg_mask = model.tokenize(list(negative_prompts) if negative_prompts is not None else [""] * n)
    cond = model.encode(ids, mask)
    uncond = model.encode(neg_ids, neg_mask)
    guided = guidance != 1.0
    for t in scheduler.timesteps:
        tt = torch.full((n,), int(t), device=device, dtype=torch.long)
        if guided:
            out = model.denoiser(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, uncond]), torch.cat([mask, neg_mask]))
            out_c, out_u = out.chunk(2)
            out = out_u + guidance * (out_c - out_u)
        else:
            out = model.denoiser(x, tt, cond, mask)
        x = scheduler.step(out, int(t), x, eta=eta, generator=generator).prev_sample
    return x.clamp(-1, 1)


def to_uint8(images: Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8."""
    return images.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
