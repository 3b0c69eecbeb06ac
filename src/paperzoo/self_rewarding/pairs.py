"""AI Feedback Training pairs (paper §2.4): from N scored candidates, the best and the worst.

    y_i^w = argmax_n r_i^n,   y_i^l = argmin_n r_i^n,   the prompt is dropped when max = min.

Candidates whose reward is None (no parseable judgment under parse_fail="drop") take no
part. When several candidates share the best (or worst) reward, `tie_break="first"` takes
the first in sampling order and "random" draws one (the paper does not say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from paperzoo.core.errors import InputError


@dataclass(frozen=True)
class PreferencePair:
    """One AIFT example, in the field names TRL's DPOTrainer reads."""

    prompt: str
    chosen: str
    rejected: str
    chosen_score: float
    rejected_score: float


def best_and_worst(rewards: Sequence[float | None], tie_break: str = "first", rng: np.random.Generator | None = None) -> tuple[int, int] | None:
    """Indices (winner, loser) of one prompt's candidates, or None when no pair can be made
    (fewer than two scored candidates, or all scored equally)."""
    scored = [(n, r) for n, r in enumerate(rewards) if r is not None]
    if len(scored) < 2:
        return None
    values = [r for _, r in scored]
    hi, lo = max(values), min(values)
    if hi == lo:
        return None
    best = [n for n, r in scored if r == hi]
    worst = [n for n, r in scored if r == lo]
    if tie_break == "first":
        return best[0], worst[0]
    if tie_break == "random":
        rng = rng or np.random.default_rng()
        return best[int(rng.integers(len(best)))], worst[int(rng.integers(len(worst)))]
    raise ValueError(f"tie_break must be 'first' or 'random', got {tie_break!r}")


def preference_pairs(
    prompts: Sequence[str],
    candidates: Sequence[Sequence[str]],
    rewards: Sequence[Sequence[float | None]],
    tie_break: str = "first",
    seed: int = 0,
) -> list[PreferencePair]:
    """AIFT(M_t): one pair per prompt whose candidates' rewards differ."""
    if not (len(prompts) == len(candidates) == len(rewards)):
        raise InputError(f"preference_pairs: {len(prompts)} prompts, {len(candidates)} candidate lists and "
                         f"{len(rewards)} reward lists; expected one of each per prompt")
    rng = np.random.default_rng(seed)
    pairs = []
    for i, (prompt, cands, rs) in enumerate(zip(prompts, candidates, rewards)):
        if len(cands) == 0:
            raise InputError(f"preference_pairs: prompt {i} ({prompt!r}) has an empty candidate set")
        if len(cands) != len(rs):
            raise InputError(f"preference_pairs: prompt {i} has {len(cands)} candidates but {len(rs)} rewards")
        chosen = best_and_worst(rs, tie_break, rng)
        if chosen is None:
            continue
        w, l = chosen
        pairs.append(PreferencePair(prompt, cands[w], cands[l], float(rs[w]), float(rs[l])))
    return pairs
