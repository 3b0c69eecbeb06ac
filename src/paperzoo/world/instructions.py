"""Instruction tasks whose answers a program can check, and the rubric that grades them.

Self-Rewarding LMs is judged by people and by GPT-4 on open-ended prompts; here a program
plays both parts. Six task families over short item lists (3-8 items),

    reverse : c a f            =>  f a c
    sort : 7 2 9 2             =>  2 2 7 9
    add : 4 7 + 8 5            =>  1 3 2          (two 2-4 digit numbers, with carries)
    count b : a b c b          =>  2
    max : 3 8 1                =>  8
    dedupe : d a d c a         =>  d a c          (first occurrences, in order)

and an additive 0-5 rubric in the spirit of the paper's judge prompt (Fig. 2), one point
per criterion met (card §5), standing in for human ranks and for the GPT-4 judge:

    1 type    every output token has the answer's type (digits or letters), output non-empty
    2 length  |len(output) - len(gold)| <= 1
    3 half    at least half of the gold positions are right
    4 prefix  the gold answer is a prefix of the output
    5 exact   the output equals the gold answer

Everything is a pure function of (seed, split, index). Held-out prompts (the EFT eval set,
validation, test) never appear in training splits: an instruction belongs to the held-out
pool when its SHA-256 falls in a fixed fifth of the hash range, the same rule for every
split, so no list of seen prompts is needed (`paperzoo.world.text.is_held_out`, shared with
the conversational world).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paperzoo.core.errors import ConfigError
from paperzoo.world import text
from paperzoo.world.text import SPECIALS

INSTRUCTIONS_VERSION = 1

FAMILIES: tuple[str, ...] = ("reverse", "sort", "add", "count", "max", "dedupe")
DIGITS: tuple[str, ...] = tuple("0123456789")
LETTERS: tuple[str, ...] = tuple("abcdefghijklmnopqrstuvwxyz")
MIN_ITEMS, MAX_ITEMS = 3, 8
ARROW = "=>"  # ends an instruction; the answer follows

# The judge's words (the compact EFT format of card §5; see paperzoo.self_rewarding.judge).
CRITERIA: tuple[str, ...] = ("type", "length", "half", "prefix", "exact")
JUDGE_WORDS: tuple[str, ...] = ("judge", "|", "answer", *CRITERIA, "yes", "no", "Score:")
VOCAB: tuple[str, ...] = SPECIALS + DIGITS + LETTERS + FAMILIES + (":", "+", ARROW) + JUDGE_WORDS

# Splits and the pool each draws from: "train" pool = instructions outside the held-out fifth.
SPLITS: dict[str, tuple[int, str]] = {
    "ift": (0, "train"),  # seed instruction fine-tuning data
    "eft_train": (1, "train"),  # seed evaluation fine-tuning data (judging)
    "prompts": (2, "train"),  # fresh prompts for self-instruction; index space shared by iterations
    "eft_eval": (3, "held_out"),  # judge metrics (Table 4)
    "valid": (4, "held_out"),  # early stopping
    "test": (5, "held_out"),  # instruction-following metrics
}
HELD_OUT_FRACTION = 0.2


@dataclass(frozen=True)
class Task:
    """One instruction and its gold answer, both as word lists."""

    family: str
    instruction: tuple[str, ...]  # e.g. ("reverse", ":", "c", "a", "f")
    answer: tuple[str, ...]  # e.g. ("f", "a", "c")
    answer_type: str  # "digits" or "letters"

    @property
    def prompt(self) -> str:
        return " ".join(self.instruction)

    @property
    def gold(self) -> str:
        return " ".join(self.answer)


def _items(rng: np.random.Generator, n: int, alphabet: tuple[str, ...], pool: int) -> list[str]:
    """n items drawn from the first `pool` symbols of `alphabet` (a small pool makes repeats)."""
    return [alphabet[int(i)] for i in rng.integers(0, pool, size=n)]


def draw_task(rng: np.random.Generator, family: str | None = None) -> Task:
    """One task; `family` None draws it uniformly."""
    family = family or FAMILIES[int(rng.integers(len(FAMILIES)))]
    if family not in FAMILIES:
        raise ConfigError(f"unknown task family {family!r}; known: {', '.join(FAMILIES)}")
    n = int(rng.integers(MIN_ITEMS, MAX_ITEMS + 1))
    letters = rng.random() < 0.5
    alphabet = LETTERS if letters else DIGITS
    kind = "letters" if letters else "digits"
    if family == "add":
        a, b = (int(rng.integers(2, 5)) for _ in range(2))
        x = [str(int(rng.integers(1, 10)))] + _items(rng, a - 1, DIGITS, 10)
        y = [str(int(rng.integers(1, 10)))] + _items(rng, b - 1, DIGITS, 10)
        total = int("".join(x)) + int("".join(y))
        return Task(family, ("add", ":", *x, "+", *y), tuple(str(total)), "digits")
    if family == "count":
        items = _items(rng, n, alphabet, 4)  # four symbols: the target usually appears
        target = items[int(rng.integers(n))] if rng.random() < 0.8 else alphabet[int(rng.integers(4, len(alphabet)))]
        return Task(family, ("count", target, ":", *items), (str(items.count(target)),), "digits")
    pool = len(alphabet) if family != "dedupe" else 5  # dedupe needs repeats
    items = _items(rng, n, alphabet, pool)
    if family == "reverse":
        answer = items[::-1]
    elif family == "sort":
        answer = sorted(items)
    elif family == "max":
        answer = [max(items)]
    else:  # dedupe
        answer = list(dict.fromkeys(items))
    return Task(family, (family, ":", *items), tuple(answer), kind)


def is_held_out(task: Task) -> bool:
    """True for the fixed fifth of all instructions reserved for evaluation splits."""
    return text.is_held_out(task.prompt, HELD_OUT_FRACTION)


def tasks(split: str, seed: int, n: int, start: int = 0) -> list[Task]:
    """Tasks `start .. start+n-1` of `split` (a pure function of (split, seed, index))."""
    if split not in SPLITS:
        raise ConfigError(f"unknown instruction split {split!r}; known: {', '.join(SPLITS)}")
    if n < 0 or start < 0:
        raise ConfigError(f"tasks: n={n} and start={start} must be >= 0")
    split_id, pool = SPLITS[split]
    out = []
    for index in range(start, start + n):
        rng = text.world_rng(seed, split_id, index)
        while True:  # rejection to the split's pool; about 1.25 draws per task
            task = draw_task(rng)
            if is_held_out(task) == (pool == "held_out"):
                break
        out.append(task)
    return out


# ---------------------------------------------------------------------------- the rubric


def _type_ok(word: str, answer_type: str) -> bool:
    return word in (DIGITS if answer_type == "digits" else LETTERS)


def criteria(task: Task, output: str | list[str] | tuple[str, ...]) -> tuple[bool, bool, bool, bool, bool]:
    """Which of the five rubric criteria `output` (a string of words, or a word list) meets."""
    out = tuple(output.split()) if isinstance(output, str) else tuple(output)
    gold = task.answer
    type_ok = len(out) > 0 and all(_type_ok(w, task.answer_type) for w in out)
    length_ok = abs(len(out) - len(gold)) <= 1
    right = sum(1 for i, g in enumerate(gold) if i < len(out) and out[i] == g)
    half_ok = right >= 0.5 * len(gold)
    prefix_ok = out[: len(gold)] == gold
    return type_ok, length_ok, half_ok, prefix_ok, out == gold


def rubric_score(task: Task, output: str | list[str] | tuple[str, ...]) -> int:
    """The additive quality q in 0..5: one point per criterion met."""
    return sum(criteria(task, output))


# ---------------------------------------------------------------------------- corrupted answers

CORRUPTIONS: tuple[str, ...] = ("truncate", "swap", "substitute", "append", "wrong_type", "shuffle", "empty", "scramble")
# How often each corruption is drawn for EFT responses. Content errors of the right type and
# length dominate, because that is how a model's own answers go wrong; a judge trained mostly on
# wrong types and lengths learns to check only those.
CORRUPTION_WEIGHTS: dict[str, float] = {"truncate": 1, "swap": 2, "substitute": 3, "append": 1, "wrong_type": 0.5,
                                        "shuffle": 1, "empty": 0.25, "scramble": 3}


def corrupt(task: Task, kind: str, rng: np.random.Generator) -> tuple[str, ...]:
    """The gold answer damaged one way (EFT responses span the rubric's range)."""
    gold = list(task.answer)
    alphabet = DIGITS if task.answer_type == "digits" else LETTERS
    other = LETTERS if task.answer_type == "digits" else DIGITS
    if kind == "truncate":
        return tuple(gold[: int(rng.integers(0, len(gold)))])
    if kind == "swap" and len(gold) >= 2:
        i = int(rng.integers(len(gold) - 1))
        gold[i], gold[i + 1] = gold[i + 1], gold[i]
        return tuple(gold)
    if kind in ("substitute", "swap"):  # a one-item answer cannot swap: substitute instead
        i = int(rng.integers(len(gold)))
        gold[i] = _other_than(rng, alphabet, gold[i])
        return tuple(gold)
    if kind == "append":
        return tuple(gold + _items(rng, int(rng.integers(1, 4)), alphabet, len(alphabet)))
    if kind == "wrong_type":
        return tuple(_items(rng, len(gold), other, len(other)))
    if kind == "shuffle":
        return tuple(gold[int(i)] for i in rng.permutation(len(gold)))
    if kind == "empty":
        return ()
    if kind == "scramble":  # the right type and length, the content drawn at random
        return tuple(_items(rng, len(gold), alphabet, len(alphabet)))
    raise ConfigError(f"unknown corruption {kind!r}; known: {', '.join(CORRUPTIONS)}")


def _other_than(rng: np.random.Generator, alphabet: tuple[str, ...], word: str) -> str:
    while True:
        w = alphabet[int(rng.integers(len(alphabet)))]
        if w != word:
            return w


def responses_for_judging(task: Task, rng: np.random.Generator, n_min: int = 2, n_max: int = 4) -> list[tuple[str, ...]]:
    """2-4 distinct responses to one instruction: corruptions of the gold answer (mostly
    content errors, CORRUPTION_WEIGHTS), and half the time the gold answer itself, so their
    rubric scores spread over 0..5."""
    k = int(rng.integers(n_min, n_max + 1))
    seen: list[tuple[str, ...]] = []
    if rng.random() < 0.5:
        seen.append(task.answer)
    weights = np.array([CORRUPTION_WEIGHTS[c] for c in CORRUPTIONS], dtype=float)
    for _ in range(50):
        if len(seen) == k:
            break
        kinds = rng.choice(len(CORRUPTIONS), size=int(rng.integers(1, 3)), replace=False, p=weights / weights.sum())
        out: tuple[str, ...] = task.answer
        for j in kinds:  # one or two corruptions stacked
            out = corrupt(Task(task.family, task.instruction, out or task.answer, task.answer_type), CORRUPTIONS[int(j)], rng)
        if out not in seen:
            seen.append(out)
    return seen
