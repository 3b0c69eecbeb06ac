"""The DiffusionGPT pipeline, in the paper's order (Fig. 2):

  1. Prompt Parse (§II-A): the core prompt of the user's input;
  2. Tree-of-Thought of Models (§II-B): a walk down the tag tree to a leaf of candidate models;
  3. Model Selection with human feedback (§II-C): the advantage database's top-5 similar
     prompts, their top-5 models each; the LLM intersects these 25 with the leaf, picks the one
     "with the highest frequency and top ranking", and (official code) snaps it to a zoo name;
  4. Prompt Extension (§II-D): the prompt rewritten in the pattern of the model's example prompt;
  5. Generation with the chosen model, its negative prompt, and the extended prompt.

`Routing` switches steps off for the ablations, and holds the choices the paper leaves open:
- `selector`: "llm" (the official three prompts) or "count", its deterministic twin (most
  appearances in the database's lists, ties to the better mean rank);
- `restrict_to_leaf`: the official snap runs over EVERY zoo name, so the final model can fall
  outside the tree's leaf (the card's review, #1); True keeps it inside (ours);
- `empty`: with "count", what an empty intersection gives: "db_best" (the database's favourite,
  which is what the official prompts lead an LLM to) or "leaf_first".
Every reply that named nothing valid and was replaced is counted in the trace's `fallbacks`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch
from torch import Tensor

from paperzoo.core.errors import ConfigError
from paperzoo.diffusiongpt.database import AdvantageDatabase, Embedder
from paperzoo.diffusiongpt.llm import LLM, count_select
from paperzoo.diffusiongpt.parse import prompt_parse, reply_models
from paperzoo.diffusiongpt.prompts import MODEL_INTERSECT, MODEL_SELECT, MODEL_SNAP, PROMPT_EXTENSION
from paperzoo.diffusiongpt.tree import Tree, search_tree
from paperzoo.diffusiongpt.zoo import Zoo


@dataclass(frozen=True)
class Routing:
    parse: bool = True
    tree: bool = True
    human_feedback: bool = True
    extension: bool = True
    k_prompt: int = 5
    k_model: int = 5
    beam: int = 1
    selector: str = "llm"
    restrict_to_leaf: bool = False
    empty: str = "db_best"

    def __post_init__(self):
        if self.selector not in ("llm", "count"):
            raise ConfigError(f"Routing.selector: {self.selector!r}; expected 'llm' or 'count'")
        if self.empty not in ("db_best", "leaf_first"):
            raise ConfigError(f"Routing.empty: {self.empty!r}; expected 'db_best' or 'leaf_first'")
        if self.k_prompt < 1 or self.k_model < 1 or self.beam < 1:
            raise ConfigError(f"Routing: k_prompt, k_model and beam must be >= 1, got {self}")


@dataclass
class Trace:
    """What the pipeline did with one input (the CLI prints it)."""
    input: str
    parsed: str = ""
    tree_path: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    db_prompts: list[str] = field(default_factory=list)
    db_models: list[list[str]] = field(default_factory=list)
    intersection: list[str] = field(default_factory=list)
    model: str = ""
    prompt: str = ""
    negative_prompt: str = ""
    fallbacks: Counter = field(default_factory=Counter)
    llm_calls: int = 0

    def to_json(self) -> dict:
        return {**asdict(self), "fallbacks": dict(self.fallbacks)}

    def lines(self) -> list[str]:
        out = [f"input:        {self.input}", f"parsed:       {self.parsed}"]
        if self.tree_path:
            out.append(f"tree path:    {' > '.join(self.tree_path)}  (leaf: {', '.join(self.candidates)})")
        for p, ms in zip(self.db_prompts, self.db_models):
            out.append(f"database hit: {p!r} -> {', '.join(ms)}")
        if self.db_prompts:
            out.append(f"intersection: {', '.join(self.intersection) or '(empty)'}")
        out += [f"model:        {self.model}", f"prompt:       {self.prompt}"]
        if self.negative_prompt:
            out.append(f"negative:     {self.negative_prompt}")
        if self.fallbacks:
            out.append("fallbacks:    " + ", ".join(f"{k} {v}" for k, v in sorted(self.fallbacks.items())))
        return out


class DiffusionGPT:
    def __init__(self, llm: LLM, zoo: Zoo, tree: Tree | None, database: AdvantageDatabase | None = None,
                 embedder: Embedder | None = None, routing: Routing = Routing()):
        if routing.tree and tree is None:
            raise ConfigError("DiffusionGPT: routing.tree is on but no model tree was given")
        if routing.human_feedback and database is None:
            raise ConfigError("DiffusionGPT: routing.human_feedback is on but no advantage database was given")
        self.llm, self.zoo, self.tree, self.database, self.routing = llm, zoo, tree, database, routing
        self.embedder = embedder or (database.query_embedder() if database is not None else None)

    # -- 1-4: routing ----------------------------------------------------------------------
    def route(self, text: str) -> Trace:
        r = self.routing
        calls0 = self.llm.calls
        trace = Trace(input=text)
        if r.parse:
            trace.parsed, fell = prompt_parse(self.llm, text)
            trace.fallbacks["parse"] += fell
        else:
            trace.parsed = text
        keys = self.zoo.keys()
        if r.tree:
            found = search_tree(self.llm, self.tree, trace.parsed, beam=r.beam)
            trace.tree_path, trace.fallbacks["tree"] = found.path, found.fallbacks
            trace.candidates = [k for k in found.candidates if k in keys] or list(keys)
        else:
            trace.candidates = list(keys)
        if r.human_feedback:
            trace.model = self._select(trace)
        else:
            trace.model = trace.candidates[0]  # ToT only: the leaf's first model
        card = self.zoo.card(trace.model)
        trace.prompt = trace.parsed
        if r.extension and card.example_prompt:
            reply = self.llm(PROMPT_EXTENSION.format(inputs=trace.parsed, example_prompt=card.example_prompt)).strip()
            trace.prompt = reply.splitlines()[0].strip() if reply else trace.parsed
            trace.fallbacks["extension"] += not reply
        trace.negative_prompt = card.negative_prompt
        trace.llm_calls = self.llm.calls - calls0
        trace.fallbacks = Counter({k: v for k, v in trace.fallbacks.items() if v})
        return trace

    def _select(self, trace: Trace) -> str:
        r = self.routing
        query = self.embedder([trace.parsed])[0]
        hits = self.database.lookup(query, r.k_prompt, r.k_model)
        trace.db_prompts, trace.db_models = hits.prompts, hits.models
        keys = self.zoo.keys()
        names = trace.candidates if r.restrict_to_leaf else keys
        in_db = {m for row in hits.models for m in row}
        if r.selector == "count":
            trace.intersection = [c for c in trace.candidates if c in in_db]
            if trace.intersection:
                return count_select(trace.intersection, hits.models)
            if r.empty == "leaf_first":
                return trace.candidates[0]
            best = count_select([n for n in names if n in in_db], hits.models)
            return best or trace.candidates[0]
        reply = self.llm(MODEL_INTERSECT.format(model_list_T=trace.candidates, model_list_H=hits.models))
        trace.intersection, misses = reply_models(reply, keys)
        trace.fallbacks["intersection"] += misses
        reply = self.llm(MODEL_SELECT.format(intersection_model=trace.intersection, model_list_H=hits.models))
        picked, misses = reply_models(reply, keys)
        trace.fallbacks["selection"] += misses
        reply = self.llm(MODEL_SNAP.format(names=names, model=picked[0] if picked else reply.strip()))
        snapped, _ = reply_models(reply, names)
        if snapped:
            return snapped[0]
        trace.fallbacks["snap"] += 1
        return picked[0] if picked and picked[0] in names else trace.candidates[0]

    # -- 5: generation -----------------------------------------------------------------------
    def generate(self, texts: Sequence[str], noise: Tensor | None = None,
                 generator: torch.Generator | None = None) -> tuple[Tensor, list[Trace]]:
        """Route each input, then draw every model's images in one batch per model. `noise`
        fixes each input's starting noise (the world zoo: (N, 3, H, W); Stable Diffusion: the
        initial latents); else it is drawn from `generator`."""
        traces = [self.route(t) for t in texts]
        images: list[Tensor | None] = [None] * len(traces)
        by_model: dict[str, list[int]] = {}
        for i, t in enumerate(traces):
            by_model.setdefault(t.model, []).append(i)
        for model, idx in by_model.items():
            out = self.zoo.generate(model, [traces[i].prompt for i in idx], None if noise is None else noise[idx],
                                    [traces[i].negative_prompt for i in idx], generator=generator)
            for i, image in zip(idx, out):
                images[i] = image
        return torch.stack(images), traces
