"""ChatRAG-Bench files: reading gold and predictions as get_scores.py does, one clear error per
bad input, and our world written in the same layout and scored by the same code path."""

import json
from dataclasses import dataclass

import pytest

from paperzoo.chatqa.bench import (
    dataset_of, gold_file, load_gold, load_predictions, quac_gold_in_context, score_file, score_records,
    world_bench, world_records, write_predictions, write_world,
)
from paperzoo.chatqa.scoring import REFUSAL
from paperzoo.core.errors import InputError


def record(question="q?", answers=("a",), **extra):
    return {"messages": [{"role": "user", "content": question}], "ctxs": [{"title": "t", "text": "c"}],
            "answers": list(answers), **extra}


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_gold_records_read_back(tmp_path):
    gold = write(tmp_path / "convfinqa" / "dev.json", [record("what percent?", ["divide(1, 8)"], exe_answer=0.125)])
    [r] = load_gold(gold, "convfinqa")
    assert r.question == "what percent?" and r.answers == ("divide(1, 8)",) and r.exe_answer == 0.125
    assert r.ctxs[0].title == "t" and r.gold_in_context is None
    # "answer" instead of "answers", as load_groundtruth_file accepts it
    no_answers = {k: v for k, v in record().items() if k != "answers"}
    [r] = load_gold(write(tmp_path / "x.json", [{**no_answers, "answer": 7}]))
    assert r.answers == ("7",)


@pytest.mark.parametrize("bad, message", [
    ({"messages": [], "ctxs": [], "answers": ["a"]}, "'messages' must be a non-empty list"),
    ({"messages": [{"role": "user"}], "ctxs": [], "answers": ["a"]}, "messages[0] must be"),
    ({"messages": [{"role": "user", "content": "q"}], "answers": ["a"]}, "'ctxs' must be a list"),
    ({"messages": [{"role": "user", "content": "q"}], "ctxs": [{"title": "t"}], "answers": ["a"]}, "ctxs[0] must be"),
    ({"messages": [{"role": "user", "content": "q"}], "ctxs": []}, "needs 'answers'"),
    ({"messages": [{"role": "user", "content": "q"}], "ctxs": [], "answers": [3]}, "non-empty list of strings"),
    ("just a string", "expected an object"),
])
def test_a_malformed_record_names_file_and_index(tmp_path, bad, message):
    gold = write(tmp_path / "doc2dial" / "test.json", [record(), record(), bad])
    with pytest.raises(InputError) as err:
        load_gold(gold)
    assert str(gold) in str(err.value) and "record 2" in str(err.value) and message in str(err.value)


