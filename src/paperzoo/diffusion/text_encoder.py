"""A small word-level transformer text encoder: Stable Diffusion's CLIP text encoder, in miniature.

Prompts are lower-cased and split into words (punctuation dropped); words outside the
vocabulary become the unknown word, and a prompt longer than `max_tokens` is cut, as CLIP's
77-token window cuts long prompts. The empty prompt "" (the unconditional input of
classifier-free guidance) is one pad token, so cross-attention always has a key to attend to.
"""

from __future__ import annotations

import re
from typing import Sequence

import torch
from torch import Tensor, nn

from paperzoo.diffusion.config import TextToImageConfig

PAD_ID, UNK_ID = 0, 1
_WORD = re.compile(r"[a-z0-9]+")


def words(prompt: str) -> list[str]:
    return _WORD.findall(prompt.lower())


def tokenize(prompts: Sequence[str], config: TextToImageConfig) -> tuple[Tensor, Tensor]:
    """ids (N, max_tokens) int64 and mask (N, max_tokens) bool; an empty prompt keeps one pad."""
    index = {w: i for i, w in enumerate(config.vocab)}
    ids = torch.full((len(prompts), config.max_tokens), PAD_ID, dtype=torch.int64)
    mask = torch.zeros((len(prompts), config.max_tokens), dtype=torch.bool)
    for n, prompt in enumerate(prompts):
        ws = words(prompt)[: config.max_tokens]
        ids[n, : len(ws)] = torch.tensor([index.get(w, UNK_ID) for w in ws], dtype=torch.int64)
        mask[n, : max(1, len(ws))] = True
    return ids, mask


class WordTextEncoder(nn.Module):
    """Word + position embeddings, then a pre-norm transformer encoder: (N, L) ids -> (N, L, D) states.

    Shared by the text-to-image generator (`TextToImage`) and WorldDreamer's tiny text encoder."""

    def __init__(self, vocab_size: int, dim: int, max_tokens: int, heads: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.position = nn.Parameter(torch.zeros(max_tokens, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.position, std=0.02)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        x = self.embed(ids) + self.position[: ids.shape[1]]
        return self.norm(self.layers(x, src_key_padding_mask=~mask))
