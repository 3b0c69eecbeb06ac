"""The conversational world (ChatQA): entities split train / held-out, documents in
2-sentence chunks, dialogues whose follow-ups need the history, gold spans inside their
gold chunks, unanswerable last turns built by deleting the supporting sentence, single-turn
span and arithmetic QA, and a closed vocabulary the tokenizer covers."""

import hashlib
from collections import Counter

import pytest

from paperzoo.core.errors import ConfigError
from paperzoo.world import conversations as C
from paperzoo.world.text import split_words


def _contains(words, part):
    return any(words[i:i + len(part)] == part for i in range(len(words) - len(part) + 1))


@pytest.fixture(scope="module")
def train_dialogues():
    return C.dialogues("train", 0, 2000)


def test_templates_follow_the_rules():
    C.check_templates()
    subjects = {"he", "she", "they"}
    prepositions = {"by", "in", "on", "at", "of", "to", "for", "with", "owns"}
    for d in C.dialogues("train", 0, 300):
        for t in d.turns:
            q = split_words(t.question)
            assert not any(a in prepositions and b in subjects for a, b in zip(q, q[1:])), t.question  # "by she"


def test_same_seed_same_world_other_seed_other_facts():
    assert C.dialogues("train", 3, 40, start=5) == C.dialogues("train", 3, 40, start=5)
    assert C.dialogues("train", 3, 10, start=5) == C.dialogues("train", 3, 45)[5:15]  # index, not position
    assert C.corpus("test", 3) == C.corpus("test", 3)
    assert C.dialogues("train", 3, 40) != C.dialogues("train", 4, 40)
    assert C.corpus("train", 3) != C.corpus("train", 4)
    assert C.single_turn("valid", 3, 30) == C.single_turn("valid", 3, 30) != C.single_turn("valid", 4, 30)
    assert [d.entity for d in C.corpus("train", 3)] == [d.entity for d in C.corpus("train", 4)]  # names are fixed


def test_held_out_entities_are_disjoint_from_train_and_balanced_over_kinds():
    train, valid, test = (C.split_entities(s) for s in ("train", "valid", "test"))
    assert valid == test and not {e.name for e in train} & {e.name for e in valid}
    assert len(train) + len(valid) == len(C.entities()) == len(set(C.NAMES)) == 84
    assert Counter(e.kind for e in train) == {k: 10 for k in C.KINDS}
    assert Counter(e.kind for e in valid) == {k: 4 for k in C.KINDS}
    held = {e.id for e in valid}
    for d in C.dialogues("test", 0, 200):
        assert set(d.documents) <= held and {c.doc for c in d.context} <= held
    for d in C.dialogues("train", 0, 200):
        assert not set(d.documents) & held
    assert {c.doc for q in C.single_turn("test", 0, 200) for c in q.context} <= held


def test_documents_chunk_ids_and_fact_counts():
    docs = C.corpus("train", 0) + C.corpus("test", 0)
    ids = [c.id for d in docs for c in d.chunks]
    assert len(ids) == len(set(ids))
    for d in docs:
        assert [c.id for c in d.chunks] == [f"{d.id}/{i}" for i in range(len(d.chunks))]
        sentences = [s for c in d.chunks for s in c.text.split(". ")]
        assert 7 <= len(sentences) <= 10 and len(sentences) == len(C.facts(d.id, 0))
        assert all(c.text.count(".") <= C.SENTENCES_PER_CHUNK for c in d.chunks)
        assert all(d.entity in c.text for c in d.chunks)
        assert d.text == " ".join(c.text for c in d.chunks)
    assert C.chunk_sentences(["a.", "b.", "c."], 2) == ["a. b.", "c."]


