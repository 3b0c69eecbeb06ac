"""Text machinery shared by the text worlds (`instructions` for Self-Rewarding, `conversations`
for ChatQA): word-level tokenizers, the held-out hash rule, and the per-example random stream.

Word-level tokenizer. A text world's vocabulary is a short, closed list of words, so a tiny
model's tokenizer is a `tokenizers` WordLevel model over those words, wrapped as a
`transformers` PreTrainedTokenizerFast (so it saves, loads and pads like any other):

    ids  = SPECIALS (<pad> 0, <bos> 1, <eos> 2, <unk> 3), then the words in the order given
    split "whitespace"   : "Score: 3 a,b"  -> "Score:", "3", "a,b"        (the instruction world)
    split "punctuation"  : "the context."  -> "the", "context", "."       (the conversational world)

Held-out rule. An item (a prompt, an entity name) belongs to the held-out pool when the first
8 bytes of its SHA-256, read as an integer h, satisfy h < fraction * 2**64: a fixed rule that
needs no list of seen items and is the same for every seed and split.

Random stream. Every example is a pure function of a key of integers, e.g.
(seed, split_id, index): `world_rng(*key)` is numpy's PCG64 seeded with that key.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Sequence

import numpy as np

from paperzoo.core.errors import ConfigError

SPECIALS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = SPECIALS
SPLITTERS: tuple[str, ...] = ("whitespace", "punctuation")


def pre_tokenizer(split: str = "whitespace"):
    """The `tokenizers` pre-tokenizer of a split rule: "whitespace" cuts at white space only;
    "punctuation" also isolates every punctuation mark ("context." -> "context", ".")."""
    from tokenizers import pre_tokenizers

    if split == "whitespace":
        return pre_tokenizers.WhitespaceSplit()
    if split == "punctuation":
        return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")])
    raise ConfigError(f"unknown word split {split!r}; known: {', '.join(SPLITTERS)}")


@lru_cache(maxsize=None)
def _cached_pre_tokenizer(split: str):
    return pre_tokenizer(split)


def split_words(text: str, split: str = "punctuation") -> list[str]:
    """The words a world tokenizer with this split rule sees in `text` (its pre-tokenizer's output)."""
    return [w for w, _ in _cached_pre_tokenizer(split).pre_tokenize_str(text)]


def word_tokenizer(words: Sequence[str], *, split: str = "whitespace", model_max_length: int = 128):
    """A WordLevel `transformers.PreTrainedTokenizerFast` over SPECIALS + `words`.

    words: the vocabulary after the specials, in id order (duplicates and specials listed
    again keep their first id). split: "whitespace" or "punctuation" (see `pre_tokenizer`).
    Unknown words become <unk>; decoding joins tokens with single spaces.
    """
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    if model_max_length < 1:
        raise ConfigError(f"model_max_length must be >= 1, got {model_max_length}")
    vocab = list(dict.fromkeys([*SPECIALS, *words]))
    if any(not w or any(c.isspace() for c in w) for w in vocab):
        raise ConfigError("world tokenizer words must be non-empty and contain no white space")
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizer(split)
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        model_max_length=model_max_length,
    )


def key_hash(key: str) -> int:
    """h: the first 8 bytes of the SHA-256 of `key`, as a big-endian integer in [0, 2**64)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def is_held_out(key: str, fraction: float) -> bool:
    """True when `key` falls in the held-out share `fraction` of the hash range: h < fraction * 2**64."""
    return key_hash(key) < fraction * 2**64


def world_rng(*key: int) -> np.random.Generator:
    """The random stream of one example, a pure function of its integer key (e.g. seed, split id, index)."""
    return np.random.default_rng(list(key))
