"""The rewrite-then-retrieve baseline (§4.2, App. B.1): the paper's few-shot prompt word for word,
the tiny rewriter's samples (loss on the rewrite only, oldest turns cut first), its checkpoint, and
the prompted rewriter on a tiny random chat model saved in the test."""

import pytest
import torch

from paperzoo.chatqa.config import LMConfig
from paperzoo.chatqa.rewrite import (
    FEW_SHOT, INSTRUCTION, SYSTEM, PromptedRewriter, TinyRewriter, conversation_text, rewrite_messages,
    rewriter_pairs,
)
from paperzoo.core.errors import CheckpointError
from paperzoo.world.text import word_tokenizer

WORDS = "user agent what is the colour of it its a an capital city ? . , : blue red mira tovo how big".split()
LM = LMConfig(0, 32, 1, 2, 2, 64, 64)


def _rewriter(seed=0) -> TinyRewriter:
    return TinyRewriter.new(LM, tokenizer=word_tokenizer(WORDS, split="punctuation"), seed=seed)


def test_app_b1_prompt_word_for_word():
    assert SYSTEM == "You are a helpful, pattern-following assistant."
    assert INSTRUCTION == ("Instead of having this entire conversation, how can PersonU get what he or she is looking "
                           "for using a single question? Respond with that question.")
    assert [r for _, r in FEW_SHOT] == ["How is the calculation for adjustments made by SHIP determined?",
                                        "What resources or guides can I use to help me prepare for college?"]
    assert FEW_SHOT[0][0].startswith("PersonU: Hello, I would like to know what to do if I do not agree with any decision.\n")
    assert FEW_SHOT[1][0].endswith("PersonU: Is there something I can use as a guide to get ready for it?")
    msgs = rewrite_messages([("what is mira ?", "a city .")], "how big is it ?")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[-1]["content"] == ("Given the following conversation between PersonU and PersonA:\n\n"
                                   "PersonU: what is mira ?\nPersonA: a city .\nPersonU: how big is it ?\n\n" + INSTRUCTION)
    assert conversation_text([], "what is tovo ?") == "PersonU: what is tovo ?"


def test_tiny_rewriter_sample_masks_the_prompt_and_cuts_oldest_turns():
    r = _rewriter()
    tok = r.tokenizer
    ids, mask = r.example("user: what is mira ?\nagent: a city .\nuser: how big is it ?", "how big is mira ?")
    n_target = len(tok("how big is mira ?", add_special_tokens=False)["input_ids"]) + 1
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert mask == [False] * (len(ids) - n_target) + [True] * n_target
    assert tok.decode(ids[-n_target:-1]) == "how big is mira ?"
    long = "\n".join(["user: what is the capital of mira ?\nagent: tovo ."] * 10) + "\nuser: how big is it ?"
    ids, mask = r.example(long, "how big is mira ?")
    assert len(ids) == r.window and tok.decode(ids[1:len(ids) - n_target]).endswith("user : how big is it ?")


def test_rewriter_pairs_pair_each_turn_with_its_gold_rewrite():
    from types import SimpleNamespace as T

    d = T(turns=[T(question="what is mira ?", rewrite="what is mira ?", answer="a city ."),
                 T(question="how big is it ?", rewrite="how big is mira ?", answer="big .")])
    assert rewriter_pairs([d]) == [("user: what is mira ?", "what is mira ?"),
                                   ("user: what is mira ?\nagent: a city .\nuser: how big is it ?", "how big is mira ?")]


def test_tiny_rewriter_learns_a_rewrite_and_round_trips(tmp_path):
    """200 steps on two pairs: greedy decoding gives both gold rewrites (an untrained model
    gives neither: measured, it emits unrelated words), and a saved folder decodes the same."""
    r = _rewriter()
    pairs = [("user: what is mira ?\nagent: a city .\nuser: how big is it ?", "how big is mira ?"),
             ("user: what is tovo ?\nagent: a city .\nuser: what is its colour ?", "what is the colour of tovo ?")]
    convs = [([("what is mira ?", "a city .")], "how big is it ?"), ([("what is tovo ?", "a city .")], "what is its colour ?")]
    before = r.rewrite(convs, max_new_tokens=8)
    assert before != ["how big is mira ?", "what is the colour of tovo ?"]
    r.train(pairs, tmp_path / "run", steps=200, batch_size=2, lr=3e-3, warmup=5)
    assert r.rewrite(convs, max_new_tokens=8) == ["how big is mira ?", "what is the colour of tovo ?"]
    again = TinyRewriter.from_pretrained(r.save_pretrained(tmp_path / "rw"))
    assert again.rewrite(convs, max_new_tokens=8) == ["how big is mira ?", "what is the colour of tovo ?"]
    with pytest.raises(CheckpointError):
        TinyRewriter.from_pretrained(tmp_path / "nothing")


def test_prompted_rewriter_on_a_tiny_random_chat_model(tmp_path):
    """The SmolLM2 path on a tiny random Llama + a tokenizer with a chat template (saved here):
    the prompt is the chat template applied to App. B.1's messages, decoding is greedy."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = word_tokenizer(WORDS + ["system", "assistant", "<|im_start|>", "<|im_end|>"], split="whitespace")
    tok.chat_template = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=2, intermediate_size=32, max_position_embeddings=1024,
                                         pad_token_id=0, bos_token_id=1, eos_token_id=2))
    model.save_pretrained(tmp_path / "chat")
    tok.save_pretrained(tmp_path / "chat")
    rw = PromptedRewriter.load(tmp_path / "chat")
    ids = rw.prompt_ids([("what is mira ?", "a city .")], "how big is it ?")
    text = tok.decode(ids)
    assert text.startswith("<|im_start|> system") and text.endswith("<|im_start|> assistant")
    out = rw.rewrite([([("what is mira ?", "a city .")], "how big is it ?")] * 2, max_new_tokens=4)
    assert len(out) == 2 and out[0] == out[1]  # greedy: the same conversation, the same rewrite
    no_template = word_tokenizer(WORDS)
    with pytest.raises(CheckpointError, match="chat template"):
        PromptedRewriter(model, no_template)
