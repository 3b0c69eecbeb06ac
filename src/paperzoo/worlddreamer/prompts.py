"""The multimodal prompt E_M (§3.2): text and action embeddings, per frame.

- Text: a text encoder gives E_T in R^{K x C_T} (the paper: a pretrained T5), a linear map
  takes it to C_V, and it is repeated for the N frames. `text_encoder="tiny"` is a small word
  encoder trained with the model (the shared `WordTextEncoder`); `"t5_local"` a frozen
  T5 encoder read from a local folder (`t5_path`), as the paper's.
- Action: an MLP maps each frame's action to E_A in R^{N x C_V}.
- E_M = [E_T; E_A] in R^{N x (K+1) x C_V}. Either may be empty; we prepend one learned null
  token (ours) so the unconditional branch of CFG, with both dropped, still has a key.

A prompt absent for a sample is carried by masks (`text_mask` all False, `action_mask` False),
so one batch can mix tasks; classifier-free guidance's prompt dropout is the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from einops import repeat
from torch import Tensor, nn

from paperzoo.core.errors import InputError
from paperzoo.diffusion.text_encoder import WordTextEncoder
from paperzoo.worlddreamer.config import STPTConfig


@dataclass
class Prompts:
    """A batch of prompts; None fields are absent for every sample."""

    text_ids: Tensor | None = None  # (B, L) int64
    text_mask: Tensor | None = None  # (B, L) bool, True on real tokens
    actions: Tensor | None = None  # (B, N, action_dim) float
    action_mask: Tensor | None = None  # (B,) bool, True where the sample has actions

    @staticmethod
    def empty(b: int) -> Prompts:
        return Prompts()

    def to(self, device: torch.device | str) -> Prompts:
        return Prompts(*(None if t is None else t.to(device) for t in (self.text_ids, self.text_mask, self.actions, self.action_mask)))

    def select(self, rows: Tensor) -> Prompts:
        return Prompts(*(None if t is None else t[rows] for t in (self.text_ids, self.text_mask, self.actions, self.action_mask)))

    def keep(self, keep: Tensor) -> Prompts:
        """The prompts with everything dropped where `keep` (B,) is False (CFG's unconditional input)."""
        out = replace(self)
        if self.text_mask is not None:
            out.text_mask = self.text_mask & keep[:, None]
        if self.actions is not None:
            mask = self.action_mask if self.action_mask is not None else torch.ones_like(keep)
            out.action_mask = mask & keep
        return out

    @staticmethod
    def cat(a: Prompts, b: Prompts, n_a: int, n_b: int) -> Prompts:
        """Two batches stacked (missing fields filled as absent), for one CFG forward pass over both."""
        def both(x, y, fill_like):
            if x is None and y is None:
                return None
            ref = x if x is not None else y
            x = x if x is not None else fill_like(ref, n_a)
            y = y if y is not None else fill_like(ref, n_b)
            return torch.cat([x, y])
        zeros = lambda ref, n: torch.zeros((n, *ref.shape[1:]), dtype=ref.dtype, device=ref.device)  # noqa: E731
        mask_a = a.action_mask if a.action_mask is not None or a.actions is None else torch.ones(n_a, dtype=torch.bool, device=a.actions.device)
        mask_b = b.action_mask if b.action_mask is not None or b.actions is None else torch.ones(n_b, dtype=torch.bool, device=b.actions.device)
        return Prompts(both(a.text_ids, b.text_ids, zeros), both(a.text_mask, b.text_mask, zeros),
                       both(a.actions, b.actions, zeros), both(mask_a, mask_b, zeros))


class PromptEncoder(nn.Module):
    """Prompts -> E_M (B, N, P, C_V) and its key mask (B, N, P), P = 1 (null) + L (text) + 1 (action)."""

    def __init__(self, config: STPTConfig):
        super().__init__()
        self.config = c = config
        if c.text_encoder == "tiny":
            self.text = WordTextEncoder(len(c.text_vocab), c.text_dim, c.text_max_tokens, c.text_heads, c.text_layers)
            text_width = c.text_dim
            self._t5: list = []
        else:
            from transformers import AutoTokenizer, T5EncoderModel

            try:
                t5 = T5EncoderModel.from_pretrained(c.t5_path).eval().requires_grad_(False)
                self._t5 = [t5, AutoTokenizer.from_pretrained(c.t5_path)]  # a list: frozen, not in our state dict
            except (OSError, ValueError) as e:
                raise InputError(f"t5_path: {c.t5_path} is not a loadable T5 encoder folder ({e})") from None
            self.text = None
            text_width = t5.config.d_model
        self.text_proj = nn.Linear(text_width, c.dim)  # C_T -> C_V
        self.action_mlp = nn.Sequential(nn.Linear(c.action_dim, c.dim), nn.GELU(), nn.Linear(c.dim, c.dim))
        self.null = nn.Parameter(torch.zeros(c.dim))
        self._ids = {w: i for i, w in enumerate(c.text_vocab)}

    def tokenize(self, captions: Sequence[str]) -> tuple[Tensor, Tensor]:
        """ids (B, L) and mask (B, L) for the configured text encoder; an empty caption is an absent text."""
        c = self.config
        if self._t5:
            tok = self._t5[1](list(captions), padding="max_length", truncation=True, max_length=c.text_max_tokens,
                              return_tensors="pt")
            mask = tok.attention_mask.bool() & torch.tensor([bool(s.strip()) for s in captions])[:, None]
            return tok.input_ids, mask
        ids = torch.zeros((len(captions), c.text_max_tokens), dtype=torch.int64)
        for i, caption in enumerate(captions):
            words = caption.lower().replace(",", " ").split()
            if len(words) > c.text_max_tokens:
                raise InputError(f"prompt {caption!r}: {len(words)} words exceed the {c.text_max_tokens} the model reads")
            ids[i, : len(words)] = torch.tensor([self._ids.get(w, 1) for w in words], dtype=torch.int64)
        return ids, ids != 0

    def encode_text(self, ids: Tensor, mask: Tensor) -> Tensor:
        """E_T (B, L, C_V)."""
        if self._t5:
            t5 = self._t5[0].to(ids.device)
            with torch.no_grad():
                states = t5(input_ids=ids, attention_mask=mask.long()).last_hidden_state
            return self.text_proj(states)
        # the word encoder needs one key per row; fully absent rows are masked out below anyway
        safe = mask.clone()
        safe[:, 0] = True
        return self.text_proj(self.text(ids, safe))

    def forward(self, prompts: Prompts, b: int, device: torch.device) -> tuple[Tensor, Tensor]:
        c = self.config
        n = c.frames
        parts = [repeat(self.null, "c -> b n 1 c", b=b, n=n)]
        masks = [torch.ones((b, n, 1), dtype=torch.bool, device=device)]
        if prompts.text_ids is not None:
            text_mask = prompts.text_mask if prompts.text_mask is not None else prompts.text_ids != 0
            e_t = self.encode_text(prompts.text_ids, text_mask)
            parts.append(repeat(e_t, "b l c -> b n l c", n=n))  # E_T repeated for the N frames
            masks.append(repeat(text_mask, "b l -> b n l", n=n))
        if prompts.actions is not None:
            if prompts.actions.shape[1:] != (n, c.action_dim):
                raise InputError(f"actions: expected (B, {n}, {c.action_dim}), got {tuple(prompts.actions.shape)}")
            e_a = self.action_mlp(prompts.actions.float() / c.action_scale)  # E_A (B, N, C_V)
            parts.append(e_a[:, :, None])
            present = prompts.action_mask if prompts.action_mask is not None else torch.ones(b, dtype=torch.bool, device=device)
            masks.append(repeat(present, "b -> b n 1", n=n))
        return torch.cat(parts, dim=2), torch.cat(masks, dim=2)


def clip_prompts(token_ids: np.ndarray, token_mask: np.ndarray, actions: np.ndarray) -> Prompts:
    """Prompts of world clips (their captions and actions), as tensors."""
    return Prompts(torch.from_numpy(token_ids), torch.from_numpy(token_mask), torch.from_numpy(actions),
                   torch.ones(len(actions), dtype=torch.bool))
