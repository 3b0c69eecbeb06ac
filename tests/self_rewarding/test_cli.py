"""`paperzoo self_rewarding ...` end to end at toy size: train writes M1, M2 and TRL pair
files; generate and judge read the policy folder back; bad input gets one clear error."""

import json

import pytest
from click.testing import CliRunner

from paperzoo.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sr")
    res = CliRunner().invoke(main, ["self_rewarding", "train", "--iterations", "1", "--prompts-per-iteration", "24",
                                    "--sft-steps", "30", "--dpo-steps", "4", "--out", str(out), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    return out


def test_train_writes_policies_pairs_and_a_log(run_dir):
    for name in ("M1", "M2"):
        assert (run_dir / name / "model.safetensors").is_file() and (run_dir / name / "tokenizer.json").is_file()
    log = json.loads((run_dir / "log.json").read_text())
    assert [m["name"] for m in log["models"]] == ["M1", "M2"]
    m2 = log["models"][1]
    assert m2["prompts"] == 24 and 0 <= m2["pairs"] <= 24 and 0 <= m2["parse_rate"] <= 1
    lines = (run_dir / "iteration-1" / "aift.jsonl").read_text().splitlines()
    assert len(lines) == m2["pairs"]
    for line in lines:
        assert set(json.loads(line)) == {"prompt", "chosen", "rejected"}


def test_generate_and_judge_read_the_policy_back(run_dir, tmp_path):
    out = tmp_path / "cands.jsonl"
    res = CliRunner().invoke(main, ["self_rewarding", "generate", "--model", str(run_dir / "M2"), "--prompt", "reverse : c a f",
                                    "--prompt", "sort : 3 1 2", "-n", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [len(r["responses"]) for r in rows] == [3, 3]
    res = CliRunner().invoke(main, ["self_rewarding", "judge", "--model", str(run_dir / "M2"), "--in", str(out),
                                    "--pairs", str(tmp_path / "pairs.jsonl")])
    assert res.exit_code == 0, res.output
    assert "parse rate" in res.output and (tmp_path / "pairs.jsonl").exists()
    res = CliRunner().invoke(main, ["self_rewarding", "judge", "--model", str(run_dir / "M1"), "--prompt", "max : 1 5 2",
                                    "--response", "5", "--response", "2"])
    assert res.exit_code == 0 and "max : 1 5 2" in res.output


def test_bad_input_is_one_clear_error(run_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["self_rewarding", "generate", "--model", str(tmp_path / "none"), "--prompt", "x"])
    assert res.exit_code == 1 and "does not exist" in res.output and "Traceback" not in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "max : 1 2 3", "responses": ["3"]}\n{"prompt": 4}\n')
    res = runner.invoke(main, ["self_rewarding", "judge", "--model", str(run_dir / "M1"), "--in", str(bad)])
    assert res.exit_code == 1 and "line 2" in res.output
    res = runner.invoke(main, ["self_rewarding", "generate", "--model", str(run_dir / "M1")])
    assert res.exit_code == 1 and "--prompt" in res.output
    res = runner.invoke(main, ["self_rewarding", "configs"])
    assert res.exit_code == 0 and "68,976,648,192" in res.output
