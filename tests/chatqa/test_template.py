"""The App. A template: the exact text, the instruction on the first user turn only, the loss
mask on the latest answer (+EOS), and truncation (oldest turns first, then the context's end,
one warning)."""

import re
import warnings

import pytest

from paperzoo.chatqa import template as T
from paperzoo.core.errors import InputError

SYSTEM_TEXT = (
    "System: This is a chat between a user and an artificial intelligence assistant. The assistant gives "
    "helpful, detailed, and polite answers to the user's questions based on the context. The assistant should "
    "also indicate when the answer cannot be found in the context."
)
TWO_TURNS = [
    {"role": "user", "content": "what colour is the zorb ?"},
    {"role": "assistant", "content": "the zorb is red ."},
    {"role": "user", "content": "how old is it ?"},
]
CONTEXT = "the zorb is red . the zorb is 7 years old ."


def _tokenizer(extra: str = ""):
    """A word-level tokenizer (whitespace, then every punctuation mark isolated) over the template's
    words and the test text, as the world's tokenizer is built."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<bos>", "<eos>", "<unk>", *T.template_words()]
    words += re.findall(r"\w+|[^\w\s]", " ".join(m["content"] for m in TWO_TURNS) + " " + CONTEXT + " " + extra)
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")


def test_two_turn_prompt_is_app_a_exactly():
    expected = (
        SYSTEM_TEXT + "\n\n"
        "the zorb is red . the zorb is 7 years old .\n\n"
        "User: Please give a full and complete answer for the question. what colour is the zorb ?\n\n"
        "Assistant: the zorb is red .\n\n"
        "User: how old is it ?\n\n"
        "Assistant:"
    )
    assert T.build_prompt(TWO_TURNS, CONTEXT, T.INSTRUCTION_FULL) == expected
    assert T.SYSTEM == SYSTEM_TEXT


def test_sft_sample_has_no_context_block_and_no_instruction():
    """App. A.1 (stage 1; and stage-1 data inside stage 2): one blank line between the system prompt and User."""
    sample = T.build_sample([{"role": "user", "content": "reverse : a b"}, {"role": "assistant", "content": "b a"}])
    assert sample == SYSTEM_TEXT + "\n\nUser: reverse : a b\n\nAssistant: b a"


def test_instruction_only_on_the_first_user_turn():
    prompt = T.build_prompt(TWO_TURNS, CONTEXT, T.INSTRUCTION_SHORT_SPAN)
    assert prompt.count(T.INSTRUCTION_SHORT_SPAN) == 1
    assert f"User: {T.INSTRUCTION_SHORT_SPAN} what colour" in prompt
    assert "User: how old is it ?" in prompt


def test_instructions_are_the_papers_words():
    assert T.TRAINING_INSTRUCTIONS["convqa"] == "Please give a full and complete answer for the question."
    assert T.TRAINING_INSTRUCTIONS["short_span"] == (
        "Answer the following question with a short span. The answer needs to be just in a few words.")
    assert T.TRAINING_INSTRUCTIONS["arithmetic"] == (
        "Answer the following question with a number from context or the math arithmetic using +, -, *, or /.")
    assert T.TRAINING_INSTRUCTIONS["span_or_full"] == (
        "Answer the following question with a short span, or a full and complete answer.")
    # App. C.3.1
    assert {k for k, v in T.EVAL_INSTRUCTIONS.items() if v == T.INSTRUCTION_FULL} == {
        "doqa", "inscit", "hybridial", "doc2dial", "quac", "qrecc"}
    assert {k for k, v in T.EVAL_INSTRUCTIONS.items() if v == T.INSTRUCTION_SPAN_OR_FULL} == {"sqa", "topiocqa"}
    assert T.eval_instruction("coqa") == T.INSTRUCTION_SHORT_SPAN
    assert T.eval_instruction("ConvFinQA") == T.INSTRUCTION_ARITHMETIC
    assert T.eval_instruction("doqa_cooking") == T.INSTRUCTION_FULL
    with pytest.raises(InputError, match="nosuch"):
        T.eval_instruction("nosuch")


def test_token_ids_equal_the_whole_text_and_mask_is_the_latest_answer_plus_eos():
    tok = _tokenizer()
    sample = TWO_TURNS + [{"role": "assistant", "content": "it is 7 years old ."}]
    ids, mask = T.encode(tok, sample, CONTEXT, T.INSTRUCTION_FULL)
    assert tok.unk_token_id not in ids
    whole = tok(T.build_sample(sample, CONTEXT, T.INSTRUCTION_FULL), add_special_tokens=False)["input_ids"]
    assert ids == whole + [tok.eos_token_id]
    answer = tok(" it is 7 years old .", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert [i for i, m in zip(ids, mask) if m] == answer
    assert mask == [False] * (len(ids) - len(answer)) + [True] * len(answer)  # exactly the tail
    # supervise="all": the earlier answer too (without an EOS), the ids unchanged
    ids_all, mask_all = T.encode(tok, sample, CONTEXT, T.INSTRUCTION_FULL, supervise="all")
    assert ids_all == ids
    first = tok("the zorb is red .", add_special_tokens=False)["input_ids"]
    assert [i for i, m in zip(ids_all, mask_all) if m] == first + answer
    # a prompt (ends with the user): nothing supervised, ends at "Assistant:"
    p_ids, p_mask = T.encode(tok, TWO_TURNS, CONTEXT, T.INSTRUCTION_FULL)
    assert not any(p_mask) and p_ids == ids[: len(p_ids)] and tok.convert_ids_to_tokens(p_ids[-2:]) == ["Assistant", ":"]


def test_truncation_drops_oldest_turns_first_then_context_end_with_one_warning():
    tok = _tokenizer("q0 q1 q2 q3 a0 a1 a2 a3")
    msgs = []
    for k in range(4):
        msgs += [{"role": "user", "content": f"q{k} ?"}, {"role": "assistant", "content": f"a{k} ."}]
    full, _ = T.encode(tok, msgs, CONTEXT, T.INSTRUCTION_FULL)
    turn = len(tok("User: q0 ?\n\nAssistant: a0 .", add_special_tokens=False)["input_ids"])  # one earlier pair
    with pytest.warns(T.TruncationWarning) as record:
        ids, mask = T.encode(tok, msgs, CONTEXT, T.INSTRUCTION_FULL, max_length=len(full) - turn)
    assert len(record) == 1 and "1 oldest turn" in str(record[0].message)
    text = tok.decode(ids)
    assert "q0" not in text and "a0" not in text and all(f"q{k}" in text for k in (1, 2, 3))
    assert text.count("Please give") == 1 and text.index("Please give") < text.index("q1")  # moved to the first kept turn
    assert "7 years old" in text  # the context is whole
    assert len(ids) <= len(full) - turn
    # all earlier turns gone and 3 context tokens cut from its end; system prompt and latest Q/A kept
    latest_only, _ = T.encode(tok, msgs[-2:], CONTEXT, T.INSTRUCTION_FULL)
    with pytest.warns(T.TruncationWarning) as record:
        ids, mask = T.encode(tok, msgs, CONTEXT, T.INSTRUCTION_FULL, max_length=len(latest_only) - 3)
    assert len(record) == 1 and "3 oldest turns" in str(record[0].message) and "3 of 12 context tokens" in str(record[0].message)
    assert len(ids) == len(latest_only) - 3
    text = tok.decode(ids)
    assert text.startswith("System : This is") and "the zorb is red . the zorb is 7" in text and "years old" not in text
    assert "q3 ?" in text and [tok.convert_ids_to_tokens(i) for i, m in zip(ids, mask) if m] == ["a3", ".", "<eos>"]
    with pytest.raises(InputError, match="window of 20"):
        T.encode(tok, msgs, CONTEXT, T.INSTRUCTION_FULL, max_length=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        T.encode(tok, msgs, CONTEXT, T.INSTRUCTION_FULL, max_length=len(full))  # fits: no warning


def test_bad_messages_are_refused_with_the_message_named():
    with pytest.raises(InputError, match="message 1 has role 'user'"):
        T.build_prompt([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    with pytest.raises(InputError, match="at least one"):
        T.build_prompt([])
    with pytest.raises(InputError, match="message 0"):
        T.build_prompt([{"text": "a"}])
    with pytest.raises(InputError, match="end with a user"):
        T.build_prompt(TWO_TURNS[:2])
    with pytest.raises(InputError, match="supervise"):
        T.encode(_tokenizer(), TWO_TURNS, supervise="first")
