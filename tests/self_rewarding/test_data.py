"""Seed data, the EFT agreement filter, and JSONL files (TRL's preference format)."""

import gzip
import json

import pytest

from paperzoo.core.errors import InputError
from paperzoo.self_rewarding.data import (
    JudgeGroup,
    eft_examples,
    ift_examples,
    oasst_seed_data,
    order_agrees,
    read_pairs,
    read_sft,
    self_filtered_targets,
    world_judge_groups,
    world_prompts,
    write_pairs,
)
from paperzoo.self_rewarding.formats import JudgeRequest
from paperzoo.self_rewarding.judge import parse_judge_score
from paperzoo.self_rewarding.pairs import PreferencePair
from paperzoo.world.instructions import tasks


def test_world_seed_data_sizes_and_oracle_judgments():
    assert len(ift_examples(640, 0)) == 640
    groups = world_judge_groups("eft_train", 50, 0)
    assert len(groups) == 50
    for g in groups:
        assert 2 <= len(g.responses) <= 4 and len(g.targets) == len(g.responses)
        for q, target in zip(g.quality, g.targets):
            assert parse_judge_score(target) == q  # the oracle judgment ends with the rubric's score
    ex = eft_examples(groups)
    assert isinstance(ex[0][0], JudgeRequest) and len(ex) == sum(len(g.responses) for g in groups)
    assert world_prompts(0, 10, 0) != world_prompts(1, 10, 0)  # each iteration has fresh prompts
    assert world_prompts(1, 10, 0) == tasks("prompts", 0, 10, start=10)


def test_order_agreement_and_the_self_filtered_eft():
    assert order_agrees([5, 3, 1], [2, 1, 0])
    assert not order_agrees([5, 5, 1], [2, 1, 0])  # a tie where the ranks differ
    assert not order_agrees([1, 3], [0, 1][::-1])
    groups = [JudgeGroup(f"q{i}", ("a", "b"), (1.0, 0.0)) for i in range(6)]
    judgments = [("j-a Score: 4", "j-b Score: 4")] * 6
    scores = [(4.0, 2.0), (4.0, 4.0), (None, 1.0), (1.0, 3.0), (4.0, 1.0), (5.0, 4.0)]
    kept = self_filtered_targets(groups, [list(j) for j in judgments], scores)
    # tie (1), unparsed (2) and the reversed order (3) are dropped; the rest agree
    assert [g.instruction for g in kept] == ["q0", "q4", "q5"]
    assert kept[0].targets == ("j-a Score: 4", "j-b Score: 4")


def test_pairs_round_trip_as_trl_jsonl_and_malformed_lines_are_named(tmp_path):
    path = write_pairs(tmp_path / "aift.jsonl", [PreferencePair("p", "good", "bad", 4.0, 1.0)])
    assert json.loads(path.read_text()) == {"prompt": "p", "chosen": "good", "rejected": "bad"}
    assert read_pairs(path) == [("p", "good", "bad")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n\n{"prompt": "p", "chosen": "a"\n')
    with pytest.raises(InputError, match=r"bad.jsonl, line 3: not valid JSON"):
        read_pairs(bad)
    bad.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n["x"]\n')
    with pytest.raises(InputError, match="line 2: expected a JSON object"):
        read_pairs(bad)
    bad.write_text('{"prompt": "p", "completion": 3}\n')
    with pytest.raises(InputError, match="line 1: missing or non-string field.*completion"):
        read_sft(bad)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="holds no examples"):
        read_sft(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="no such file"):
        read_pairs(tmp_path / "missing.jsonl")


def test_no_partial_preference_file_when_writing_is_interrupted(tmp_path):
    def rows():
        yield PreferencePair("p", "a", "b", 2.0, 1.0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_pairs(tmp_path / "aift.jsonl", rows())
    assert list(tmp_path.iterdir()) == []


def _tree(tid, lang, replies):
    return {"message_tree_id": tid, "prompt": {"text": f"question {tid}", "role": "prompter", "lang": lang,
                                               "replies": [{"text": t, "role": "assistant", "rank": r} for t, r in replies]}}


def test_open_assistant_trees_give_ift_and_disjoint_eft(tmp_path):
    trees = [_tree(f"t{i}", "en", [(f"best {i}", 0), (f"worse {i}", 1), (f"worst {i}", 2)]) for i in range(40)]
    trees.append(_tree("de", "de", [("gut", 0), ("schlecht", 1)]))
    path = tmp_path / "trees.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(json.dumps(t) for t in trees) + "\n")
    ift, train, held = oasst_seed_data(path, ift_size=10)
    assert len(ift) == 10 and ift[0] == ("question t0", "best 0")
    assert len(train) + len(held) == 30 and held  # the rest, split by tree id
    instructions = {g.instruction for g in train + held}
    assert not instructions & {x for x, _ in ift}
    assert train[0].responses[0].startswith("best") and train[0].quality == (-0.0, -1.0, -2.0)
    (tmp_path / "x.jsonl").write_text('{"foo": 1}\n')
    with pytest.raises(InputError, match="line 1: expected an Open Assistant tree"):
        oasst_seed_data(tmp_path / "x.jsonl")
