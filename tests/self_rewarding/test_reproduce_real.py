"""The real-model experiment's plumbing (issue 16), on a tiny random Llama saved as a plain
Hugging Face folder in the chat style (the stand-in for SmolLM2-135M-Instruct): every unit runs
in dependency order and is cached, the DPO learning rate is picked by the sweep's validation,
each iteration records its sample / judge / DPO times, and the claims and the table come out of
the per-seed numbers. What the real model measures is `reproduce`'s job (hours of CPU)."""

import json
import math
from dataclasses import replace

import pytest

from paperzoo.self_rewarding.config import recipe
from paperzoo.self_rewarding.reproduce_real import (
    CLAIMS,
    MODELS,
    RealBudget,
    RealRun,
    claims_real,
    pick_lr,
    run_real,
    table_real,
    units,
)


def toy_budget(model) -> RealBudget:
    r = replace(recipe("smollm2"), ift_size=4, eft_train_size=2, prompts_per_iteration=3, sft_steps=2, dpo_steps=2,
                batch_size=2, eval_every=1, valid_size=2, max_new_tokens=4, lora_rank=2, sft_lr=1e-3)
    return RealBudget(str(model), r, dpo_lrs=(1e-4, 1e-2), seeds=2, test_per_family=1, eval_groups=2)


@pytest.fixture(scope="module")
def done(chat_standin, tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    budget = toy_budget(chat_standin)
    return budget, folder, run_real(budget, folder)


def test_every_unit_runs_once_and_is_cached(done, monkeypatch):
    budget, folder, result = done
    assert result["seeds"] == [0, 1] and set(result["by"]) == set(MODELS)
    assert all(len(result["by"][m]) == 2 for m in MODELS)
    assert len(list(folder.rglob("result.json"))) == units(budget)
    # policies are kept only where a later unit starts from them
    kept = sorted(str(p.parent.relative_to(folder)) for p in folder.rglob("policy/config.json"))
    assert kept == ["M1/policy", "seed-0/M2/policy", "seed-0/oracle-M2/policy", "seed-1/M2/policy",
                    "seed-1/oracle-M2/policy", "sft/policy"]
    import paperzoo.self_rewarding.reproduce_real as rr

    monkeypatch.setattr(rr, "sft", lambda *a, **k: pytest.fail("a cached unit trained again"))
    monkeypatch.setattr(rr, "self_rewarding_iteration", lambda *a, **k: pytest.fail("a cached unit ran again"))
    again = run_real(budget, folder)
    assert json.dumps(again, sort_keys=True) == json.dumps(result, sort_keys=True)


def test_the_sweep_picks_the_lr_with_the_best_validation(done):
    budget, folder, result = done
    assert set(result["lr_curves"]) == {"0.0001", "0.01"} and result["dpo_lr"] in budget.dpo_lrs
    m2 = json.loads((folder / "seed-0" / "M2" / "run-key.json").read_text())
    assert m2["settings"]["dpo_lr"] == result["dpo_lr"]  # every iteration uses the pick
    curve = lambda *v: [{"step": 8 * (i + 1), "validation": x} for i, x in enumerate(v)]  # noqa: E731
    assert pick_lr({1e-6: curve(2.0, 2.1), 1e-5: curve(1.9, 2.4), 1e-4: curve(2.3, 1.0)}) == 1e-5  # the best checkpoint
    assert pick_lr({1e-6: curve(2.0), 1e-5: curve(2.0)}) == 1e-6  # a tie: the first listed
    assert pick_lr({1e-6: [], 1e-5: curve(0.5)}) == 1e-5 and pick_lr({1e-6: [], 1e-5: []}) == 1e-6  # no pairs, no curve


def test_iterations_record_what_the_paper_measures(done):
    _, _, result = done
    for m in ("M2", "M3", "oracle-M2", "oracle-M3"):
        for r in result["by"][m]:
            assert r["prompts"] == 3 and 0 <= r["pairs"] <= 3 and set(r["seconds"]) == {"sample", "judge", "dpo"}
            assert r["following"]["n"] == 6 and len(r["following"]["scores"]) == 6  # one test task per family
            assert 0.0 <= r["judge"]["parse_rate"] <= 1.0
    assert all(math.isnan(r["parse_rate"]) for r in result["by"]["oracle-M2"])  # the checker rewards: no judging
    assert all(r["seed"] == s for s, r in zip(result["seeds"], result["by"]["M1"]))


def test_claims_and_table_come_from_the_per_seed_numbers(done):
    _, _, result = done
    claims = claims_real(result)
    assert [c.claim for c in claims] == list(CLAIMS)
    for i, c in enumerate(claims):  # two seeds: never "yes"; the composite claims name their deciding comparison
        assert c.holds in ("no", "not significant") and c.verdict.kind == "better"
        assert c.verdict.reason.startswith("weakest: ") == (i != 2)
    table = table_real(result).splitlines()
    assert len(table) == 2 + len(MODELS) and all(f"| {m} |" in table[2 + i] for i, m in enumerate(MODELS))


def test_run_real_rejects_a_missing_model(tmp_path):
    budget = replace(toy_budget(tmp_path / "nosuch"), seeds=1)
    with pytest.raises(Exception, match="nosuch"):
        RealRun(budget, tmp_path / "out").sft_model("sft", [("a", "b")])
