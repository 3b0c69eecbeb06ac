"""World evaluation (evaluate.py): answers scored per turn the ChatRAG way, by turn kind."""

import pytest

from paperzoo.chatqa.evaluate import WorldEval, evaluate_answers, evaluate_generator, turn_samples
from paperzoo.chatqa.generator import new_generator
from paperzoo.world.conversations import REFUSAL


@pytest.fixture(scope="module")
def dialogues():
    return WorldEval(dialogues=30, unanswerable=0.3).load()


def test_gold_answers_score_100_and_always_refusing_scores_no_100_yes_0(dialogues):
    gold = [t.answer for d in dialogues for t in d.turns]
    perfect = evaluate_answers(dialogues, gold)
    assert perfect["f1"] == pytest.approx(100.0)
    assert perfect["no"] == perfect["yes"] == pytest.approx(100.0)
    assert set(perfect["f1_by_kind"]) >= {"first", "follow_up"}
    assert all(v == pytest.approx(100.0) for v in perfect["f1_by_kind"].values())
    refuse = evaluate_answers(dialogues, [REFUSAL] * len(gold))
    assert (refuse["no"], refuse["yes"], refuse["avg_no_yes"]) == pytest.approx((100.0, 0.0, 50.0))
    assert all(v == 0.0 for v in refuse["f1_by_kind"].values())
    n_unanswerable = sum(not t.answerable for d in dialogues for t in d.turns)
    assert refuse["n_unanswerable"] == n_unanswerable > 0


def test_turn_samples_carry_the_history_and_the_dialogue_context(dialogues):
    samples = turn_samples(dialogues[:1])
    d = dialogues[0]
    assert len(samples) == len(d.turns)
    messages, context, _ = samples[-1]
    assert [m["content"] for m in messages[::2]] == [t.question for t in d.turns]
    assert [m["content"] for m in messages[1::2]] == [t.answer for t in d.turns[:-1]]
    assert context == [c.text for c in d.context]


def test_evaluate_generator_scores_the_generators_own_answers(dialogues):
    gen = new_generator("tiny-ci", seed=0)
    scores = evaluate_generator(gen, dialogues[:5], max_new_tokens=4)
    answers = gen.answer_batch(turn_samples(dialogues[:5]), max_new_tokens=4)
    assert scores["f1"] == pytest.approx(evaluate_answers(dialogues[:5], answers)["f1"])
    assert scores["examples"][0][1] == answers[0]
