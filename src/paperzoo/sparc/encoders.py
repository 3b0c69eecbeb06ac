"""The two encoders (§3, App. D.1): f_v, a ViT over patch tokens with no CLS token, and
f_t, a bidirectional text Transformer with a pad mask. Both are pre-LN Transformers
with a final LayerNorm and return per-position features; pooling and the adaptors
g_v, g_t, h_v live in model.py.
"""

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from paperzoo.sparc.config import TextConfig, VisionConfig


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """x: (B, N, C); key_mask: (B, N) bool, True where a position may be attended to."""
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class Block(nn.Module):
    """Pre-LN Transformer block: x + Attn(LN(x)), then x + MLP(LN(x)) (12 C^2 + 13 C parameters)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float):
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.norm1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), key_mask)
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """f_v: images (B, C, H, W) in [0, 1] -> patch features (B, P, width), no CLS token."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.config = config
        c = config
        self.patch_embed = nn.Conv2d(c.channels, c.width, kernel_size=c.patch_size, stride=c.patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, c.num_patches, c.width))
        self.blocks = nn.ModuleList(Block(c.width, c.heads, c.mlp_ratio) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        nn.init.normal_(self.pos_embed, std=0.02)
        # Images arrive in [0, 1]; centring them is part of the encoder so every caller agrees.
        self.register_buffer("pixel_mean", torch.full((1, c.channels, 1, 1), 0.5), persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        x = self.patch_embed(images - self.pixel_mean)
        x = rearrange(x, "b c h w -> b (h w) c") + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class TextTransformer(nn.Module):
    """f_t: token ids (B, L) with pad mask (B, L) -> token features (B, L, width).

    Bidirectional: every valid token attends to every valid token; pads are never attended to.
    """

    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        c = config
        self.token_embed = nn.Embedding(c.vocab_size, c.width)
        self.pos_embed = nn.Parameter(torch.zeros(1, c.context_length, c.width))
        self.blocks = nn.ModuleList(Block(c.width, c.heads, c.mlp_ratio) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def forward(self, token_ids: Tensor, token_mask: Tensor) -> Tensor:
        L = token_ids.shape[1]
        x = self.token_embed(token_ids) + self.pos_embed[:, :L]
        # A row with no valid token would make attention all -inf; let it attend to itself.
        key_mask = token_mask | ~token_mask.any(dim=1, keepdim=True)
        for block in self.blocks:
            x = block(x, key_mask)
        return self.norm(x)
