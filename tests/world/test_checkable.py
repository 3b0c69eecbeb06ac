"""The checkable English tasks: the checker accepts hand-written right answers and rejects
wrong ones in every family, the rubric orders exact > extra text > near miss > off topic,
held-out instructions never reach training splits, and tasks are a pure function of
(split, seed, index)."""

import json

import numpy as np
import pytest

from paperzoo.core.errors import ConfigError
from paperzoo.world import checkable as C
from paperzoo.world.checkable import FAMILIES, Task, check, constraints, draw_task, rubric_score, tasks


def task(family: str, **spec) -> Task:
    return Task(family, f"a {family} task", tuple(spec.items()), "")


SENTENCE = task("sentence", n=7, word="river", mark="?")
LIST = task("list", k=4, category="fruits", reverse=False, exclude="banana")
LETTERS = task("letters", k=3, category="animals", letter="b")
JSON = task("json", keys=("name", "age"))
VERIFY_FALSE = task("verify", a=17, op="+", b=25, claimed=43, value=42)
VERIFY_TRUE = task("verify", a=17, op="+", b=25, claimed=42, value=42)
REPEAT = task("repeat", word="apple", k=3, sep="spaces")

# (task, reply, rubric score), written by hand: right answers (5), right with extra text (4),
# near misses (2-3) and replies off the task (0-1), for every family.
CASES = [
    (SENTENCE, "Did you walk to the river yesterday?", 5),
    (SENTENCE, '"Where does the river go at night?"', 5),  # quotes around the sentence are not extra text
    (SENTENCE, "Sure! Here is one:\nDid you walk to the river yesterday?", 4),
    (SENTENCE, "What a beautiful river, no?", 3),  # 5 words
    (SENTENCE, "Did you walk to the river yesterday.", 3),  # wrong mark
    (SENTENCE, "Did you walk to the bridge yesterday?", 2),  # 7 words, no 'river'
    (SENTENCE, "I like rivers.", 0),
    (SENTENCE, "", 0),
    (LIST, "apple, cherry, grape, mango", 5),
    (LIST, "Apples, Cherries, Grapes, Mangoes.", 5),  # case, plurals and a final period are read through
    (LIST, "Here are four fruits: apple, cherry, grape, mango", 4),
    (LIST, "1. Apple\n2. Cherry\n3. Grape\n4. Mango", 3),  # one per line, not comma separated
    (LIST, "mango, grape, cherry, apple", 3),  # order
    (LIST, "apple, banana, grape, mango", 3),  # banana was excluded
    (LIST, "apple, cherry, grape", 3),  # three
    (LIST, "apple, cherry, dog, mango", 2),  # a dog is no fruit
    (LIST, "dog, cat, horse, zebra", 0),
    (LETTERS, "bat, bear, bison", 5),
    (LETTERS, "Sure!\nbat, bear, bison", 4),
    (LETTERS, "bat, bear, bear", 3),
    (LETTERS, "bat, bear, cat", 2),  # cat starts with c
    (LETTERS, "bat, bear, banana", 2),  # banana is no animal
    (LETTERS, "Animals are great.", 0),
    (JSON, '{"name": "Alice", "age": 30}', 5),
    (JSON, ' {"age": 30, "name": "Alice"}\n', 5),
    (JSON, '```json\n{"name": "Alice", "age": 30}\n```', 4),
    (JSON, 'Here it is: {"name": "Alice", "age": 30}. Enjoy!', 4),
    (JSON, '{"name": "Alice", "age": "thirty"}', 3),
    (JSON, '{"name": "Alice"}', 3),
    (JSON, '{"name": "Alice", "age": 30, "city": "Paris"}', 3),
    (JSON, "{'name': 'Alice', 'age': 30}", 1),  # not JSON, but about the keys
    (JSON, "The sky is blue.", 0),
    (VERIFY_FALSE, "No.", 5),
    (VERIFY_FALSE, "no", 5),
    (VERIFY_FALSE, "No, 17 + 25 = 42.", 4),
    (VERIFY_FALSE, "No and yes.", 3),
    (VERIFY_FALSE, "Yes.", 2),
    (VERIFY_FALSE, "Yes, 17 + 25 = 43.", 2),
    (VERIFY_FALSE, "17 + 25 is a sum.", 1),
    (VERIFY_FALSE, "I like turtles.", 0),
    (VERIFY_TRUE, "Yes!", 5),
    (VERIFY_TRUE, "No.", 2),
    (REPEAT, "apple apple apple", 5),
    (REPEAT, "Apple apple apple.", 5),
    (REPEAT, "Here you go: apple apple apple", 4),
    (REPEAT, "apple, apple, apple", 3),
    (REPEAT, "apple apple", 3),
    (REPEAT, "apple apple pear", 3),
    (REPEAT, "pear pear pear", 0),
]


@pytest.mark.parametrize("t, reply, score", CASES)
def test_hand_written_replies_get_their_rubric_score(t, reply, score):
    assert rubric_score(t, reply) == score, constraints(t, reply)
    assert check(t, reply) == (score == 5)


