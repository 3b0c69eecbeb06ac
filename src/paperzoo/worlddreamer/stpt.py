"""The Spatial Temporal Patchwise Transformer (STPT; §3.2, Fig. 3, Eqs. 3-4).

Visual tokens T_V (with [MASK] = id K at the positions to predict) are embedded to
E_V in R^{N x h x w x C_V}, with learned frame, row and column embeddings (ours; the paper
does not say). Each of the L layers then applies, with pre-norm residuals:

1. a 3D convolution over (N, h, w): depthwise k x k x k + pointwise (kernel unreported, ours);
2. patchwise self-attention (Eq. 3): split h x w by the stride s into patches, flatten each
   patch across all N frames and self-attend inside it, so attention costs 1/s^2 of full
   attention over N h w tokens. `window="quadrant"` takes the s x s patches of (h/s) x (w/s)
   tokens that E_P in R^{N x h/s x w/s x C_V} describes; `window="local"` the (h/s)(w/s)
   patches of s x s tokens. s = 1 is full attention;
3. spatial-wise cross-attention (Eq. 4), frames as the batch: each frame's h w tokens attend
   to that frame's multimodal prompt E_M in R^{N x (K+1) x C_V}: the text embedding E_T
   (repeated over frames) and the frame's action embedding E_A;
4. an MLP (4x).

A final norm and a linear head give K logits per token (the [MASK] row exists only in the
input table: 8193 rows in, 8192 logits out in the paper).

Image "clips" (joint image-video training: N independent images) use a diagonal attention
matrix across frames (the paper follows W.A.L.T), and a conv that does not mix frames
(`image_conv="center_tap"`: the kernel's temporal centre only; ours, the paper is silent).

The prompt always holds one learned null token (ours): with the text and action prompts
both absent or dropped (the unconditional branch of classifier-free guidance), the
cross-attention still has a key to attend to.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.errors import InputError
from paperzoo.worlddreamer.config import STPTConfig
from paperzoo.worlddreamer.prompts import PromptEncoder, Prompts


# The attention kernel every STPT attention calls: PyTorch's fused SDPA, or `math_attention`
# inside `reference_attention()` (tests and FLOP counts).
ATTENTION = [F.scaled_dot_product_attention]


@contextmanager
def reference_attention():
    """Run every STPT attention through `math_attention` inside this block."""
    ATTENTION[0] = math_attention
    try:
        yield
    finally:
        ATTENTION[0] = F.scaled_dot_product_attention


class Conv3d(nn.Module):
    """Depthwise k^3 conv + pointwise linear over E_V (B, N, h, w, C)."""

    def __init__(self, config: STPTConfig):
        super().__init__()
        k, c = config.conv_kernel, config.dim
        self.depthwise = nn.Conv3d(c, c, k, padding=k // 2, groups=c)
        self.pointwise = nn.Linear(c, c)
        self.image_conv = config.image_conv

    def forward(self, x: Tensor, is_image: Tensor | None = None) -> Tensor:
        y = rearrange(x, "b n h w c -> b c n h w")
        out = self.depthwise(y)
        if is_image is not None and bool(is_image.any()) and self.image_conv == "center_tap":
            k = self.depthwise.kernel_size[0]
            w = self.depthwise.weight[:, :, k // 2 : k // 2 + 1]  # the temporal centre tap: frames stay apart
            flat = F.conv3d(y[is_image], w, self.depthwise.bias, padding=(0, k // 2, k // 2), groups=y.shape[1])
            out = out.clone()
            out[is_image] = flat
        return self.pointwise(rearrange(out, "b c n h w -> b n h w c"))


def window_partition(x: Tensor, stride: int, window: str) -> Tensor:
    """E_V (B, N, h, w, C) -> the patches of Eq. 3: (B * s^2 or B * hw/s^2, tokens per patch, C)."""
    if window == "quadrant":
        return rearrange(x, "b n (s1 a) (s2 c) d -> (b s1 s2) (n a c) d", s1=stride, s2=stride)
    return rearrange(x, "b n (a s1) (c s2) d -> (b a c) (n s1 s2) d", s1=stride, s2=stride)


def window_merge(x: Tensor, stride: int, window: str, b: int, n: int, h: int, w: int) -> Tensor:
    """The inverse of `window_partition`."""
    if window == "quadrant":
        return rearrange(x, "(b s1 s2) (n a c) d -> b n (s1 a) (s2 c) d", b=b, s1=stride, s2=stride, n=n, a=h // stride)
    return rearrange(x, "(b a c) (n s1 s2) d -> b n (a s1) (c s2) d", b=b, a=h // stride, c=w // stride, n=n, s1=stride)


def math_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None) -> Tensor:
    """softmax(q k^T / sqrt(d)) v written out: the reference SDPA is tested against, and what
    `attention_flops` counts (two matmuls, FlopCounterMode sees them)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    return scores.softmax(-1) @ v


