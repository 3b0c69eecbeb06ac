"""Seed data (paper §2.1, §3.1.1) and the files the loop reads and writes.

IFT: (instruction, response) pairs written by people (Open Assistant's rank-0 first turns);
here the world's tasks with their gold answers. The SFT baseline trains on IFT alone.

EFT: judge demonstrations. Each EFT instruction has several responses with human ranks;
the input is the judge prompt for one (instruction, response), the target a
justification ending in "Score: k". The world's responses are corrupted gold answers
(`world.instructions.responses_for_judging`) ranked by the rubric; `eft_targets="oracle"`
writes the target from the rubric (card §5), "self_filtered" is the paper's procedure
(`self_filtered_eft`): the SFT baseline judges, an instruction's judgments are kept when
their order agrees with the ranks, and the most common score is downsampled.

Files: JSONL, one object per line. SFT examples are {"prompt", "completion"}; preference
pairs are {"prompt", "chosen", "rejected"}, the standard explicit-prompt format TRL's
DPOTrainer reads. A malformed line is refused with its line number; files are written
atomically, so an interrupted run leaves no partial file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.self_rewarding.formats import JudgeRequest, judgment_text, rubric_judgment
from paperzoo.world import checkable
from paperzoo.world.instructions import Task, criteria, responses_for_judging, rubric_score, tasks


@dataclass(frozen=True)
class JudgeGroup:
    """One EFT instruction with its ranked responses (rank 0 best; equal quality, equal rank)."""

    instruction: str
    responses: tuple[str, ...]
    quality: tuple[float, ...]  # higher is better (the world's rubric q; OASST: -rank)
    targets: tuple[str, ...] = ()  # one judgment text per response, when known


def ift_examples(n: int, seed: int) -> list[tuple[str, str]]:
    """(instruction, gold answer) for the world's IFT split."""
    return [(t.prompt, t.gold) for t in tasks("ift", seed, n)]


def world_judge_groups(split: str, n: int, seed: int) -> list[JudgeGroup]:
    """n EFT instructions of `split` ("eft_train" or "eft_eval"), each with 2-4 responses
    scored by the rubric and their oracle judgments."""
    groups = []
    for index, task in enumerate(tasks(split, seed, n)):
        rng = np.random.default_rng([seed, 17, index])
        outs = responses_for_judging(task, rng)
        texts = tuple(" ".join(o) for o in outs)
        q = tuple(float(rubric_score(task, o)) for o in outs)
        targets = tuple(judgment_text(task.gold, criteria(task, o), int(s)) for o, s in zip(outs, q))
        groups.append(JudgeGroup(task.prompt, texts, q, targets))
    return groups


def checkable_ift_examples(n: int, seed: int) -> list[tuple[str, str]]:
    """(instruction, reference reply) for the checkable English tasks' IFT split (chat models)."""
    return [(t.prompt, t.reference) for t in checkable.tasks("ift", seed, n)]


def checkable_judge_groups(split: str, n: int, seed: int) -> list[JudgeGroup]:
    """n checkable English tasks of `split`, each with its 2-4 responses for judging, their
    rubric scores and Fig. 2 judgments written from the checker (`formats.rubric_judgment`)."""
    groups = []
    for index, task in enumerate(checkable.tasks(split, seed, n)):
        outs = checkable.responses_for_judging(task, np.random.default_rng([seed, 19, index]))
        groups.append(JudgeGroup(task.prompt, tuple(outs), tuple(float(checkable.rubric_score(task, o)) for o in outs),
                                 tuple(rubric_judgment(task, o) for o in outs)))
    return groups


def eft_examples(groups: Sequence[JudgeGroup]) -> list[tuple[JudgeRequest, str]]:
    """SFT examples (judge request, judgment text) from groups with targets."""
    return [(JudgeRequest(g.instruction, r), t) for g in groups for r, t in zip(g.responses, g.targets)]


def order_agrees(scores: Sequence[float], quality: Sequence[float]) -> bool:
    """True when every pair the ranks order strictly is ordered the same way by the scores,
    and pairs of equal rank get equal scores (the paper's "ranking agrees")."""
    for a in range(len(scores)):
        for b in range(a + 1, len(scores)):
            if np.sign(scores[a] - scores[b]) != np.sign(quality[a] - quality[b]):
                return False
    return True