def test_the_rubric_is_additive_and_nested():
    for t, reply, score in CASES:
        met = C.criteria(t, reply)
        assert sum(met) == score and list(met) == sorted(met, reverse=True)  # 1 1 1 0 0, never 1 0 1


def test_every_drawn_task_is_answered_by_its_reference_and_its_instruction_names_its_constraints():
    ts = tasks("ift", 0, 600)
    assert {t.family for t in ts} == set(FAMILIES)
    for t in ts:
        assert check(t, t.reference), (t, constraints(t, t.reference))
        args = t.args
        if t.family == "sentence":
            assert f"exactly {args['n']} words" in t.prompt and f"'{args['word']}'" in t.prompt
            assert len(t.reference.split()) == args["n"] and t.reference.endswith(args["mark"])
        elif t.family in ("list", "letters"):
            assert C.NUMBER_WORDS[args["k"]] in t.prompt and args["category"] in t.prompt
            assert all(C.lexicon_member(x, args["category"]) for x in t.reference.split(", "))
        elif t.family == "json":
            assert set(json.loads(t.reference)) == set(args["keys"])
            assert all(f'"{k}"' in t.prompt for k in args["keys"])
        elif t.family == "verify":
            assert f"{args['a']} {args['op']} {args['b']} = {args['claimed']}?" in t.prompt
            assert args["value"] == (args["a"] + args["b"] if args["op"] == "+" else args["a"] - args["b"])
            assert t.reference == ("Yes." if args["claimed"] == args["value"] else "No.")
        else:
            assert f"'{args['word']}' exactly {C.NUMBER_WORDS[args['k']]} times" in t.prompt
    verdicts = [t.reference for t in ts if t.family == "verify"]
    assert 0.3 < verdicts.count("Yes.") / len(verdicts) < 0.7  # true and false claims mixed


def test_held_out_instructions_never_appear_in_training_splits_and_every_family_has_both():
    train = {t.prompt for split in ("ift", "eft_train", "prompts") for t in tasks(split, 0, 400)}
    held = [t for split in ("eft_eval", "valid", "test") for t in tasks(split, 0, 400)]
    assert not train & {t.prompt for t in held}
    assert all(C.is_held_out(t) for t in held)
    assert not any(C.is_held_out(t) for t in tasks("ift", 0, 100))
    counts = np.array([sum(t.family == f for t in held) for f in FAMILIES])
    assert counts.min() > 0.6 * counts.mean(), counts  # the families stay balanced in held-out splits


def test_tasks_are_a_pure_function_of_split_seed_and_index():
    assert tasks("ift", 3, 20) == tasks("ift", 3, 20)
    assert tasks("ift", 3, 10, start=10) == tasks("ift", 3, 20)[10:]
    assert tasks("ift", 3, 20) != tasks("ift", 4, 20)
    assert tasks("ift", 3, 20) != tasks("prompts", 3, 20)
    by_family = C.tasks_by_family("test", 0, 2)
    assert [t.family for t in by_family] == [f for f in FAMILIES for _ in range(2)]
    assert by_family == C.tasks_by_family("test", 0, 2)
    assert len({t.prompt for t in C.tasks_by_family("test", 0, 10)}) == 60  # no instruction twice
    with pytest.raises(ConfigError, match="unknown instruction split 'nope'"):
        tasks("nope", 0, 1)
    with pytest.raises(ConfigError, match="unknown checkable task family"):
        draw_task(np.random.default_rng(0), "haiku")


def test_response_kinds_land_where_the_rubric_puts_them():
    rng = np.random.default_rng(0)
    expected = {"reference": {5}, "verbose": {4}, "off_topic": {0, 1}, "empty": {0}}
    for t in tasks("eft_train", 0, 300):
        for kind in (*expected, *C.near_miss_kinds(t)):
            score = rubric_score(t, C.respond(t, kind, rng))
            assert score in expected.get(kind, {1, 2, 3}), (t, kind, score)
    with pytest.raises(ConfigError, match="unknown response kind"):
        C.respond(SENTENCE, "poem", rng)


def test_responses_for_judging_are_distinct_deterministic_and_span_the_scale():
    ts = tasks("eft_eval", 0, 300)
    sets = [C.responses_for_judging(t, np.random.default_rng([0, i])) for i, t in enumerate(ts)]
    assert sets == [C.responses_for_judging(t, np.random.default_rng([0, i])) for i, t in enumerate(ts)]
    scores = [rubric_score(t, r) for t, rs in zip(ts, sets) for r in rs]
    assert set(scores) == {0, 1, 2, 3, 4, 5}
    assert np.bincount(scores, minlength=6).max() / len(scores) < 0.4  # no score dominates
    for f in FAMILIES:
        assert len({rubric_score(t, r) for t, rs in zip(ts, sets) if t.family == f for r in rs}) >= 4, f
    for rs in sets:
        assert 2 <= len(rs) <= 4 and len(set(rs)) == len(rs)
    spread = [len({rubric_score(t, r) for r in rs}) for t, rs in zip(ts, sets)]
    assert np.mean([s >= 2 for s in spread]) > 0.9  # nearly every set has a pair to order
