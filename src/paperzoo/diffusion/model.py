"""`TextToImage`: a text encoder and a UNet denoiser, trained with the epsilon loss.

    L_simple = E_{x_0, eps, t} || eps - eps_theta(x_t, t, c) ||^2            (Ho et al. 2020, Eq. 14)

where c is the caption's text states; with probability `caption_dropout` the caption is
replaced by the empty prompt, so the same network also models p(x) and classifier-free
guidance can combine the two at sampling time (Ho & Salimans 2022).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.diffusion.config import TextToImageConfig, config as get_config
from paperzoo.diffusion.schedule import training_scheduler
from paperzoo.diffusion.text_encoder import PAD_ID, WordTextEncoder, tokenize
from paperzoo.diffusion.unet import PatchedUNet


class TextToImage(PretrainedMixin, nn.Module):
    config_class = TextToImageConfig

    def __init__(self, config: TextToImageConfig | str = "tiny"):
        super().__init__()
        self.config = get_config(config)
        c = self.config
        self.text_encoder = WordTextEncoder(len(c.vocab), c.text_dim, c.max_tokens, c.text_heads, c.text_layers)
        self.denoiser = PatchedUNet(self.config)
        self.register_buffer("alphas_cumprod", training_scheduler(self.config).alphas_cumprod.float(), persistent=False)

    def tokenize(self, prompts: Sequence[str]) -> tuple[Tensor, Tensor]:
        ids, mask = tokenize(prompts, self.config)
        return ids.to(self.alphas_cumprod.device), mask.to(self.alphas_cumprod.device)

    def encode(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Text states (B, L, D) of token ids (B, L) with their mask."""
        return self.text_encoder(ids, mask)

    def forward(self, x_t: Tensor, t: Tensor, ids: Tensor, mask: Tensor) -> Tensor:
        """The model output (epsilon, or v) for noisy images x_t (B, C, H, W) at steps t (B,)."""
        return self.denoiser(x_t, t, self.encode(ids, mask), mask)

    def drop_captions(self, ids: Tensor, mask: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Replace each caption by the empty prompt with probability `caption_dropout`."""
        p = self.config.caption_dropout
        if p == 0:
            return ids, mask
        drop = torch.rand(ids.shape[0], generator=generator, device=ids.device) < p
        empty_mask = torch.zeros_like(mask)
        empty_mask[:, 0] = True
        ids = torch.where(drop[:, None], torch.full_like(ids, PAD_ID), ids)
        mask = torch.where(drop[:, None], empty_mask, mask)
        return ids, mask

    def loss(self, x0: Tensor, ids: Tensor, mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """L_simple (Eq. 14) on clean images x0 (B, C, H, W) in [-1, 1]."""
        ids, mask = self.drop_captions(ids, mask, generator)
        b = x0.shape[0]
        t = torch.randint(0, self.config.train_timesteps, (b,), generator=generator, device=x0.device)
        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        a = self.alphas_cumprod[t].view(b, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps  # Eq. 4
        kind = self.config.prediction_type
        target = eps if kind == "epsilon" else x0 if kind == "sample" else a.sqrt() * eps - (1 - a).sqrt() * x0
        return F.mse_loss(self(x_t, t, ids, mask), target)