def test_answer_spans_lie_in_their_gold_chunks_inside_the_context(train_dialogues):
    for d in train_dialogues[:500]:
        context = {c.id: c for c in d.context}
        assert 1 <= len(d.documents) <= 2 and [c.doc for c in d.context] == sorted(
            (c.doc for c in d.context), key=d.documents.index)
        assert C.MIN_TURNS <= len(d.turns) <= C.MAX_TURNS
        for t in d.turns:
            assert t.answerable and t.answer == t.span
            assert t.gold_chunk in context and t.gold_chunk.startswith(t.entity + "/")
            assert t.span in context[t.gold_chunk].text
            assert _contains(split_words(context[t.gold_chunk].text), split_words(t.span))
            assert C.facts(t.entity, 0)[t.attribute] == t.span


def test_follow_ups_use_pronouns_and_need_the_history(train_dialogues):
    names = {e.id: e.name for e in C.entities()}
    all_names = set(C.NAMES)
    for d in train_dialogues[:500]:
        for prev, t in zip((None, *d.turns), d.turns):
            q, rw = split_words(t.question), split_words(t.rewrite)
            assert names[t.entity] in rw
            if t.kind == "follow_up":
                assert C.PRONOUNS & set(q) and not all_names & set(q)
                assert t.entity == prev.entity  # a pronoun refers to the entity of the turn before
            else:
                assert names[t.entity] in q
                assert (t.kind == "first") == (prev is None)
                if t.kind == "topic_switch":
                    assert t.entity != prev.entity
        assert len({(t.entity, t.attribute) for t in d.turns}) == len(d.turns)  # no fact asked twice


def test_topic_switch_share_is_about_fifteen_percent(train_dialogues):
    kinds = Counter(t.kind for d in train_dialogues for t in d.turns)
    follow = kinds["follow_up"] + kinds["topic_switch"]
    share = kinds["topic_switch"] / follow  # about 7000 follow-up turns: sd 0.004
    assert abs(share - C.TOPIC_SWITCH) < 0.02, share
    assert kinds["first"] == len(train_dialogues)
    assert abs(follow / len(train_dialogues) - 3.5) < 0.1  # 3-6 turns uniform: 4.5 turns, 3.5 after the first


def test_unanswerable_last_turns_lose_their_sentence_and_refuse():
    plain = C.dialogues("test", 1, 600)
    mixed = C.dialogues("test", 1, 600, unanswerable=0.3)
    fewer = C.dialogues("test", 1, 600, unanswerable=0.1)
    share = sum(d.unanswerable for d in mixed) / len(mixed)
    assert abs(share - 0.3) < 0.06, share  # sd 0.019
    assert {d.id for d in fewer if d.unanswerable} <= {d.id for d in mixed if d.unanswerable}  # nested
    changed = 0
    for p, m in zip(plain, mixed):
        assert p.turns[:-1] == m.turns[:-1] and p.documents == m.documents
        if not m.unanswerable:
            assert m == p
            continue
        last = m.turns[-1]
        assert (last.answer, last.span, last.gold_chunk, last.answerable) == (C.REFUSAL, "", None, False)
        value = C.facts(last.entity, 1)[last.attribute]
        assert not any(_contains(split_words(c.text), split_words(value)) for c in m.context)
        assert sum(len(c.text) for c in m.context) < sum(len(c.text) for c in p.context)
        assert (last.entity, last.attribute) not in {(t.entity, t.attribute) for t in m.turns[:-1]}
        changed += (last.question != p.turns[-1].question)
    assert changed < 0.1 * share * len(mixed)  # the question is kept unless its value recurs in the context
    assert C.REFUSAL == "Sorry. I cannot find the answer based on the context."


