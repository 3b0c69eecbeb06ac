"""Retrieval-augmented conversational QA, end to end (ChatQA §4-§5, Fig. 2):

    dialogue history + current question  --E_Q-->  q
    every chunk of the corpus            --E_C-->  c_1 .. c_N          (encoded once)
    top-k chunks by q · c_i              -->  {Context} of the App. A prompt  -->  generator

The retriever is given the whole conversation ("user: ...\\nagent: ...\\nuser: ..."), so no
query rewriting is needed: the paper's cost argument (§4.2) against rewrite-then-retrieve,
which `RewritePipeline` implements as the baseline with the same generator.

The paper gives the top-k chunks to the model in ranked order (top-5 for Doc2Dial, QuAC and
QReCC, §5.1); Table 7 also tries the reverse and a random order, the `order` field here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from paperzoo.chatqa.generator import Generator
from paperzoo.chatqa.retriever import DualEncoder, format_query, search
from paperzoo.chatqa.template import INSTRUCTION_FULL
from paperzoo.core.errors import InputError

Messages = Sequence[Mapping[str, str]]
ORDERS = ("ranked", "reverse", "random")


@dataclass(frozen=True)
class Retrieved:
    """One retrieved chunk: its corpus id, text and score q · c."""

    id: str
    text: str
    score: float


def history_and_question(messages: Messages) -> tuple[list[tuple[str, str]], str]:
    """([(question, answer), ...] of the earlier turns, the latest user question) from a
    ChatRAG-style message list that alternates user/assistant and ends with the user."""
    if not messages:
        raise InputError("the conversation is empty; expected messages ending with a user question")
    roles = [m.get("role") for m in messages]
    if roles[-1] != "user":
        raise InputError(f"the conversation must end with a user question, got {roles[-1]!r} last")
    for i, r in enumerate(roles):
        if r != ("user" if i % 2 == 0 else "assistant"):
            raise InputError(f"message {i} has role {r!r}; expected user and assistant turns alternating, "
                             "starting with the user")
    contents = [str(m.get("content", "")) for m in messages]
    history = [(contents[i], contents[i + 1]) for i in range(0, len(contents) - 1, 2)]
    return history, contents[-1]


@dataclass
class ChatPipeline:
    """Retriever + generator over a fixed corpus of chunks.

    chunks: (id, text) pairs, e.g. `docs.chunk_folder(...)` or the world's chunks. The chunk
    vectors are computed once, when the pipeline is built.
    """

    retriever: DualEncoder
    generator: Generator
    chunks: Sequence[tuple[str, str]]
    top_k: int = 5
    instruction: str = INSTRUCTION_FULL
    order: str = "ranked"
    seed: int = 0
    _vectors: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self):
        if not self.chunks:
            raise InputError("the pipeline has no chunks to retrieve from")
        if self.top_k < 1:
            raise InputError(f"top_k={self.top_k}; expected at least 1")
        if self.order not in ORDERS:
            raise InputError(f"context order {self.order!r}; expected one of {', '.join(ORDERS)}")
        if self._vectors is None:
            self._vectors = self.retriever.encode_contexts([t for _, t in self.chunks])

    def query(self, messages: Messages) -> str:
        """The retriever's query: the whole conversation (§4)."""
        return format_query(*history_and_question(messages))

    def retrieve_queries(self, queries: Sequence[str]) -> list[list[Retrieved]]:
        """Top-k chunks for each query text, best first."""
        k = min(self.top_k, len(self.chunks))
        scores, top = search(self.retriever.encode_queries(list(queries)), self._vectors, k)
        return [[Retrieved(self.chunks[j][0], self.chunks[j][1], float(s)) for s, j in zip(srow, trow)]
                for srow, trow in zip(scores.tolist(), top.tolist())]

    def retrieve(self, messages: Messages) -> list[Retrieved]:
        return self.retrieve_queries([self.query(messages)])[0]

    def context(self, retrieved: Sequence[Retrieved], index: int = 0) -> list[str]:
        """The chunk texts in the prompt's order (`order`; "random" is seeded per sample)."""
        texts = [r.text for r in retrieved]
        if self.order == "reverse":
            return texts[::-1]
        if self.order == "random":
            perm = np.random.default_rng([self.seed, index]).permutation(len(texts))
            return [texts[int(i)] for i in perm]
        return texts

    def answer_batch(self, conversations: Sequence[Messages], *, max_new_tokens: int = 64,
                     queries: Sequence[str] | None = None) -> list[tuple[str, list[Retrieved]]]:
        """(answer, retrieved chunks) for each conversation. `queries` overrides the retriever's
        query text (the rewrite baseline passes its standalone questions)."""
        queries = list(queries) if queries is not None else [self.query(m) for m in conversations]
        retrieved = self.retrieve_queries(queries)
        samples = [(m, self.context(r, i), self.instruction) for i, (m, r) in enumerate(zip(conversations, retrieved))]
        answers = self.generator.answer_batch(samples, max_new_tokens=max_new_tokens)
        return list(zip(answers, retrieved))

    def answer(self, messages: Messages, *, max_new_tokens: int = 64) -> tuple[str, list[Retrieved]]:
        return self.answer_batch([messages], max_new_tokens=max_new_tokens)[0]


@dataclass
class RewritePipeline:
    """The baseline of Table 1 / §4.2: a rewriter turns the conversation into a standalone
    question, a single-turn retriever searches with it, the same generator answers."""

    rewriter: object  # rewrite.TinyRewriter or rewrite.PromptedRewriter: .rewrite([(history, question)]) -> [str]
    pipeline: ChatPipeline

    def answer_batch(self, conversations: Sequence[Messages], *, max_new_tokens: int = 64) -> list[tuple[str, list[Retrieved]]]:
        queries = self.rewriter.rewrite([history_and_question(m) for m in conversations])
        return self.pipeline.answer_batch(conversations, max_new_tokens=max_new_tokens, queries=queries)

    def answer(self, messages: Messages, *, max_new_tokens: int = 64) -> tuple[str, list[Retrieved]]:
        return self.answer_batch([messages], max_new_tokens=max_new_tokens)[0]
