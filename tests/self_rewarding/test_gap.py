"""The generation-verification gap measurement (self_rewarding/gap.py): the fixed judge pairs,
how pairs are counted (an unparsed or tied judgment decides nothing and counts as wrong over
all pairs), and the whole path on a tiny chat-style stand-in (the real model's numbers are in
test_real_m0.py and the README)."""

import json
import math

import pytest
from click.testing import CliRunner

from paperzoo.cli import main
from paperzoo.self_rewarding import gap
from paperzoo.self_rewarding.policy import load_policy
from paperzoo.world.checkable import FAMILIES, is_held_out, rubric_score


def test_judge_pairs_are_fixed_balanced_held_out_and_ordered_by_the_rubric():
    pairs = gap.judge_pairs("eft_eval", 0, per_family=3)
    assert pairs == gap.judge_pairs("eft_eval", 0, per_family=3)
    assert [p.task.family for p in pairs] == [f for f in FAMILIES for _ in range(3)]
    assert len({p.task.prompt for p in pairs}) == len(pairs)
    for p in pairs:
        assert is_held_out(p.task)
        assert p.rubric == tuple(rubric_score(p.task, r) for r in p.responses)
        assert p.rubric[0] != p.rubric[1]
    assert gap.judge_pairs("eft_eval", 1, per_family=3) != pairs


def test_undecided_pairs_count_as_wrong_over_all_pairs():
    pairs = gap.judge_pairs("eft_eval", 0, per_family=1)[:5]
    sign = [1 if p.rubric[0] > p.rubric[1] else -1 for p in pairs]
    judged = [(4.0 if sign[0] > 0 else 1.0, 2.0),  # right
              (1.0 if sign[1] > 0 else 4.0, 2.0),  # wrong
              (None, 3.0),  # unparsed: undecided
              (3.0, 3.0),  # tie: undecided
              (5.0 if sign[4] > 0 else 0.0, 2.5)]  # right
    out = gap._pair_outcomes(pairs, judged)
    assert (out["pairs"], out["decided"], out["right"]) == (5, 3, 2)
    assert out["accuracy"] == pytest.approx(2 / 5) and out["accuracy_decided"] == pytest.approx(2 / 3)
    none = gap._pair_outcomes(pairs, [(None, None)] * 5)
    assert none["accuracy"] == 0.0 and math.isnan(none["accuracy_decided"])
    assert gap.RANDOM_JUDGE_ACCURACY == pytest.approx(sum(a > b for a in range(6) for b in range(6)) / 36)


def test_measure_runs_the_whole_path_and_its_numbers_agree_with_the_checker(chat_standin):
    policy = load_policy(chat_standin)
    assert policy.fmt.style == "chat"
    out = gap.measure(policy, tasks_per_family=1, pairs_per_family=1, max_new_tokens=4, judge_max_new_tokens=4,
                      sampled_judgments=2)
    following = out["following"]
    assert following["n"] == 6 and set(following["per_family"]) == set(FAMILIES)
    assert following["rubric"] == pytest.approx(sum(following["scores"]) / 6)
    assert following["pass_rate"] == sum(s == 5 for s in following["scores"]) / 6
    for name in ("judging", "judging_sampled"):
        j = out[name]
        assert j["pairs"] == 6 and 0.0 <= j["parse_rate"] <= 1.0 and j["right"] <= j["decided"] <= 6
        assert len(j["texts"]) == 6 and all(len(pair) == 2 for pair in j["texts"])
    assert all(len(c) == 2 for pair in out["judging_sampled"]["texts"] for c in pair)  # 2 judgments per response
    forced = out["forced"]
    assert 0.0 < forced["digit_mass"] <= 1.0 + 1e-6
    assert all(0.0 <= s <= 5.0 for pair in forced["expected_scores"] for s in pair)
    json.dumps(out)  # the CLI writes it as JSON


def test_gap_cli_prints_the_table_and_writes_json(chat_standin, tmp_path):
    res = CliRunner().invoke(main, ["self_rewarding", "gap", "--model", str(chat_standin), "--tasks-per-family", "1",
                                    "--pairs-per-family", "1", "--max-new-tokens", "3", "--judge-max-new-tokens", "3",
                                    "--out", str(tmp_path / "gap.json"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "| all | 6 |" in res.output and "chance pairwise 0.417" in res.output
    assert set(json.loads((tmp_path / "gap.json").read_text())) >= {"following", "judging", "forced", "pairs"}
