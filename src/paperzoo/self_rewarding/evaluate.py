"""The paper's evaluations, with the world's rubric where the paper uses GPT-4 or people.

Instruction following (Table 1 / Fig. 3): answers to the 256 test prompts (greedy), scored
by the rubric q (0..5): mean q, exact match, q per task family, and head-to-head win / tie
/ loss of model A against B on the same prompts (the paper: GPT-4 judging both orders,
disagreement = tie; the rubric is order-free, so equal q is the tie).

Reward modelling (Table 4), on the EFT eval set, each response scored by the policy as a
judge (the mean of its 3 sampled judgments, as in training):
    pairwise accuracy  of response pairs the ranks order strictly, the fraction the judge
                       orders the same way (equal judge scores or an unparsed one: wrong)
    5-best             of responses the judge scores 5, the fraction ranked best
    exact match        of instructions, the fraction whose judge order equals the ranks'
    Spearman, Kendall  per instruction (scipy; τ-b), averaged; an instruction whose
                       judge scores are all equal or unparsed counts as 0
The paper does not say how it treats ties or whether it averages per pair or per
instruction; these are our choices, fixed here.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.stats import kendalltau, spearmanr

from paperzoo.self_rewarding.data import JudgeGroup, order_agrees
from paperzoo.world.instructions import FAMILIES, Task, rubric_score


def answer(policy, instructions: Sequence[str], max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
           generator=None, progress: bool = False) -> list[str]:
    """One response per instruction (greedy by default)."""
    from paperzoo.core.generation import generate

    fmt = policy.fmt
    outs = generate(policy.model, [fmt.prompt_ids(x) for x in instructions], n=1, max_new_tokens=max_new_tokens,
                    eos_id=fmt.eos_id, pad_id=fmt.pad_id, temperature=temperature, top_p=top_p,
                    generator=generator, progress=progress, desc="answer")
    return [fmt.decode(o[0]) for o in outs]


def instruction_quality(tasks: Sequence[Task], responses: Sequence[str]) -> dict:
    """Mean rubric q, exact-match rate, mean q per family and mean length ratio."""
    q = np.array([rubric_score(t, r) for t, r in zip(tasks, responses)], dtype=float)
    exact = np.array([r.split() == list(t.answer) for t, r in zip(tasks, responses)], dtype=float)
    per_family = {f: float(q[[t.family == f for t in tasks]].mean()) for f in FAMILIES if any(t.family == f for t in tasks)}
    length = np.array([len(r.split()) / max(1, len(t.answer)) for t, r in zip(tasks, responses)])
    return {"q": float(q.mean()), "exact": float(exact.mean()), "per_family": per_family,
            "length_ratio": float(length.mean()), "scores": q.tolist()}


def head_to_head(q_a: Sequence[float], q_b: Sequence[float]) -> dict:
    """Win / tie / loss rates (%) of A against B, prompt by prompt."""
    a, b = np.asarray(q_a, float), np.asarray(q_b, float)
    n = max(1, len(a))
    return {"win": 100 * float((a > b).sum()) / n, "tie": 100 * float((a == b).sum()) / n,
            "loss": 100 * float((a < b).sum()) / n}


def head_to_head_margins(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> list[float]:
    """Per seed, A's head-to-head margin over B (win - loss, in points); a[s] and b[s] are the
    two models' per-prompt scores on seed s's test prompts."""
    out = []
    for qa, qb in zip(a, b):
        h = head_to_head(qa, qb)
        out.append(h["win"] - h["loss"])
    return out


def head_to_head_summary(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> str:
    """Win / tie / loss of A vs B over all seeds' prompts (equal scores tie), and the per-seed margins."""
    from paperzoo.core.verdict import spread

    h = head_to_head([q for qs in a for q in qs], [q for qs in b for q in qs])
    return f"{h['win']:.1f}/{h['tie']:.1f}/{h['loss']:.1f} (win - loss per seed {spread(head_to_head_margins(a, b), '{:+.1f}')})"


def judge_metrics(groups: Sequence[JudgeGroup], rewards: Sequence[Sequence[float | None]]) -> dict:
    """Table 4's metrics from the judge's reward of every response in every group."""
    right = total = 0
    five = five_best = 0
    exact = []
    spear, kend = [], []
    for g, rs in zip(groups, rewards):
        quality = np.array(g.quality, float)
        for a in range(len(rs)):
            for b in range(a + 1, len(rs)):
                if quality[a] == quality[b]:
                    continue
                total += 1
                if rs[a] is not None and rs[b] is not None and np.sign(rs[a] - rs[b]) == np.sign(quality[a] - quality[b]):
                    right += 1
        for r, q in zip(rs, quality):
            if r is not None and r == 5.0:
                five += 1
                five_best += int(q == quality.max())
        parsed = all(r is not None for r in rs)
        exact.append(parsed and order_agrees([float(r) for r in rs], quality))
        s = np.array([r if r is not None else np.nan for r in rs], float)
        if parsed and len(set(s.tolist())) > 1 and len(set(quality.tolist())) > 1:
            spear.append(float(spearmanr(s, quality).statistic))
            kend.append(float(kendalltau(s, quality).statistic))
        else:
            spear.append(0.0)
            kend.append(0.0)
    return {
        "pairwise": right / total if total else math.nan,
        "five_best": five_best / five if five else math.nan,
        "exact_match": float(np.mean(exact)) if exact else math.nan,
        "spearman": float(np.mean(spear)) if spear else math.nan,
        "kendall": float(np.mean(kend)) if kend else math.nan,
        "pairs": total,
        "scored_five": five,
    }
