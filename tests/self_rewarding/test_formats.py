"""Prompt formats: the world's compact prompts, its two-stage judge, and which tokens an
SFT example's loss is on."""

import pytest

from paperzoo.self_rewarding.formats import Format, JudgeRequest, judgment_text, split_world_judgment, world_tokenizer
from paperzoo.world.instructions import VOCAB


@pytest.fixture(scope="module")
def fmt():
    return Format(world_tokenizer(), "world")


def test_world_tokenizer_round_trips_every_word(fmt):
    text = " ".join(w for w in VOCAB if not w.startswith("<"))
    assert fmt.decode(fmt._encode(text)) == text
    assert fmt.tokenizer.convert_ids_to_tokens(fmt.prompt_ids("reverse : c a f")) == ["<bos>", "reverse", ":", "c", "a", "f", "=>"]


def test_judgment_text_and_its_split():
    text = judgment_text("f a c", (True, True, True, False, False), 3)
    assert text == "answer f a c | type yes length yes half yes prefix no exact no Score: 3"
    assert split_world_judgment(text) == ("f a c", "type yes length yes half yes prefix no exact no Score: 3")
    with pytest.raises(ValueError, match="not a world judgment"):
        split_world_judgment("Score: 3")


def test_instruction_example_trains_on_the_response_and_eos_only(fmt):
    ids, mask = fmt.example_ids("reverse : c a f", "f a c")
    words = fmt.tokenizer.convert_ids_to_tokens(ids)
    assert words == ["<bos>", "reverse", ":", "c", "a", "f", "=>", "f", "a", "c", "<eos>"]
    assert [w for w, m in zip(words, mask) if m] == ["f", "a", "c", "<eos>"]


def test_world_judge_example_puts_its_answer_before_the_graded_response_and_never_trains_on_it(fmt):
    target = judgment_text("f a c", (True, True, True, False, False), 3)
    ids, mask = fmt.example_ids(JudgeRequest("reverse : c a f", "f a x"), target)
    words = fmt.tokenizer.convert_ids_to_tokens(ids)
    assert " ".join(words) == ("<bos> judge reverse : c a f answer f a c => f a x | "
                               "type yes length yes half yes prefix no exact no Score: 3 <eos>")
    trained = [w for w, m in zip(words, mask) if m]
    assert trained == ["f", "a", "c", "=>", "type", "yes", "length", "yes", "half", "yes", "prefix", "no", "exact", "no",
                       "Score:", "3", "<eos>"]
    # the two generation stages see exactly the example's prefixes
    first = fmt.judge_answer_ids("reverse : c a f")
    assert ids[: len(first)] == first
    second = fmt.judge_verdict_ids("reverse : c a f", fmt._encode("f a c"), "f a x")
    assert ids[: len(second)] == second and not any(mask[len(first) + 4: len(second)])
    with pytest.raises(ValueError, match="two stages"):
        fmt.judge_prompt_ids("reverse : c a f", "f a x")
