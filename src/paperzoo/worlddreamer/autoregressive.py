"""The autoregressive baseline of Fig. 4: a same-size causal transformer over the visual tokens.

The paper contrasts its ~10 parallel steps with ~200 autoregressive ones, but trains no
such model. This is the one we measure against: the STPT's width, depth, heads and prompt
encoder, predicting the N h w tokens of a clip one by one in raster order (frame, row,
column) with full causal self-attention, and cross-attention from each token to its frame's
prompt (as the STPT's). Sampling keeps a key/value cache, so each new token costs one
forward pass over one position; `generate(..., use_cache=False)` recomputes the whole prefix
every step, the slow reference the cache is tested against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.errors import InputError
from paperzoo.worlddreamer.config import STPTConfig
from paperzoo.worlddreamer.prompts import PromptEncoder, Prompts
from paperzoo.worlddreamer.stpt import ATTENTION, ForwardCounter, PromptCrossAttention


class CausalSelfAttention(nn.Module):
    def __init__(self, config: STPTConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.dim, 3 * config.dim)
        self.out = nn.Linear(config.dim, config.dim)

    def forward(self, x: Tensor, cache: list | None = None) -> Tensor:
        """x (B, T_new, C); with a cache [k, v] the new positions attend to the cached ones too."""
        q, k, v = rearrange(self.qkv(x), "b t (three h d) -> three b h t d", three=3, h=self.heads)
        past = 0
        if cache is not None:
            if cache:
                past = cache[0].shape[2]
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        t_new, t_all = q.shape[2], k.shape[2]
        causal = torch.arange(t_all, device=x.device)[None] <= (past + torch.arange(t_new, device=x.device))[:, None]
        y = ATTENTION[0](q, k, v, attn_mask=causal)
        return self.out(rearrange(y, "b h t d -> b t (h d)"))


class TokenCrossAttention(PromptCrossAttention):
    """The STPT's cross-attention (the same projections) for a raster sequence: each token attends to the
    prompt of its own frame."""

    def forward(self, x: Tensor, prompt: Tensor, prompt_mask: Tensor, frame: Tensor) -> Tensor:
        """x (B, T, C); prompt (B, N, P, C); prompt_mask (B, N, P); frame (T,) the frame of each position."""
        q = rearrange(self.q(x), "b t (h d) -> b h t 1 d", h=self.heads)
        k, v = rearrange(self.kv(prompt[:, frame]), "b t p (two h d) -> two b h t p d", two=2, h=self.heads)
        mask = rearrange(prompt_mask[:, frame], "b t p -> b 1 t 1 p")
        y = ATTENTION[0](q, k, v, attn_mask=mask)
        return self.out(rearrange(y, "b h t 1 d -> b t (h d)"))


class ARBlock(nn.Module):
    def __init__(self, config: STPTConfig):
        super().__init__()
        c = config.dim
        self.norm_attn, self.attn = nn.LayerNorm(c), CausalSelfAttention(config)
        self.norm_cross, self.cross = nn.LayerNorm(c), TokenCrossAttention(config)
        self.norm_mlp = nn.LayerNorm(c)
        self.mlp = nn.Sequential(nn.Linear(c, config.mlp_ratio * c), nn.GELU(), nn.Linear(config.mlp_ratio * c, c))

    def forward(self, x, prompt, prompt_mask, frame, cache=None):
        x = x + self.attn(self.norm_attn(x), cache)
        x = x + self.cross(self.norm_cross(x), prompt, prompt_mask, frame)
        return x + self.mlp(self.norm_mlp(x))


class CausalVideoTransformer(PretrainedMixin, nn.Module):
    """Next-token prediction over a clip's tokens in raster order; input i is token i-1 (a BOS first)."""

    config_class = STPTConfig

    def __init__(self, config: STPTConfig | None = None):
        super().__init__()
        self.config = c = config or STPTConfig()
        self.bos = c.codebook_size  # the row the STPT uses for [MASK] serves as BOS here
        self.token_embed = nn.Embedding(c.codebook_size + 1, c.dim)
        self.frame_embed = nn.Parameter(torch.zeros(c.frames, c.dim))
        self.row_embed = nn.Parameter(torch.zeros(c.grid, c.dim))
        self.col_embed = nn.Parameter(torch.zeros(c.grid, c.dim))
        self.prompts = PromptEncoder(c)
        self.blocks = nn.ModuleList(ARBlock(c) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, c.codebook_size)
        for p in (self.token_embed.weight, self.frame_embed, self.row_embed, self.col_embed):
            nn.init.normal_(p, std=0.02)
        g = c.grid
        pos = torch.arange(c.tokens)
        self.register_buffer("frame_of", pos // (g * g), persistent=False)
        self.register_buffer("row_of", pos // g % g, persistent=False)
        self.register_buffer("col_of", pos % g, persistent=False)
        self.counter = ForwardCounter()

    def _embed(self, inputs: Tensor, start: int) -> Tensor:
        """Inputs at positions start..: token embedding + the position embeddings of the token being predicted."""
        t = torch.arange(start, start + inputs.shape[1], device=inputs.device)
        return (self.token_embed(inputs) + self.frame_embed[self.frame_of[t]] + self.row_embed[self.row_of[t]]
                + self.col_embed[self.col_of[t]])

    def _run(self, inputs, start, prompt, prompt_mask, caches=None) -> Tensor:
        self.counter.count += 1
        x = self._embed(inputs, start)
        frame = self.frame_of[start : start + inputs.shape[1]]
        for i, block in enumerate(self.blocks):
            x = block(x, prompt, prompt_mask, frame, None if caches is None else caches[i])
        return self.head(self.norm(x))

    def forward(self, ids: Tensor, prompts: Prompts | None = None) -> Tensor:
        """ids (B, N, h, w) -> logits (B, N h w, K): position i predicts token i from tokens < i."""
        c = self.config
        if ids.ndim != 4 or tuple(ids.shape[1:]) != (c.frames, c.grid, c.grid):
            raise InputError(f"ids: expected (B, {c.frames}, {c.grid}, {c.grid}) visual tokens, got {tuple(ids.shape)}")
        flat = ids.flatten(1)
        inputs = torch.cat([torch.full_like(flat[:, :1], self.bos), flat[:, :-1]], 1)
        prompt, mask = self.prompts(prompts if prompts is not None else Prompts(), len(ids), ids.device)
        return self._run(inputs, 0, prompt, mask)

    def loss(self, ids: Tensor, prompts: Prompts | None = None) -> Tensor:
        return F.cross_entropy(self(ids, prompts).flatten(0, 1).float(), ids.flatten())

    @torch.no_grad()
    def generate(self, prefix: Tensor, prompts: Prompts | None = None, temperature: float = 0.0,
                 generator: torch.Generator | None = None, use_cache: bool = True) -> tuple[Tensor, int]:
        """Continue `prefix` (B, P) raster-order tokens (e.g. frame 0's h w) to a whole clip.
        Returns ids (B, N, h, w) and the forward passes used (one per generated token)."""
        c = self.config
        b = len(prefix)
        prompt, mask = self.prompts(prompts if prompts is not None else Prompts(), b, prefix.device)
        seq = torch.cat([torch.full((b, 1), self.bos, dtype=torch.long, device=prefix.device), prefix], 1)
        caches = [[] for _ in self.blocks] if use_cache else None
        start_count = self.counter.count
        fed = 0  # inputs already in the cache
        while seq.shape[1] - 1 < c.tokens:
            if use_cache:
                logits = self._run(seq[:, fed:], fed, prompt, mask, caches)[:, -1]
                fed = seq.shape[1]
            else:
                logits = self._run(seq, 0, prompt, mask)[:, -1]
            if temperature > 0:
                nxt = torch.multinomial((logits / temperature).softmax(-1), 1, generator=generator)
            else:
                nxt = logits.argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], 1)
        ids = seq[:, 1:].reshape(b, c.frames, c.grid, c.grid)
        return ids, self.counter.count - start_count
