"""The instruction world: gold answers are right, the rubric is additive and ordered the
way the card says, held-out prompts never reach training splits, and generation is a pure
function of (split, seed, index)."""

import numpy as np
import pytest

from paperzoo.core.errors import ConfigError
from paperzoo.world.instructions import (
    CORRUPTIONS,
    FAMILIES,
    MAX_ITEMS,
    MIN_ITEMS,
    VOCAB,
    Task,
    corrupt,
    criteria,
    draw_task,
    is_held_out,
    responses_for_judging,
    rubric_score,
    tasks,
)


def _solve(task: Task) -> list[str]:
    """The answers computed a second, independent way from the instruction words."""
    family, words = task.instruction[0], list(task.instruction)
    if family == "add":
        colon, plus = words.index(":"), words.index("+")
        return list(str(int("".join(words[colon + 1: plus])) + int("".join(words[plus + 1:]))))
    if family == "count":
        target, items = words[1], words[3:]
        return [str(sum(w == target for w in items))]
    items = words[2:]
    return {"reverse": list(reversed(items)), "sort": sorted(items), "max": [max(items)],
            "dedupe": [w for i, w in enumerate(items) if w not in items[:i]]}[family]


def test_gold_answers_are_correct_and_in_vocabulary():
    ts = tasks("ift", 0, 600)
    assert {t.family for t in ts} == set(FAMILIES)
    for t in ts:
        assert list(t.answer) == _solve(t), t
        assert all(w in VOCAB for w in t.instruction + t.answer)
        if t.family not in ("add", "count"):
            assert MIN_ITEMS <= len(t.instruction) - 2 <= MAX_ITEMS


def test_rubric_is_additive_and_the_gold_answer_scores_five():
    t = Task("reverse", ("reverse", ":", "c", "a", "f"), ("f", "a", "c"), "letters")
    assert rubric_score(t, "f a c") == 5
    assert criteria(t, "f a c x") == (True, True, True, True, False)  # gold is a prefix, one item too long
    assert criteria(t, "f a x") == (True, True, True, False, False)  # 2 of 3 right
    assert criteria(t, "f 1") == (False, True, False, False, False)  # a digit is the wrong type
    assert rubric_score(t, "") == 0 + 0  # empty: no type point, length off by 3
    assert rubric_score(t, ["f", "a", "c"]) == 5  # a word list works too


def test_held_out_prompts_never_appear_in_training_splits():
    train = {t.prompt for split in ("ift", "eft_train", "prompts") for t in tasks(split, 0, 400)}
    held = {t.prompt for split in ("eft_eval", "valid", "test") for t in tasks(split, 0, 400)}
    assert not train & held
    assert all(not is_held_out(t) for t in tasks("ift", 0, 100))
    assert all(is_held_out(t) for t in tasks("test", 0, 100))


def test_tasks_are_a_pure_function_of_split_seed_and_index():
    assert tasks("ift", 3, 20) == tasks("ift", 3, 20)
    assert tasks("ift", 3, 10, start=10) == tasks("ift", 3, 20)[10:]
    assert tasks("ift", 3, 20) != tasks("ift", 4, 20)
    assert tasks("ift", 3, 20) != tasks("prompts", 3, 20)
    with pytest.raises(ConfigError, match="unknown instruction split 'nope'"):
        tasks("nope", 0, 1)
    with pytest.raises(ConfigError, match="unknown task family"):
        draw_task(np.random.default_rng(0), "divide")


def test_corruptions_lower_the_score_and_judging_responses_spread_over_the_scale():
    rng = np.random.default_rng(0)
    ts = tasks("eft_train", 0, 300)
    for t in ts[:50]:
        for kind in CORRUPTIONS:
            out = corrupt(t, kind, rng)
            assert rubric_score(t, out) <= 5
            if out != t.answer:
                assert rubric_score(t, out) < 5, (t, kind, out)
    scores = [rubric_score(t, r) for t in ts for r in responses_for_judging(t, rng)]
    assert set(scores) == {0, 1, 2, 3, 4, 5}
    counts = np.bincount(scores, minlength=6) / len(scores)
    assert counts.max() < 0.5, counts  # no score dominates the EFT set
    for t in ts[:50]:
        rs = responses_for_judging(t, rng)
        assert 2 <= len(rs) <= 4 and len(set(rs)) == len(rs)