def test_single_turn_spans_and_arithmetic():
    qa = C.single_turn("train", 2, 800)
    kinds = Counter(q.kind for q in qa)
    assert abs(kinds["arithmetic"] / len(qa) - C.ARITHMETIC_SHARE) < 0.05  # sd 0.015
    by_id = {e.id: e for e in C.entities()}
    for q in qa:
        entity = by_id[q.context[0].doc]
        assert {c.doc for c in q.context} == {entity.id} and not entity.held_out
        assert q.context == C.document(entity.id, 2).chunks
        assert entity.name in split_words(q.question)
        chunks = {c.id: c.text for c in q.context}
        assert q.support and all(c in chunks for c in q.support)
        f = C.facts(entity.id, 2)
        if q.kind == "span":
            assert q.answer in chunks[q.support[0]] and q.answer in f.values()
            continue
        kind = C.KIND_SPECS[entity.kind]
        y1, y2, c1, c2 = (int(f[a.name]) for a in kind.numeric)
        gap = {t.format(e=entity.name) for t in kind.year_gap}
        total = {t.format(e=entity.name) for t in kind.count_sum}
        assert q.question in gap | total
        assert int(q.answer) == (y2 - y1 if q.question in gap else c1 + c2) > 0
    assert {q.kind for q in C.single_turn("train", 2, 50, arithmetic=0.0)} == {"span"}
    assert {q.kind for q in C.single_turn("train", 2, 50, arithmetic=1.0)} == {"arithmetic"}


@pytest.fixture(scope="module")
def tok():
    return C.tokenizer()


def test_every_generated_word_is_in_the_vocabulary(tok):
    assert len(C.words()) == 555 and len(tok) == 559  # pinned; the card asks for about 600
    texts = [d.text for s in ("train", "test") for d in C.corpus(s, 5)]
    for split in C.SPLITS:
        for d in C.dialogues(split, 5, 150, unanswerable=0.3):
            texts += [c.text for c in d.context if c.id.endswith("/0")] + [
                x for t in d.turns for x in (t.question, t.rewrite, t.answer)]
        texts += [x for q in C.single_turn(split, 5, 150) for x in (q.question, q.answer)]
    seen = set()
    for enc in tok(texts)["input_ids"]:
        assert tok.unk_token_id not in enc
        seen.update(enc)
    vocab = set(C.words())
    assert {w for t in texts for w in split_words(t)} <= vocab
    assert len(seen) > 0.85 * len(vocab), len(seen)  # no dead words: 511 of 555 in use here (one seed's pool values)


def test_tokenizer_splits_punctuation_and_takes_extra_words(tok):
    extra = C.tokenizer(["System: This is a chat.", "Assistant:"], model_max_length=64)
    assert extra.model_max_length == 64 and tok.model_max_length == 384
    ids = extra("System: what is the context.")["input_ids"]
    assert extra.convert_ids_to_tokens(ids) == ["System", ":", "what", "is", "the", "context", "."]
    assert len(extra) == len(tok) + 4  # System, This, chat, Assistant are new
    assert extra.get_vocab()["Sorry"] == tok.get_vocab()["Sorry"]  # world ids do not move
    assert tok.convert_ids_to_tokens(tok(C.REFUSAL)["input_ids"]) == [
        "Sorry", ".", "I", "cannot", "find", "the", "answer", "based", "on", "the", "context", "."]


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="unknown conversations split"):
        C.dialogues("dev", 0, 1)
    with pytest.raises(ConfigError, match="unanswerable"):
        C.dialogues("train", 0, 1, unanswerable=1.5)
    with pytest.raises(ConfigError, match="must be >= 0"):
        C.single_turn("train", 0, -1)
    with pytest.raises(ConfigError, match="unknown entity"):
        C.document("e999", 0)


# The default world, pinned so that accidental changes are caught: bump CONVERSATIONS_VERSION
# (and this digest) when the world changes on purpose.
WORLD_DIGEST = "94bb12ba8d6a2ed9b659a7aba5ca6c3449fff50e2d44c319b4e650506cd961e3"


def test_pinned_digest_of_the_default_world():
    h = hashlib.sha256()
    for split in ("train", "test"):
        h.update(repr(C.corpus(split, 0)).encode())
    h.update(repr(C.dialogues("train", 0, 100, unanswerable=0.3)).encode())
    h.update(repr(C.dialogues("test", 0, 100, unanswerable=0.3)).encode())
    h.update(repr(C.single_turn("train", 0, 100)).encode())
    h.update(repr(C.words()).encode())
    assert (C.CONVERSATIONS_VERSION, h.hexdigest()) == (2, WORLD_DIGEST)