class PatchwiseSelfAttention(nn.Module):
    """Eq. 3: self-attention inside each patch of all N frames (s = 1: full attention)."""

    def __init__(self, config: STPTConfig):
        super().__init__()
        self.heads, self.stride, self.window = config.heads, config.stride, config.window
        self.qkv = nn.Linear(config.dim, 3 * config.dim)
        self.out = nn.Linear(config.dim, config.dim)

    def forward(self, x: Tensor, is_image: Tensor | None = None) -> Tensor:
        b, n, h, w, _ = x.shape
        windows = window_partition(x, self.stride, self.window)  # (B', T', C)
        q, k, v = rearrange(self.qkv(windows), "bw t (three h d) -> three bw h t d", three=3, h=self.heads)
        mask = None
        if is_image is not None and bool(is_image.any()):
            # images attend within their own frame: a diagonal (block) attention matrix across frames
            frame = window_partition(repeat(torch.arange(n, device=x.device), "n -> 1 n h w 1", h=h, w=w),
                                     self.stride, self.window)[0, :, 0]
            same = frame[:, None] == frame[None, :]
            per_window = len(windows) // b
            image = is_image.repeat_interleave(per_window)
            mask = (same[None] | ~image[:, None, None])[:, None]  # (B', 1, T', T')
        y = ATTENTION[0](q, k, v, attn_mask=mask)
        y = self.out(rearrange(y, "bw h t d -> bw t (h d)"))
        return window_merge(y, self.stride, self.window, b, n, h, w)


class PromptCrossAttention(nn.Module):
    """Eq. 4: each frame's h w tokens attend to that frame's prompt tokens E_M[:, t] (frames as batch)."""

    def __init__(self, config: STPTConfig):
        super().__init__()
        self.heads = config.heads
        self.q = nn.Linear(config.dim, config.dim)
        self.kv = nn.Linear(config.dim, 2 * config.dim)
        self.out = nn.Linear(config.dim, config.dim)

    def forward(self, x: Tensor, prompt: Tensor, prompt_mask: Tensor) -> Tensor:
        """x (B, N, h, w, C); prompt (B, N, P, C); prompt_mask (B, N, P) bool, True on keys to attend to."""
        b, n, h, w, _ = x.shape
        q = rearrange(self.q(x), "b n h w (hd d) -> (b n) hd (h w) d", hd=self.heads)
        k, v = rearrange(self.kv(prompt), "b n p (two hd d) -> two (b n) hd p d", two=2, hd=self.heads)
        mask = rearrange(prompt_mask, "b n p -> (b n) 1 1 p")
        y = ATTENTION[0](q, k, v, attn_mask=mask)
        return self.out(rearrange(y, "(b n) hd (h w) d -> b n h w (hd d)", b=b, h=h))


class STPTBlock(nn.Module):
    def __init__(self, config: STPTConfig):
        super().__init__()
        c = config.dim
        self.norm_conv, self.conv = nn.LayerNorm(c), Conv3d(config)
        self.norm_attn, self.attn = nn.LayerNorm(c), PatchwiseSelfAttention(config)
        self.norm_cross, self.cross = nn.LayerNorm(c), PromptCrossAttention(config)
        self.norm_mlp = nn.LayerNorm(c)
        self.mlp = nn.Sequential(nn.Linear(c, config.mlp_ratio * c), nn.GELU(), nn.Linear(config.mlp_ratio * c, c))

    def forward(self, x: Tensor, prompt: Tensor, prompt_mask: Tensor, is_image: Tensor | None = None) -> Tensor:
        x = x + self.conv(self.norm_conv(x), is_image)
        x = x + self.attn(self.norm_attn(x), is_image)
        x = x + self.cross(self.norm_cross(x), prompt, prompt_mask)
        return x + self.mlp(self.norm_mlp(x))


@dataclass
class ForwardCounter:
    """How many STPT forward passes ran (a CFG step is two); decoding reports it."""

    count: int = 0


class STPT(PretrainedMixin, nn.Module):
    """T_V (B, N, h, w) ids in [0, K] (K = [MASK]) + prompts -> logits (B, N, h, w, K)."""

    config_class = STPTConfig

    def __init__(self, config: STPTConfig | None = None):
        super().__init__()
        self.config = c = config or STPTConfig()
        self.token_embed = nn.Embedding(c.codebook_size + 1, c.dim)  # K codes + [MASK]: the paper's 8193
        self.frame_embed = nn.Parameter(torch.zeros(c.frames, c.dim))
        self.row_embed = nn.Parameter(torch.zeros(c.grid, c.dim))
        self.col_embed = nn.Parameter(torch.zeros(c.grid, c.dim))
        self.prompts = PromptEncoder(c)
        self.blocks = nn.ModuleList(STPTBlock(c) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, c.codebook_size)
        for p in (self.token_embed.weight, self.frame_embed, self.row_embed, self.col_embed):
            nn.init.normal_(p, std=0.02)
        self.counter = ForwardCounter()

    def check_ids(self, ids: Tensor) -> None:
        c = self.config
        if ids.ndim != 4 or tuple(ids.shape[1:]) != (c.frames, c.grid, c.grid):
            raise InputError(f"ids: expected (B, {c.frames}, {c.grid}, {c.grid}) visual tokens, got {tuple(ids.shape)}")
        if ids.min() < 0 or ids.max() > c.mask_id:
            raise InputError(f"ids: must lie in [0, {c.mask_id}] ({c.mask_id} = [MASK]); got [{int(ids.min())}, {int(ids.max())}]")

    def forward(self, ids: Tensor, prompts: Prompts | None = None, is_image: Tensor | None = None) -> Tensor:
        self.check_ids(ids)
        self.counter.count += 1
        b = ids.shape[0]
        x = self.token_embed(ids) + self.frame_embed[None, :, None, None] + self.row_embed[None, None, :, None] \
            + self.col_embed[None, None, None, :]
        prompt, prompt_mask = self.prompts(prompts if prompts is not None else Prompts.empty(b), b, ids.device)
        for block in self.blocks:
            x = block(x, prompt, prompt_mask, is_image)
        return self.head(self.norm(x))