def self_filtered_targets(
    groups: Sequence[JudgeGroup], judgments: Sequence[Sequence[str]], scores: Sequence[Sequence[float | None]], seed: int = 0,
) -> list[JudgeGroup]:
    """The paper's EFT construction from the SFT baseline's own judgments.

    judgments[i][n] / scores[i][n]: the baseline's judgment text and parsed score of
    group i's response n. A group is kept when all its scores parse and their order
    agrees with the ranks; then groups are dropped at random from the most common score
    until it is no more frequent than the second most common ("many samples receive a
    score of 4"; the paper downsamples it so scores are not too skewed).
    """
    kept = []
    for g, texts, ss in zip(groups, judgments, scores):
        if any(s is None for s in ss) or not order_agrees([float(s) for s in ss], g.quality):
            continue
        kept.append((g, tuple(texts), tuple(float(s) for s in ss)))
    counts = Counter(s for _, _, ss in kept for s in ss)
    if len(counts) >= 2:
        (top, n_top), (_, n_second) = counts.most_common(2)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(kept))
        excess = n_top - n_second
        drop = set()
        for i in order:
            if excess <= 0:
                break
            k = kept[i][2].count(top)
            if k and all(s == top for s in kept[i][2]):  # only groups made of the common score
                drop.add(int(i))
                excess -= k
        kept = [item for j, item in enumerate(kept) if j not in drop]
    return [JudgeGroup(g.instruction, g.responses, g.quality, texts) for g, texts, _ in kept]


# ---------------------------------------------------------------------------- JSONL


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Write rows atomically: the file appears complete or not at all."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: str | Path, keys: Sequence[str]) -> list[dict]:
    """Rows of a JSONL file, each an object with string values under `keys`.

    Blank lines are skipped; anything else that is not such an object raises an InputError
    naming the file and the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (expected JSONL with keys {', '.join(keys)})")
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{path}, line {number}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}")
            missing = [k for k in keys if not isinstance(row.get(k), str)]
            if missing:
                raise InputError(f"{path}, line {number}: missing or non-string field(s) {', '.join(missing)}")
            rows.append(row)
    if not rows:
        raise InputError(f"{path}: the file holds no examples")
    return rows


def write_pairs(path: str | Path, pairs) -> Path:
    """AIFT pairs as TRL's standard explicit-prompt preference JSONL."""
    return write_jsonl(path, ({"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs))


def read_pairs(path: str | Path) -> list[tuple[str, str, str]]:
    return [(r["prompt"], r["chosen"], r["rejected"]) for r in read_jsonl(path, ("prompt", "chosen", "rejected"))]


def read_sft(path: str | Path) -> list[tuple[str, str]]:
    """SFT examples from JSONL {"prompt", "completion"} (TRL's prompt-completion format)."""
    return [(r["prompt"], r["completion"]) for r in read_jsonl(path, ("prompt", "completion"))]


# ---------------------------------------------------------------------------- Open Assistant (real scale)


def _tree_split(tree_id: str, eval_fraction: float) -> str:
    h = int.from_bytes(hashlib.sha256(tree_id.encode()).digest()[:8], "big")
    return "eval" if h < eval_fraction * 2**64 else "train"


def oasst_seed_data(path: str | Path, lang: str = "en", ift_size: int = 3200, eval_fraction: float = 0.25):
    """IFT and EFT seed data from Open Assistant's message-tree JSONL
    (`2023-04-12_oasst_ready.trees.jsonl.gz`, read from a local path).

    IFT: the first turn (a prompter message in `lang`) and its rank-0 reply, up to
    `ift_size` trees. EFT: first turns of the other trees with >= 2 ranked replies, as
    JudgeGroups (quality = -rank), split into train/eval by a hash of the tree id.
    Returns (ift, eft_train, eft_eval); EFT targets are written later (self_filtered).
    """
    rows = read_jsonl(path, ())
    ift, groups = [], {"train": [], "eval": []}
    for number, tree in enumerate(rows, start=1):
        prompt = tree.get("prompt")
        if not isinstance(prompt, dict) or not isinstance(prompt.get("text"), str):
            raise InputError(f"{path}, line {number}: expected an Open Assistant tree with prompt.text")
        if prompt.get("lang") != lang or prompt.get("role") != "prompter":
            continue
        ranked = [r for r in prompt.get("replies", []) if isinstance(r, dict) and r.get("rank") is not None
                  and r.get("role") == "assistant" and isinstance(r.get("text"), str)]
        best = [r for r in ranked if r["rank"] == 0]
        if best and len(ift) < ift_size:
            ift.append((prompt["text"], best[0]["text"]))
            continue  # EFT stays disjoint from IFT
        if len(ranked) >= 2:
            ranked.sort(key=lambda r: r["rank"])
            tree_id = str(tree.get("message_tree_id", number))
            groups[_tree_split(tree_id, eval_fraction)].append(JudgeGroup(
                prompt["text"], tuple(r["text"] for r in ranked), tuple(-float(r["rank"]) for r in ranked)))
    if not ift:
        raise InputError(f"{path}: no {lang!r} first turn with a rank-0 reply; is this an Open Assistant trees file?")
    return ift, groups["train"], groups["eval"]


def world_prompts(iteration: int, n: int, seed: int) -> list[Task]:
    """The fixed prompt source of the world: `n` fresh instructions for iteration t (each
    iteration its own index range, so no prompt repeats across iterations)."""
    return tasks("prompts", seed, n, start=iteration * n)
