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
    assert m2["prompts"] == 24
    cands = [json.loads(x) for x in (run_dir / "iteration-1" / "candidates.jsonl").read_text().splitlines()]
    assert len(cands) == 24 and all(len(c["responses"]) == len(c["rewards"]) == 4 for c in cands)
    # a prompt gives a pair exactly when its ranked candidates' rewards differ (ties and unranked ones dropped)
    ranked = {c["prompt"]: [(resp, rew) for resp, rew in zip(c["responses"], c["rewards"]) if rew is not None] for c in cands}
    expected = sum(len({rew for _, rew in r}) > 1 for r in ranked.values())
    pairs = [json.loads(x) for x in (run_dir / "iteration-1" / "aift.jsonl").read_text().splitlines()]
    assert len(pairs) == m2["pairs"] == expected
    for p in pairs:
        assert set(p) == {"prompt", "chosen", "rejected"}
        best = max(rew for _, rew in ranked[p["prompt"]])
        worst = min(rew for _, rew in ranked[p["prompt"]])
        assert (p["chosen"], best) in ranked[p["prompt"]] and (p["rejected"], worst) in ranked[p["prompt"]]  # best vs worst
    unranked = all(rew is None for c in cands for rew in c["rewards"])
    assert (m2["parse_rate"] == 0.0) == unranked  # no judgment parsed exactly when no candidate has a reward


def test_generate_and_judge_read_the_policy_back(run_dir, tmp_path):
    out = tmp_path / "cands.jsonl"
    res = CliRunner().invoke(main, ["self_rewarding", "generate", "--model", str(run_dir / "M2"), "--prompt", "reverse : c a f",
                                    "--prompt", "sort : 3 1 2", "-n", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [len(r["responses"]) for r in rows] == [3, 3]
    assert all(r["prompt"] == p for r, p in zip(rows, ["reverse : c a f", "sort : 3 1 2"]))
    res = CliRunner().invoke(main, ["self_rewarding", "judge", "--model", str(run_dir / "M2"), "--in", str(out),
                                    "--pairs", str(tmp_path / "pairs.jsonl"), "--out", str(tmp_path / "scores.jsonl"),
                                    "--seed", "3"])
    assert res.exit_code == 0, res.output
    scored = [json.loads(x) for x in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert [s["responses"] for s in scored] == [r["responses"] for r in rows]
    assert all(len(s["scores"]) == 3 and all(len(js) == 3 for js in s["scores"]) for s in scored)  # 3 judgments each
    judged = [v for s in scored for js in s["scores"] for v in js]
    assert f"parse rate {sum(v is not None for v in judged) / len(judged):.2f}" in res.output
    pairs = (tmp_path / "pairs.jsonl").read_text().splitlines()
    assert len(pairs) == sum(len({r for r in s["rewards"] if r is not None}) > 1 for s in scored)
    res = CliRunner().invoke(main, ["self_rewarding", "judge", "--model", str(run_dir / "M1"), "--prompt", "max : 1 5 2",
                                    "--response", "5", "--response", "2"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    scored = [x for x in lines if x.startswith("  r=")]
    assert len(scored) == 2 and scored[0].endswith("  5") and scored[1].endswith("  2")  # one row per response, in order


def test_bad_input_is_one_clear_error(run_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["self_rewarding", "generate", "--model", str(tmp_path / "none"), "--prompt", "x"])
    assert res.exit_code == 1 and "no such checkpoint folder" in res.output and "Traceback" not in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(main, ["self_rewarding", "judge", "--model", str(tmp_path / "empty"), "--prompt", "x", "--response", "y"])
    assert res.exit_code == 1 and "has no config.json" in res.output and "Traceback" not in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "max : 1 2 3", "responses": ["3"]}\n{"prompt": 4}\n')
    res = runner.invoke(main, ["self_rewarding", "judge", "--model", str(run_dir / "M1"), "--in", str(bad)])
    assert res.exit_code == 1 and "line 2" in res.output
    res = runner.invoke(main, ["self_rewarding", "generate", "--model", str(run_dir / "M1")])
    assert res.exit_code == 1 and "--prompt" in res.output
    res = runner.invoke(main, ["self_rewarding", "generate", "--model", "llama2-7b", "--prompt", "x"])
    assert res.exit_code == 1 and "no weights ship for llama2-7b" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["self_rewarding", "judge", "--model", "llama3", "--prompt", "x", "--response", "y"])
    assert res.exit_code == 1 and "not a named config (" in res.output
    res = runner.invoke(main, ["self_rewarding", "configs"])
    assert res.exit_code == 0 and "68,976,648,192" in res.output


def test_model_tiny_is_the_default_chain_trained_once_into_the_cache(monkeypatch):
    """`--model tiny` in generate / judge: M3 of `train`'s defaults, trained on first use (said first), then reused."""
    from pathlib import Path

    from paperzoo.self_rewarding import run as run_module
    from paperzoo.self_rewarding.policy import new_policy

    calls = []

    def chain(model, recipe, out, seed, device, iterations):  # stands in for the 4-minute training
        calls.append((model, recipe, seed, iterations))
        new_policy("tiny", seed).save(Path(out) / "M3")
        return {"models": []}

    monkeypatch.setattr(run_module, "train_chain", chain)
    outputs = []
    for _ in range(2):
        res = CliRunner().invoke(main, ["self_rewarding", "generate", "--model", "tiny", "--prompt", "max : 1 2", "-n", "2",
                                        "--seed", "5", "--device", "cpu"])
        assert res.exit_code == 0, res.output
        outputs.append(res.output)
    assert calls == [("tiny", "tiny", 5, 2)]  # trained once, with this seed
    assert "training the default world chain once" in outputs[0] and "training" not in outputs[1]
    assert outputs[0].splitlines()[-3:] == outputs[1].splitlines()[-3:]  # the same policy, the same seed: the same samples
