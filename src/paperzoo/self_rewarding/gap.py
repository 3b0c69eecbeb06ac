"""A real policy's generation-verification gap on the checkable English tasks
(`paperzoo.world.checkable`): how well it follows the instructions, against how well it
judges answers to them with the Fig. 2 prompt. Self-Rewarding rests on the second beating
the first (§1: the model must judge better than it answers for its own pairs to carry signal).

Instruction following: greedy replies to a fixed set of held-out tasks (every family equally
often), graded by the checker: the pass rate (the exact answer, rubric 5), the rate of
replies that meet every constraint with extra text allowed (rubric >= 4) and the mean rubric
score, overall and per family.

Judging: fixed pairs of responses to held-out tasks (`judge_pairs`: from the world's
responses for judging, two of different rubric scores per task), each response scored
separately by the policy through `judge.judge`: the Fig. 2 prompt word for word in the
policy's chat template, batched KV-cached generation, the "Score: k" parser. Reported: the
parse rate (judgments with a score); of the pairs, those the judge decides (both scores
parsed and different), those it orders as the rubric does, and the pairwise accuracy over
all pairs (an undecided pair counts as wrong, as in `evaluate.judge_metrics`) and over the
decided ones. Chance: a judge that writes a uniform random score in 0..5 each time decides
5/6 of the pairs and orders half of those right: 5/12 = 0.417 over all pairs, 0.5 over the
decided ones.

`forced_scores` is a diagnostic outside the paper's protocol: the judge's reply is made to
begin with "Score: " and the next-token probabilities of the digits 0..5 give an expected
score, so a model that never writes the format can still show whether its judgment orders
the pair (what EFT would have to bring out).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from paperzoo.world import checkable
from paperzoo.world.checkable import FAMILIES, Task, rubric_score
from paperzoo.world.text import world_rng

RANDOM_JUDGE_ACCURACY = 5 / 12  # uniform scores in 0..5: P(s_a != s_b) / 2
_PAIRS = 23  # the random stream tag of the pair draws (seed, tag, index)


@dataclass(frozen=True)
class JudgePair:
    """Two responses to one task with different rubric scores."""

    task: Task
    responses: tuple[str, str]
    rubric: tuple[int, int]


def judge_pairs(split: str = "eft_eval", seed: int = 0, per_family: int = 4) -> list[JudgePair]:
    """`per_family` pairs per family: for each task of `split` (in order, each instruction
    once), its responses for judging (`checkable.responses_for_judging`), and the first two of
    different rubric scores."""
    found: dict[str, list[JudgePair]] = {f: [] for f in FAMILIES}
    seen: set[str] = set()
    index = 0
    while any(len(v) < per_family for v in found.values()):
        task = checkable.tasks(split, seed, 1, start=index)[0]
        if len(found[task.family]) < per_family and task.prompt not in seen:
            seen.add(task.prompt)
            responses = checkable.responses_for_judging(task, world_rng(seed, _PAIRS, index))
            scores = [rubric_score(task, r) for r in responses]
            other = next((j for j in range(1, len(responses)) if scores[j] != scores[0]), None)
            if other is not None:
                found[task.family].append(JudgePair(task, (responses[0], responses[other]), (scores[0], scores[other])))
        index += 1
    return [p for f in FAMILIES for p in found[f]]


def _per_family(families: Sequence[str], values: dict[str, Sequence[float]]) -> dict[str, dict]:
    out = {}
    for f in FAMILIES:
        idx = [i for i, g in enumerate(families) if g == f]
        if idx:
            out[f] = {"n": len(idx), **{k: float(np.mean([v[i] for i in idx])) for k, v in values.items()}}
    return out


def instruction_following(policy, tasks: Sequence[Task], *, max_new_tokens: int = 96, batch_size: int = 64) -> dict:
    """Greedy replies to `tasks`, graded by the checker (pass = exact, rubric 5)."""
    from paperzoo.core.generation import generate

    fmt = policy.fmt
    start = time.perf_counter()
    outs = generate(policy.model, [fmt.prompt_ids(t.prompt) for t in tasks], n=1, max_new_tokens=max_new_tokens,
                    eos_id=fmt.eos_id, pad_id=fmt.pad_id, temperature=0.0, top_p=1.0, batch_size=batch_size,
                    desc="answer")
    seconds = time.perf_counter() - start
    replies = [fmt.decode(o[0]) for o in outs]
    scores = [rubric_score(t, r) for t, r in zip(tasks, replies)]
    passed = [float(s == 5) for s in scores]
    complete = [float(s >= 4) for s in scores]
    return {
        "n": len(tasks), "pass_rate": float(np.mean(passed)), "complete_rate": float(np.mean(complete)),
        "rubric": float(np.mean(scores)),
        "per_family": _per_family([t.family for t in tasks], {"pass_rate": passed, "complete_rate": complete,
                                                              "rubric": scores}),
        "seconds": seconds, "new_tokens": sum(len(o[0]) for o in outs), "max_new_tokens": max_new_tokens,
        "prompts": [t.prompt for t in tasks], "replies": replies, "scores": scores,
    }


def _pair_outcomes(pairs: Sequence[JudgePair], judged: Sequence[tuple[float | None, float | None]]) -> dict:
    """Decided / right per pair, and the accuracies (undecided = wrong over all pairs)."""
    decided, right = [], []
    for p, (a, b) in zip(pairs, judged):
        d = a is not None and b is not None and a != b
        decided.append(float(d))
        right.append(float(d and np.sign(a - b) == np.sign(p.rubric[0] - p.rubric[1])))
    n, n_decided = len(pairs), int(sum(decided))
    return {
        "pairs": n, "decided": n_decided, "right": int(sum(right)),
        "accuracy": sum(right) / n if n else math.nan,
        "accuracy_decided": sum(right) / n_decided if n_decided else math.nan,
        "per_family": _per_family([p.task.family for p in pairs], {"decided": decided, "accuracy": right}),
    }


def judge_accuracy(policy, pairs: Sequence[JudgePair], *, judgments: int = 1, temperature: float = 0.0,
                   top_p: float = 1.0, max_new_tokens: int = 192, batch_size: int = 64, seed: int = 0) -> dict:
    """The policy judges both responses of every pair with the Fig. 2 prompt (greedy by
    default; the paper's T 0.7, p 0.9 with 3 judgments is `judgments=3, temperature=0.7,
    top_p=0.9`). A response's score is the mean of its parsed judgments."""
    from paperzoo.self_rewarding.judge import judge, parse_rate, rewards

    start = time.perf_counter()
    scores, texts = judge(policy.model, policy.fmt, [p.task.prompt for p in pairs], [list(p.responses) for p in pairs],
                          judgments=judgments, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                          generator=torch.Generator().manual_seed(seed), batch_size=batch_size, return_texts=True)
    seconds = time.perf_counter() - start
    r = rewards(scores)
    parsed = [float(np.mean([s is not None for s in cand])) for pair in scores for cand in pair]
    return {
        "parse_rate": parse_rate(scores), "judgments": judgments, "temperature": temperature, "top_p": top_p,
        **_pair_outcomes(pairs, [(a, b) for a, b in r]),
        "parse_rate_per_family": _per_family([p.task.family for p in pairs for _ in p.responses], {"parse_rate": parsed}),
        "chance_accuracy": RANDOM_JUDGE_ACCURACY, "seconds": seconds, "max_new_tokens": max_new_tokens,
        "new_tokens": sum(len(policy.fmt.tokenizer(t, add_special_tokens=False)["input_ids"])
                          for pair in texts for cand in pair for t in cand),
        "rewards": r, "texts": texts,
    }


@torch.no_grad()
def forced_scores(policy, pairs: Sequence[JudgePair], *, batch_size: int = 16) -> dict:
    """Diagnostic (not Fig. 2's protocol): the Fig. 2 prompt, the reply begun as "Score: ",
    and the expected score E[k] = Σ k p(k) / Σ p(k) over the digit tokens k = 0..5."""
    fmt = policy.fmt
    digits = [fmt._encode(str(k)) for k in range(6)]
    if any(len(d) != 1 for d in digits):
        raise ValueError("forced_scores needs a tokenizer with one token per digit 0..5")
    digit_ids = torch.tensor([d[0] for d in digits])
    prompts = [fmt.judge_prompt_ids(p.task.prompt, r) + fmt._encode("Score: ") for p in pairs for r in p.responses]
    device = next(policy.model.parameters()).device
    start = time.perf_counter()
    expected, mass = [], []
    was_training = policy.model.training
    policy.model.eval()
    for i in range(0, len(prompts), batch_size):
        chunk = prompts[i: i + batch_size]
        width = max(len(p) for p in chunk)
        ids = torch.tensor([[fmt.pad_id] * (width - len(p)) + p for p in chunk])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk])
        positions = (mask.cumsum(-1) - 1).clamp_min(0)
        logits = policy.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                              position_ids=positions.to(device)).logits[:, -1].float()
        probs = torch.softmax(logits, -1)[:, digit_ids.to(device)]
        mass += probs.sum(-1).tolist()
        expected += ((probs * torch.arange(6, device=device)).sum(-1) / probs.sum(-1)).tolist()
    policy.model.train(was_training)
    seconds = time.perf_counter() - start
    judged = [(expected[2 * i], expected[2 * i + 1]) for i in range(len(pairs))]
    return {**_pair_outcomes(pairs, judged), "digit_mass": float(np.mean(mass)), "seconds": seconds,
            "expected_scores": judged}


def measure(policy, *, split: str = "test", pair_split: str = "eft_eval", seed: int = 0, tasks_per_family: int = 7,
            pairs_per_family: int = 4, max_new_tokens: int = 96, judge_max_new_tokens: int = 192,
            batch_size: int = 64, sampled_judgments: int = 0) -> dict:
    """The whole measurement: instruction following on `tasks_per_family` held-out tasks per
    family, the greedy Fig. 2 judge on `pairs_per_family` pairs per family, the forced-score
    diagnostic on the same pairs and, with `sampled_judgments` > 0, the judge at the paper's
    decoding (T 0.7, p 0.9, that many judgments per response)."""
    tasks = checkable.tasks_by_family(split, seed, tasks_per_family)
    pairs = judge_pairs(pair_split, seed, pairs_per_family)
    out = {
        "following": instruction_following(policy, tasks, max_new_tokens=max_new_tokens, batch_size=batch_size),
        "judging": judge_accuracy(policy, pairs, max_new_tokens=judge_max_new_tokens, batch_size=batch_size, seed=seed),
        "forced": forced_scores(policy, pairs),
        "pairs": [{"prompt": p.task.prompt, "family": p.task.family, "responses": list(p.responses), "rubric": list(p.rubric)}
                  for p in pairs],
        "settings": {"split": split, "pair_split": pair_split, "seed": seed, "tasks_per_family": tasks_per_family,
                     "pairs_per_family": pairs_per_family, "threads": torch.get_num_threads()},
    }
    if sampled_judgments:
        out["judging_sampled"] = judge_accuracy(policy, pairs, judgments=sampled_judgments, temperature=0.7, top_p=0.9,
                                                max_new_tokens=judge_max_new_tokens, batch_size=batch_size, seed=seed)
    return out
