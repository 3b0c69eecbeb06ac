"""The controller's prompts, the rule controller, the reply parsers and their fallbacks, and the tree."""

import pytest
import torch

from paperzoo.diffusiongpt import prompts as P
from paperzoo.diffusiongpt.cards import ModelCard
from paperzoo.diffusiongpt.data import STYLE_WORDS, SUBJECT_WORDS
from paperzoo.diffusiongpt.llm import RuleLLM, count_select, format_tree, parse_tree, rule_parse, snap
from paperzoo.diffusiongpt.parse import prompt_parse, reply_models, reply_prompt, reply_selected
from paperzoo.diffusiongpt.tree import build_tree, search_tree


@pytest.fixture
def rule():
    return RuleLLM(SUBJECT_WORDS, STYLE_WORDS)


@pytest.mark.parametrize("text, expected", [
    ("a dog", "a dog"),
    ("generate an image of a dog", "a dog"),
    ("I want to see a beach", "a beach"),
    ("If you give me a toy, I will laugh very happily", "a toy"),
    ("Please draw a picture of a large red circle in outline style.", "a large red circle in outline style"),
    ("I would like to look at a small cyan cross in photo style", "a small cyan cross in photo style"),
    ("If I had a large blue square in pixel style, I would be very happy", "a large blue square in pixel style"),
])
def test_rule_parse_keeps_the_core_prompt_of_each_paradigm(text, expected):
    """§II-A's four paradigms (its own examples first). The paper's LLM keeps "an image of" and
    writes "a toy and a laugh face"; the rule controller keeps only the core, as it is documented to."""
    assert rule_parse(text) == expected


def test_prompt_parse_round_trip_through_the_template(rule):
    prompt, fell_back = prompt_parse(rule, "I want to see a large red circle in outline style")
    assert (prompt, fell_back) == ("a large red circle in outline style", False)
    assert rule.calls == 1


def test_reply_parsers_fall_back_and_say_so():
    assert reply_prompt("Prompts: a red circle", "x") == ("a red circle", False)
    assert reply_prompt("I cannot help with that", "orig") == ("orig", True)
    assert reply_prompt("Prompts: []", "orig") == ("orig", True)
    options = ["universal", "round", "angular"]
    assert reply_selected("Experts agree.\nSelected: Round.", options) == ("round", False)
    assert reply_selected("Selected: rounded shapes", options) == ("round", True)  # nearest valid key
    assert reply_selected("Selected: zzzz", options) == ("universal", True)
    assert reply_selected("no idea", ["b", "c"]) == ("b", True)
    names = ["tinySD_v1", "roundLines_v1"]
    assert reply_models("Model: [roundLines_v1, tinysd-v1, nonsense]", names) == (["roundLines_v1", "tinySD_v1"], 1)


def test_snap_finds_exact_normalised_contained_and_close_names():
    names = ["FilmVelvia2", "majicmixRealistic_v6", "C4D"]
    assert snap("FilmVelvia2", names) == "FilmVelvia2"
    assert snap("filmvelvia2.safetensors", names) == "FilmVelvia2"
    assert snap("I choose majicmixRealistic_v6 because", names) == "majicmixRealistic_v6"
    assert snap("majicmix realistic v5", names) == "majicmixRealistic_v6"
    assert snap("qqqqqqqq", names) is None


def test_count_select_is_frequency_then_mean_rank():
    lists = [["a", "b", "c"], ["b", "a", "d"], ["b", "c", "a"]]
    assert count_select(["a", "b", "c"], lists) == "b"  # b: 3 times, mean rank 0.67; a: 3 times, rank 1
    assert count_select(["c", "d"], lists) == "c"
    assert count_select([], lists) == "b"  # no candidates: every listed name competes
    assert count_select([], []) is None


def test_tree_text_round_trip():
    tree = {"round": {"universal": ["base"], "outline": ["roundLines_v1", "mix"]}, "angular": {"pixel": []}}
    assert parse_tree("Knowledge Tree:\n" + format_tree(tree)) == tree


