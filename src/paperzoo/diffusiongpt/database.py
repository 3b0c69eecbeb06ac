"""§II-C the Advantage Database: which models a reward model liked on prompts like this one.

Offline: a reward model scores every zoo model's image for each of N prompts ("10,000
prompts" in the paper); the scores are stored per prompt, keyed as the official code keys
them (`prompt[:100]` with newlines removed), and the prompts are embedded once.

Online, for a parsed prompt:
  1. its embedding (L2-normalised) against every stored prompt's: the top `k_prompt` (5) by
     cosine similarity;
  2. for each of them, the top `k_model` (5) models by the ImageReward score (the official
     code ranks by `image_reward` alone; the aesthetic score is stored but not used);
  3. the k_prompt lists go to the selection step (`pipeline.py`).

Embedders: all-MiniLM-L6-v2 (the official code's, real weights from `core.pretrained`) or a
hashed TF-IDF of word unigrams and bigrams, which needs nothing and is the fallback.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from paperzoo.core.atomic import atomic_dir
from paperzoo.core.errors import InputError

REWARD_KEY = "image_reward"  # the score the database ranks by (official: values['image_reward'])


def prompt_key(prompt: str) -> str:
    """The official database key: the first 100 characters, newlines removed."""
    return prompt[:100].replace("\n", "")


class Embedder(Protocol):
    name: str

    def __call__(self, texts: Sequence[str]) -> torch.Tensor: ...


class HashedTfidf:
    """Word unigrams and bigrams hashed (crc32) into `dim` buckets, weighted by smoothed IDF
    from the corpus it is fitted on, L2-normalised: (N, dim)."""

    name = "hashed-tfidf"

    def __init__(self, dim: int = 4096, idf: torch.Tensor | None = None):
        self.dim = dim
        self.idf = idf if idf is not None else torch.ones(dim)

    @staticmethod
    def _grams(text: str) -> list[str]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]

    def _bucket(self, gram: str) -> int:
        return zlib.crc32(gram.encode()) % self.dim

    def fit(self, corpus: Sequence[str]) -> "HashedTfidf":
        df = Counter()
        for text in corpus:
            df.update({self._bucket(g) for g in self._grams(text)})
        n = len(corpus)
        self.idf = torch.tensor([math.log((1 + n) / (1 + df[i])) + 1 for i in range(self.dim)], dtype=torch.float32)
        return self

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for gram, c in Counter(self._grams(text)).items():
                out[i, self._bucket(gram)] += c
        out = out * self.idf
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings: mean of the last hidden states over real
    tokens, L2-normalised (its sentence-transformers pipeline), inputs cut at 256 tokens."""

    name = "all-minilm-l6-v2"

    def __init__(self, folder: str | Path | None = None, batch_size: int = 64):
        from transformers import AutoModel, AutoTokenizer

        from paperzoo.core import pretrained

        path = pretrained.minilm() if folder is None else pretrained.model_folder(folder)
        self.model, self.tokenizer = AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
        self.max_length = pretrained.max_seq_length(path)
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        outs = []
        for i in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(list(texts[i: i + self.batch_size]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            outs.append(torch.nn.functional.normalize(mean, dim=-1))
        return torch.cat(outs) if outs else torch.zeros(0, 384)


def embedder(name: str, fit_on: Sequence[str] = ()) -> Embedder:
    """"minilm" (real weights) or "tfidf" (fitted on `fit_on`)."""
    if name in ("minilm", MiniLM.name):
        return MiniLM()
    if name in ("tfidf", HashedTfidf.name):
        return HashedTfidf().fit(fit_on)
    raise InputError(f"embedder {name!r}: expected 'minilm' or 'tfidf'")


@dataclass
class Hits:
    prompts: list[str]  # the top k_prompt stored prompts, most similar first
    similarity: list[float]
    models: list[list[str]]  # per hit, its top k_model models by image_reward, best first


class AdvantageDatabase:
    """Stored prompts, their embeddings (N, d), and prompt2scores[key][model] = {"image_reward": r, ...}."""

    def __init__(self, prompts: Sequence[str], embeddings: torch.Tensor, scores: dict[str, dict[str, dict[str, float]]],
                 embedder_name: str, idf: torch.Tensor | None = None):
        if len(prompts) != embeddings.shape[0]:
            raise InputError(f"advantage database: {len(prompts)} prompts but {embeddings.shape[0]} embeddings")
        missing = [p for p in prompts if prompt_key(p) not in scores]
        if missing:
            raise InputError(f"advantage database: no scores for prompt {missing[0]!r}")
        self.prompts, self.embeddings, self.scores = list(prompts), embeddings.float(), scores
        self.embedder_name, self.idf = embedder_name, idf

    def __len__(self) -> int:
        return len(self.prompts)

    @classmethod
    def build(cls, prompts: Sequence[str], scores: dict[str, dict[str, dict[str, float]]], embed: Embedder) -> "AdvantageDatabase":
        if not prompts:
            raise InputError("advantage database: no prompts to build it from")
        first: dict[str, str] = {}
        for p in prompts:  # one prompt per key (the official keys collapse repeats), the first kept
            first.setdefault(prompt_key(p), p)
        prompts = list(first.values())
        return cls(prompts, embed(list(prompts)), scores, embed.name, getattr(embed, "idf", None))

    def query_embedder(self) -> Embedder:
        """The embedder the stored prompts were embedded with (the TF-IDF one with its IDF)."""
        if self.embedder_name == HashedTfidf.name:
            return HashedTfidf(self.embeddings.shape[1], self.idf)
        return MiniLM()

    def top_prompts(self, query: torch.Tensor, k: int) -> tuple[list[int], list[float]]:
        """The k stored prompts most similar (cosine) to one normalised query embedding (d,)."""
        if len(self) == 0:
            raise InputError("advantage database is empty")
        sim = self.embeddings @ query
        top = torch.topk(sim, min(k, len(self)))
        return top.indices.tolist(), top.values.tolist()

    def top_models(self, prompt: str, k: int) -> list[str]:
        """The k models with the highest image_reward on a stored prompt, best first (ties by name)."""
        scores = self.scores[prompt_key(prompt)]
        return sorted(scores, key=lambda m: (-scores[m][REWARD_KEY], m))[:k]

    def lookup(self, query: torch.Tensor, k_prompt: int = 5, k_model: int = 5) -> Hits:
        idx, sim = self.top_prompts(query, k_prompt)
        prompts = [self.prompts[i] for i in idx]
        return Hits(prompts, sim, [self.top_models(p, k_model) for p in prompts])

    # -- files: prompts.json, embeddings.safetensors, prompt2scores.json (the official schema) --
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            (tmp / "prompts.json").write_text(json.dumps({"embedder": self.embedder_name, "prompts": self.prompts}, indent=0) + "\n")
            tensors = {"text_embeds": self.embeddings.contiguous()}
            if self.idf is not None:
                tensors["idf"] = self.idf.contiguous()
            save_file(tensors, str(tmp / "embeddings.safetensors"))
            (tmp / "prompt2scores.json").write_text(json.dumps(self.scores, indent=0) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "AdvantageDatabase":
        folder = Path(folder)
        files = ("prompts.json", "embeddings.safetensors", "prompt2scores.json")
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise InputError(f"advantage database {folder}: missing {', '.join(missing)} (build it with `paperzoo diffusiongpt build-db`)")
        try:
            meta = json.loads((folder / "prompts.json").read_text())
            tensors = load_file(str(folder / "embeddings.safetensors"))
            scores = json.loads((folder / "prompt2scores.json").read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"advantage database {folder}: unreadable ({err})") from None
        return cls(meta["prompts"], tensors["text_embeds"], scores, meta["embedder"], tensors.get("idf"))


def linear_scan_top(embeddings: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    """The slow, obviously correct reference for `top_prompts`: one dot product per stored
    prompt in a Python loop, then a full sort."""
    sims = [(float(np.dot(row, query)), i) for i, row in enumerate(embeddings)]
    sims.sort(key=lambda s: (-s[0], s[1]))
    return [i for _, i in sims[:k]]
