"""The text worlds' shared machinery: word-level tokenizers (both split rules), the
held-out hash rule, the per-example random stream, and that moving the instruction world
and Self-Rewarding's tokenizer onto it left their outputs unchanged."""

import hashlib

import numpy as np
import pytest

from paperzoo.core.errors import ConfigError
from paperzoo.world.text import SPECIALS, is_held_out, key_hash, split_words, word_tokenizer, world_rng


def test_word_tokenizer_ids_specials_first_then_words_in_order():
    tok = word_tokenizer(["b", "a", "<eos>", "b", "c"])  # a repeated word and a special keep their first id
    assert [tok.convert_ids_to_tokens(i) for i in range(len(tok))] == [*SPECIALS, "b", "a", "c"]
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok("a x c")["input_ids"] == [5, 3, 6]  # x is unknown
    assert tok.decode([4, 5, 6]) == "b a c"


def test_split_rules():
    assert split_words("Score: 3 a,b", "whitespace") == ["Score:", "3", "a,b"]
    assert split_words("the context. it's here?", "punctuation") == ["the", "context", ".", "it", "'", "s", "here", "?"]
    assert split_words("now, ?.", "punctuation") == ["now", ",", "?", "."]  # marks are isolated one by one
    tok = word_tokenizer(["the", "context", "."], split="punctuation", model_max_length=7)
    assert tok.convert_ids_to_tokens(tok("the context.")["input_ids"]) == ["the", "context", "."]
    assert tok.model_max_length == 7
    with pytest.raises(ConfigError, match="unknown word split"):
        word_tokenizer(["a"], split="bytes")
    with pytest.raises(ConfigError, match="white space"):
        word_tokenizer(["a b"])


def test_held_out_rule_is_the_hash_threshold():
    keys = [f"key {i}" for i in range(20000)]
    for k in keys[:50]:
        h = int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "big")
        assert key_hash(k) == h
        assert is_held_out(k, 0.2) == (h < 0.2 * 2**64)
    share = np.mean([is_held_out(k, 0.2) for k in keys])
    assert abs(share - 0.2) < 0.015  # binomial sd 0.003
    assert not any(is_held_out(k, 0.0) for k in keys[:100]) and all(is_held_out(k, 1.0) for k in keys[:100])


def test_world_rng_is_a_pure_function_of_its_key():
    a, b = world_rng(0, 2, 7).random(4), world_rng(0, 2, 7).random(4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng([0, 2, 7]).random(4))  # the instruction world's stream
    assert not np.array_equal(a, world_rng(0, 2, 8).random(4))
    assert not np.array_equal(a, world_rng(1, 2, 7).random(4))


# Pinned before the instruction world and Self-Rewarding's tokenizer moved onto world/text.py.
INSTRUCTIONS_DIGEST = "1c1517ba4b72f7dcc41d1217cdcacb8b5bcb8a891cd946af91c56c21aa68b4e6"


def test_instruction_world_unchanged_by_the_shared_machinery():
    from paperzoo.world.instructions import SPLITS, tasks

    h = hashlib.sha256()
    for split in SPLITS:
        for t in tasks(split, 0, 200):
            h.update(repr((t.family, t.instruction, t.answer)).encode())
    assert h.hexdigest() == INSTRUCTIONS_DIGEST


def test_self_rewarding_tokenizer_unchanged_by_the_shared_builder():
    from paperzoo.self_rewarding.formats import world_tokenizer
    from paperzoo.world.instructions import VOCAB

    tok = world_tokenizer()
    assert tok.get_vocab() == {w: i for i, w in enumerate(VOCAB)} and tok.model_max_length == 128
    assert tok("reverse : c a f => f a c")["input_ids"] == [40, 46, 16, 14, 19, 48, 19, 14, 16]
    assert tok("judge add : 1 2 + 3 answer 1 5 | type yes Score: 5")["input_ids"] == [
        49, 42, 46, 5, 6, 47, 7, 51, 5, 9, 50, 52, 57, 59, 9]
    assert tok("a,b Score:3")["input_ids"] == [3, 3]  # whitespace split: punctuation stays attached