def _cards():
    return [
        ModelCard("tinySD_v1.safetensors", "checkpoint", ["base model", "universal"]),
        ModelCard("roundLines_v1.safetensors", "lora", ["circle", "outline", "line art"]),
        ModelCard("plus8bit_v2.safetensors", "lora", ["cross", "pixel", "retro"]),
        ModelCard("crossFilm_v1.safetensors", "lora", ["cross", "film", "photo"]),
        ModelCard("shapeMix_v1.safetensors", "checkpoint merge", ["universal", "outline", "pixel"]),
    ]


def test_rule_controller_builds_the_tree_from_tags(rule):
    tree = build_tree(rule, _cards(), universal=["tinySD_v1", "shapeMix_v1"])
    assert rule.calls == 4  # subjects, styles, the tree, the models (§II-B)
    assert set(tree) == {"round", "crossed"}  # the subjects some tag signals
    assert tree["round"]["universal"] == ["tinySD_v1", "shapeMix_v1"]  # the official default leaf
    assert tree["round"]["outline"] == ["roundLines_v1", "shapeMix_v1"]
    assert tree["crossed"]["pixel"] == ["plus8bit_v2", "shapeMix_v1"]
    assert tree["crossed"]["photo"] == ["crossFilm_v1"]


def test_greedy_and_beam_search(rule):
    tree = build_tree(rule, _cards(), universal=["tinySD_v1"])
    found = search_tree(rule, tree, "a small blue cross in pixel style")
    assert found.path == ["crossed", "pixel"] and found.candidates[0] == "plus8bit_v2" and found.fallbacks == 0
    nothing = search_tree(rule, tree, "a dog")
    assert nothing.path[-1] == "universal"
    wide = search_tree(rule, tree, "a small blue cross in pixel style", beam=2)
    assert len(wide.leaves) == 2 and "plus8bit_v2" in wide.candidates
    with pytest.raises(Exception, match="beam"):
        search_tree(rule, tree, "x", beam=0)


class Scripted:
    """An LLM that answers from a script, for the parsers' fallbacks."""

    def __init__(self, replies):
        self.replies, self.calls = list(replies), 0

    def __call__(self, prompt):
        self.calls += 1
        return self.replies.pop(0)


def test_search_counts_replies_that_name_no_child():
    tree = {"round": {"outline": ["a"]}, "crossed": {"pixel": ["b"]}}
    llm = Scripted(["Selected: crosses!", "I think the answer is pixel art"])
    found = search_tree(llm, tree, "x")
    assert found.path == ["crossed", "pixel"] and found.fallbacks == 2  # where the official code raises KeyError


def test_templates_carry_the_papers_sentences_and_the_slots():
    assert "five different experts" in P.TREE_SEARCH and "{search_list}" in P.TREE_SEARCH and "{input}" in P.TREE_SEARCH
    assert "judge the paradigm" in P.PROMPT_PARSE and "a toy and a laugh face" in P.PROMPT_PARSE
    assert "highest frequency and top ranking" in P.MODEL_SELECT
    assert "follow the sentence pattern" in P.PROMPT_EXTENSION and "{example_prompt}" in P.PROMPT_EXTENSION


def test_a_local_hf_causal_lm_is_a_controller(tmp_path):
    """Any local Hugging Face causal LM folder answers the prompts (a tiny random Llama saved in
    the test: it babbles, and the pipeline's parsers fall back and count it)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from paperzoo.diffusiongpt.llm import HFCausalLM
    from paperzoo.world.text import word_tokenizer

    words = sorted({w for t in (P.PROMPT_PARSE, P.TREE_SEARCH) for w in t.split()})
    tok = word_tokenizer(words, model_max_length=512)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                         pad_token_id=tok.pad_token_id))
    model.save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    llm = HFCausalLM.load(tmp_path / "lm", max_new_tokens=8)
    reply = llm(P.PROMPT_PARSE.format(inputs="a dog"))
    assert isinstance(reply, str) and llm.calls == 1
    assert llm(P.PROMPT_PARSE.format(inputs="a dog")) == reply  # greedy: temperature 0, as the paper's controller
    prompt, fell_back = prompt_parse(llm, "I want to see a red circle")
    assert prompt == "I want to see a red circle" or not fell_back
    with pytest.raises(Exception, match="neither a named real model"):
        HFCausalLM.load(tmp_path / "nothing")
