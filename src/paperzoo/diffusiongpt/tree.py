"""§II-B Tree-of-Thought of models: building the tag tree, and searching it.

Building (offline, once; four LLM calls on the flat list of every model's tags):
  1. subject categories ("fewer than 5", style ones removed);
  2. style categories ("fewer than 8");
  3. a two-level tree, styles under the subjects they suit;
  4. each model placed into the leaves its tags match (several leaves allowed).
The reply's indented "- " lines are parsed into {subject: {style: [model keys]}}; as in the
official code, a subject without a "universal" leaf gets one holding the zoo's default models.

Searching: at each level the five-experts prompt picks one child ("Selected: x") until a leaf,
whose models are the candidates. The paper says "breadth-first search"; the official code
is greedy (one child per level), which is our default. `beam=k` keeps the k children the
LLM picks one after another (each pick removed from the list before the next call) at each
level, and pools the leaves' models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.diffusiongpt.cards import ModelCard
from paperzoo.diffusiongpt.llm import LLM, parse_tree, snap
from paperzoo.diffusiongpt.parse import reply_selected
from paperzoo.diffusiongpt.prompts import TREE_ADD_MODELS, TREE_BUILD, TREE_SEARCH, TREE_STYLES, TREE_SUBJECTS

Tree = dict[str, dict[str, list[str]]]


def build_tree(llm: LLM, cards: Sequence[ModelCard], universal: Sequence[str]) -> Tree:
    """The model tree of `cards`, built by four LLM calls; `universal` are the default models
    of the leaf every subject gets (the official code: a realistic merge and a LoRA)."""
    tags = [c.tag for c in cards]
    subjects = llm(TREE_SUBJECTS.format(input=tags))
    styles = llm(TREE_STYLES.format(input=tags))
    skeleton = llm(TREE_BUILD.format(subject=subjects, style=styles)).split("Knowledge Tree:")[-1]
    model_tags = {c.model_name: c.tag for c in cards}
    placed = parse_tree(llm(TREE_ADD_MODELS.format(tree=skeleton, models=[c.key for c in cards], model_tags=model_tags)))
    keys = [c.key for c in cards]
    tree: Tree = {}
    for subject, leaves in placed.items():
        tree[subject] = {}
        if "universal" not in leaves:
            tree[subject]["universal"] = list(universal)
        for style, models in leaves.items():
            # keep the names that are zoo keys (the official code keeps exact or first-letter-lowered matches)
            names = [snap(m, keys) for m in models]
            tree[subject][style] = list(dict.fromkeys(n for n in names if n is not None))
    if not tree:
        tree = {"universal": {"universal": list(universal)}}
    return tree


def save_tree(tree: Tree, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(tree, indent=1) + "\n")
    return path


def load_tree(path: str | Path) -> Tree:
    """A tree JSON: ours ({subject: {style: [keys]}}) or the official one, whose leaves hold
    whole model cards (their model_name is kept, without the extension)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"model tree {path}: unreadable ({err})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputError(f"model tree {path}: expected {{subject: {{style: [models]}}}}")
    tree: Tree = {}
    for subject, leaves in data.items():
        tree[subject] = {}
        for style, models in leaves.items():
            if not isinstance(models, list):
                raise InputError(f"model tree {path}: leaf {subject}/{style} is not a list")
            tree[subject][style] = [(m["model_name"] if isinstance(m, dict) else str(m)).split(".")[0] for m in models]
    return tree


@dataclass
class SearchResult:
    path: list[str]  # the children chosen, level by level (with beam: the first pick's path)
    leaves: list[tuple[str, ...]]  # every leaf reached
    candidates: list[str]  # the leaves' models, in order, without repeats
    fallbacks: int = 0  # replies that named no child exactly
    replies: list[str] = field(default_factory=list)


def search_tree(llm: LLM, tree: Tree, prompt: str, beam: int = 1) -> SearchResult:
    """Walk `tree` from the root to leaves for `prompt` (greedy when beam = 1)."""
    if beam < 1:
        raise InputError(f"tree search beam {beam}: must be >= 1")
    result = SearchResult(path=[], leaves=[], candidates=[])
    frontier: list[tuple[tuple[str, ...], dict | list]] = [((), tree)]
    while frontier and not isinstance(frontier[0][1], list):
        next_frontier = []
        for prefix, node in frontier:
            options = list(node)
            for _ in range(min(beam, len(options))):
                reply = llm(TREE_SEARCH.format(search_list=options, input=prompt))
                result.replies.append(reply)
                child, fell_back = reply_selected(reply, options)
                result.fallbacks += fell_back
                next_frontier.append((prefix + (child,), node[child]))
                options.remove(child)
        frontier = next_frontier[: beam]
    result.path = list(frontier[0][0]) if frontier else []
    for prefix, models in frontier:
        result.leaves.append(prefix)
        result.candidates += [m for m in models if m not in result.candidates]
    return result