def test_whole_file_errors(tmp_path):
    with pytest.raises(InputError, match="no such benchmark file"):
        load_gold(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not a JSON file"):
        load_gold(tmp_path / "bad.json")
    with pytest.raises(InputError, match="non-empty JSON list"):
        load_gold(write(tmp_path / "empty.json", []))
    with pytest.raises(InputError, match="record 0: ConvFinQA records need 'exe_answer'"):
        load_gold(write(tmp_path / "c.json", [record()]), "convfinqa")


def test_predictions_lines_and_jsonl(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("  first answer </s>\n\nthird\r\nfourth")
    assert load_predictions(txt) == ["first answer </s>", "", "third", "fourth"]   # as readlines() + strip
    jl = tmp_path / "p.jsonl"
    jl.write_text('{"answer": " a "}\n\n{"answer": "b"}\n')
    assert load_predictions(jl) == ["a", "b"]
    jl.write_text('{"answer": "a"}\n{"answer": 3}\n')
    with pytest.raises(InputError, match=r"p.jsonl: line 2 must be an object with a string 'answer'"):
        load_predictions(jl)
    jl.write_text('{"answer": "a"}\n{oops\n')
    with pytest.raises(InputError, match=r"line 2 is not JSON"):
        load_predictions(jl)
    with pytest.raises(InputError, match="no such predictions file"):
        load_predictions(tmp_path / "none.txt")


def test_count_mismatch_says_both_counts(tmp_path):
    gold = write(tmp_path / "quac" / "test.json", [record(), record(), record()])
    pred = tmp_path / "p.txt"
    pred.write_text("a\nb\n")
    with pytest.raises(InputError, match="2 predictions for 3 gold records"):
        score_file(pred, gold)


def test_dataset_from_the_official_layout(tmp_path):
    assert dataset_of("data/doqa/test_cooking.json") == "doqa_cooking"
    assert dataset_of("/x/quac/test.json") == "quac" and dataset_of("x/test.json") is None
    write(tmp_path / "doqa" / "test_travel.json", [record()])
    assert gold_file(tmp_path, "doqa_travel") == (tmp_path / "doqa" / "test_travel.json", "doqa_travel")
    with pytest.raises(InputError, match="is a folder: name the dataset with --dataset"):
        gold_file(tmp_path, None)
    with pytest.raises(InputError, match="no quac/test.json in this folder"):
        gold_file(tmp_path, "quac")
    with pytest.raises(InputError, match="--dataset 'nope': expected one of"):
        gold_file(tmp_path, "nope")
    with pytest.raises(InputError, match="cannot tell the dataset"):
        gold_file(write(tmp_path / "mine.json", [record()]), None)


def test_quac_index_list_becomes_a_mask(tmp_path):
    recs = load_gold(write(tmp_path / "q.json", [record(answers=[REFUSAL]), record(), record(), record(answers=[REFUSAL]), record()]))
    assert quac_gold_in_context([0, 2], recs) == [None, True, False, None, True]


# Stand-ins with the fields of paperzoo.world.conversations (Chunk, Turn, Dialogue), until it lands.
@dataclass(frozen=True)
class Chunk:
    id: str
    doc: str
    text: str


@dataclass(frozen=True)
class Turn:
    question: str
    rewrite: str
    answer: str
    span: str
    gold_chunk: str | None
    answerable: bool
    kind: str


@dataclass(frozen=True)
class Dialogue:
    id: str
    context: tuple
    turns: tuple


def dialogue():
    chunks = (Chunk("e1/0", "e1", "zorb is a city in vell ."), Chunk("e1/1", "e1", "its mayor is kim ."))
    turns = (Turn("where is zorb ?", "where is zorb ?", "zorb is in vell .", "vell", "e1/0", True, "first"),
             Turn("who is its mayor ?", "who is zorb's mayor ?", "kim .", "kim", "e1/1", True, "follow_up"),
             Turn("how old is it ?", "how old is zorb ?", REFUSAL, "", None, False, "follow_up"))
    return Dialogue("d0", chunks, turns)


def test_world_records_have_the_benchmark_layout(tmp_path):
    recs = world_records([dialogue()])
    assert len(recs) == 3
    assert [m["role"] for m in recs[2]["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert recs[2]["messages"][-1]["content"] == "how old is it ?" and recs[2]["answers"] == [REFUSAL]
    assert recs[1]["messages"][1]["content"] == "zorb is in vell ." and recs[1]["gold_chunk"] == "e1/1"
    assert recs[0]["ctxs"][0] == {"title": "e1", "text": "zorb is a city in vell .", "id": "e1/0"}
    with pytest.raises(InputError, match="2 context lists for 3 turns"):
        world_records([dialogue()], contexts=[[], []])


def test_world_is_scored_by_the_same_path(tmp_path):
    d = dialogue()
    gold = write_world(tmp_path, [d])
    assert gold == tmp_path / "world" / "test.json"
    pred = write_predictions(tmp_path / "p.txt", ["zorb is in vell .", "the mayor\nis bob .", "i do not have that information ."])
    assert pred.read_text().count("\n") == 3
    s = score_file(pred, tmp_path, "world")
    # F1: 1, 0 ("mayor is bob" vs "kim"), and the keyphrase "do not have" maps the last to the refusal: 1
    assert s.f1 == pytest.approx(200 / 3) and s.unanswerable_acc == 100.0 and s.answerable_acc == 100.0
    assert world_bench([d]) == load_gold(gold, "world")             # in memory = written and read back
    # Retrieved contexts that miss the gold chunk take the answerable turn out of "yes" (QuAC's rule).
    recs = load_gold(write_world(tmp_path / "r", [d], contexts=[[d.context[0]], [d.context[0]], []]), "world")
    assert [r.gold_in_context for r in recs] == [True, False, None]   # None: unanswerable
    s = score_records("world", ["zorb is in vell .", "Sorry. I cannot find the answer based on the context.", REFUSAL], recs)
    assert s.n_answerable == 1 and s.answerable_acc == 100.0


def test_the_real_world_round_trips_and_scores_its_baselines(tmp_path):
    """On paperzoo.world.conversations (20 held-out dialogues, 30% unanswerable last turns): the
    gold replies score 100 everywhere; always refusing (measured) gets no = 100, yes = 0, and F1 =
    the refusal turns' share (9 of 94 turns: 9.57), so no/yes = 50; empty answers get F1 0."""
    from paperzoo.world import conversations

    assert conversations.REFUSAL == REFUSAL
    dialogues = conversations.dialogues("test", 0, 20, unanswerable=0.3)
    records = load_gold(write_world(tmp_path, dialogues), "world")
    assert records == world_bench(dialogues) and len(records) == sum(len(d.turns) for d in dialogues)
    gold = score_records("world", [r.answers[0] for r in records], records)
    assert (gold.f1, gold.em, gold.unanswerable_acc, gold.answerable_acc) == (100.0, 100.0, 100.0, 100.0)
    refusing = score_records("world", [REFUSAL] * len(records), records)
    n_refusals = sum(not t.answerable for d in dialogues for t in d.turns)
    assert n_refusals > 0 and refusing.n_unanswerable == n_refusals
    assert refusing.f1 == pytest.approx(100 * n_refusals / len(records))
    assert (refusing.unanswerable_acc, refusing.answerable_acc, refusing.avg_no_yes) == (100.0, 0.0, 50.0)
    assert score_records("world", [""] * len(records), records).f1 == 0.0
