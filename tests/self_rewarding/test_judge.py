"""The LLM-as-a-Judge prompt (Fig. 2) and its score parser."""

import math

import pytest

from paperzoo.self_rewarding import parse_judge_score
from paperzoo.self_rewarding.judge import JUDGE_PROMPT, judge_prompt, parse_rate, reward, rewards


def test_prompt_is_the_papers_additive_rubric_with_both_placeholders_filled():
    text = judge_prompt("What is 2+2?", "It is 4.")
    assert text.startswith("Review the user's question and the corresponding response using the additive 5-point scoring system")
    for opener in ("Add 1 point if", "Add another point if", "Award a third point if", "Grant a fourth point if", "Bestow a fifth point for"):
        assert text.count(opener) == 1
    assert "User: What is 2+2?\n<response>It is 4.</response>" in text
    assert '- Conclude with the score using the format: "Score: <total points>"' in text
    assert "up to 100 words" in text
    assert JUDGE_PROMPT.count("{") == 2  # only the two placeholders


@pytest.mark.parametrize("text, score", [
    ("The response is relevant. Score: 4", 4.0),
    ("Score: 3\n", 3.0),
    ("justification ...\nscore: 2.5", 2.5),
    ("**Score:** 5", 5.0),
    ("Score: 4/5", 4.0),
    ("Score = 1", 1.0),
    ("Use the format Score: <total points>. ... Score: 0", 0.0),  # the last one counts
    ("First I thought Score: 2, but on reflection Score: 3", 3.0),
    ("type yes length yes half no prefix no exact no Score: 2", 2.0),  # the world judge's format
])
def test_parse_reads_the_concluding_score(text, score):
    assert parse_judge_score(text) == score


@pytest.mark.parametrize("text", ["", "No score here.", "Score: seven", "Score: 6", "Score: 12", "Score:", None, 5])
def test_parse_returns_none_when_there_is_no_score_in_range(text):
    assert parse_judge_score(text) is None


def test_reward_is_the_mean_of_parsed_judgments_with_both_parse_fail_policies():
    assert reward([4.0, 5.0, 3.0]) == pytest.approx(4.0)
    assert reward([4.0, None, 2.0], "drop") == pytest.approx(3.0)
    assert reward([4.0, None, 2.0], "zero") == pytest.approx(2.0)
    assert reward([None, None, None], "drop") is None
    assert reward([None, None, None], "zero") == 0.0
    with pytest.raises(ValueError, match="parse_fail"):
        reward([1.0], "skip")
    assert rewards([[[1.0, 2.0, None]], [[None]]], "drop") == [[1.5], [None]]
    assert parse_rate([[[1.0, None], [None, 3.0]]]) == 0.5
    assert math.isnan(parse_rate([]))


def test_world_judge_returns_k_scores_per_response_and_repeats_with_the_seed():
    import torch

    from paperzoo.self_rewarding.judge import judge
    from paperzoo.self_rewarding.policy import new_policy

    policy = new_policy("tiny", seed=0)
    instructions = ["reverse : c a f", "max : 1 5 2"]
    responses = [["f a c", "c a f", "f"], ["5", "2"]]

    def run(seed):
        return judge(policy.model, policy.fmt, instructions, responses, judgments=3, max_new_tokens=24,
                     generator=torch.Generator().manual_seed(seed), return_texts=True)

    scores, texts = run(0)
    assert [len(row) for row in scores] == [3, 2] == [len(row) for row in texts]
    assert all(len(s) == 3 for row in scores for s in row) and all(len(t) == 3 for row in texts for t in row)
    assert run(0) == (scores, texts)  # the same seed, the same judgments
    assert run(1)[1] != texts  # another seed samples other judgments
