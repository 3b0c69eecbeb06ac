"""The retriever's training loss (ours: the paper does not state it; card §2 "Proposed").

ChatQA §4.1 fine-tunes the retriever on (conversational query, gold chunk) pairs and Fig. 2
shows positives and negatives, but v1 names no loss. We use InfoNCE with in-batch negatives,
the loss Dragon itself is trained with, on its dot-product score s(q, c) = E_Q(q) · E_C(c):

    L = 1/B Σ_i  -log  exp(s(q_i, c_i⁺) / τ)  /  Σ_{c ∈ C} exp(s(q_i, c) / τ)

where C is the batch's candidate set: every query's gold chunk (in-batch negatives for the
others) and, with `negatives="inbatch+samedoc"`, other chunks of each gold chunk's document as
hard negatives. τ = 1 (no temperature, as Dragon; inferred) unless set: a normalised encoder
such as MiniLM needs τ ≈ 0.05 (sentence-transformers' scale 20), since its cosines lie in [-1, 1].
Candidates are de-duplicated by chunk id, so a chunk that is gold for two queries of the batch is
one column, never a negative of itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from paperzoo.chatqa.config import RETRIEVER_NEGATIVES as NEGATIVES
from paperzoo.core.errors import ConfigError, InputError



def info_nce(q: Tensor, c: Tensor, positive: Tensor, temperature: float = 1.0) -> Tensor:
    """InfoNCE over dot-product scores. q: (B, d) queries, c: (N, d) candidates, positive: (B,)
    the column of each query's gold chunk in c. Returns the mean over the batch (a scalar)."""
    if temperature <= 0:
        raise ConfigError(f"info_nce: temperature={temperature}; expected > 0")
    scores = q @ c.T / temperature  # s(q_i, c_j) / τ, (B, N)
    return F.cross_entropy(scores.float(), positive)  # -log softmax at the positive column


@dataclass(frozen=True)
class CandidateBatch:
    """The texts of one contrastive batch: B queries, N >= B unique candidate chunks, and
    `positive[i]`, the candidate index of query i's gold chunk."""

    queries: list[str]
    candidates: list[str]
    candidate_ids: list[str]
    positive: list[int]


def candidate_batch(
    pairs: Sequence[tuple[str, str]],
    chunks: Mapping[str, tuple[str, str]],
    negatives: str = "inbatch",
    per_query: int = 1,
    rng: np.random.Generator | None = None,
) -> CandidateBatch:
    """Build one batch from (query text, gold chunk id) pairs.

    chunks: chunk id -> (document id, text) for every chunk a pair or a negative can name.
    negatives: "inbatch" (the other queries' gold chunks) or "inbatch+samedoc" (plus up to
    `per_query` other chunks of each gold chunk's document, drawn with `rng`)."""
    if negatives not in NEGATIVES:
        raise ConfigError(f"negatives={negatives!r}; expected one of {', '.join(NEGATIVES)}")
    if not pairs:
        raise InputError("candidate_batch: no (query, gold chunk) pairs")
    missing = [g for _, g in pairs if g not in chunks]
    if missing:
        raise InputError(f"candidate_batch: gold chunk {missing[0]!r} is not in the chunk table")
    order: dict[str, int] = {}
    for _, gold in pairs:
        order.setdefault(gold, len(order))
    if negatives == "inbatch+samedoc":
        rng = rng or np.random.default_rng(0)
        by_doc: dict[str, list[str]] = {}
        for cid, (doc, _) in chunks.items():
            by_doc.setdefault(doc, []).append(cid)
        for _, gold in pairs:
            others = [cid for cid in by_doc[chunks[gold][0]] if cid != gold]
            if others:
                for j in rng.permutation(len(others))[:per_query]:
                    order.setdefault(others[int(j)], len(order))
    ids = list(order)
    return CandidateBatch(
        queries=[q for q, _ in pairs],
        candidates=[chunks[cid][1] for cid in ids],
        candidate_ids=ids,
        positive=[order[g] for _, g in pairs],
    )


def contrastive_loss(model, batch: dict, temperature: float = 1.0) -> dict[str, Tensor]:
    """The loss of one tokenised batch {"queries", "contexts", "positive"} for a DualEncoder
    (what the Trainer's loss_fn calls); also reports in-batch top-1 accuracy."""
    q, c = model(queries=batch["queries"], contexts=batch["contexts"])
    positive = batch["positive"].to(q.device)
    loss = info_nce(q, c, positive, temperature)
    with torch.no_grad():
        accuracy = ((q @ c.T).argmax(1) == positive).float().mean()
    return {"loss": loss, "batch_accuracy": accuracy}
