"""The ViT baseline of the small-scale plan (card §5): ViT-nano, patch 8, width 128,
depth 5, 4 heads, MLP 4, learned position embeddings (interpolated for other sizes),
mean-pooled, LayerNorm + linear head (~1.03M parameters at 64 px with 10 classes)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.errors import InputError


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 64
    patch: int = 8
    width: int = 128
    depth: int = 5
    heads: int = 4
    mlp_ratio: float = 4.0
    num_classes: int = 10
    in_chans: int = 3


def vit_macs(config: ViTConfig, image_size: int) -> int:
    """Multiply-accumulates of one forward pass: patch embedding, per layer q/k/v/out
    projections (4 N d^2), attention scores and mixing (2 N^2 d), MLP (2 r N d^2), and the
    head. Quadratic in the token count N through the attention term."""
    n, d = (image_size // config.patch) ** 2, config.width
    hidden = int(config.mlp_ratio * d)
    per_layer = 4 * n * d * d + 2 * n * n * d + 2 * n * d * hidden
    return n * d * config.in_chans * config.patch**2 + config.depth * per_layer + d * config.num_classes


class ViT(PretrainedMixin, nn.Module):
    config_class = ViTConfig

    def __init__(self, config: ViTConfig | None = None):
        super().__init__()
        config = config or ViTConfig()
        self.config = config
        grid = config.image_size // config.patch
        self.patch_embed = nn.Conv2d(config.in_chans, config.width, config.patch, stride=config.patch)
        self.pos_embed = nn.Parameter(torch.randn(1, config.width, grid, grid) * 0.02)
        layer = nn.TransformerEncoderLayer(config.width, config.heads, int(config.mlp_ratio * config.width), dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.num_classes)

    def forward_features(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> token grid (B, H/p, W/p, width), channels-last like VMamba's."""
        c = self.config
        if images.ndim != 4 or images.shape[1] != c.in_chans or images.shape[-1] % c.patch or images.shape[-2] % c.patch:
            raise InputError(f"images: expected (B, {c.in_chans}, H, W) with H, W multiples of {c.patch}, got {tuple(images.shape)}")
        x = self.patch_embed(images)
        pos = self.pos_embed
        if pos.shape[-2:] != x.shape[-2:]:  # another resolution: interpolate the table (no fine-tuning)
            pos = nn.functional.interpolate(pos, size=x.shape[-2:], mode="bicubic", align_corners=False)
        h, w = x.shape[-2:]
        x = (x + pos).flatten(2).transpose(1, 2)
        return self.norm(self.blocks(x)).view(x.shape[0], h, w, -1)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.forward_features(images).mean(dim=(1, 2)))
