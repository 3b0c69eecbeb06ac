"""`paperzoo chatqa reproduce --quick` end to end on a budget smaller still: every claim is
listed with a verdict from the shared rule, the numbers are finite, the plots are images."""

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from paperzoo.chatqa import reproduce

SMOKE = replace(reproduce.QUICK, pretrain_steps=2, stage1_steps=2, stage2_steps=2, batch_size=4, eval_dialogues=4,
                retrieval_train=20, retrieval_test=6, rewriter_steps=2, retrieval_steps=(2, 2), top_ks=(1, 2))


@pytest.mark.slow
def test_quick_reproduction_reports_every_claim_with_finite_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce, "QUICK", SMOKE)
    report = reproduce.run(tmp_path, quick=True, progress=False)
    assert report.quick
    claims = [c.claim for c in report.claims]
    assert len(claims) == 10 and len(set(claims)) == 10
    measured = [c for c in report.claims if c.holds != "not measured"]
    assert len(measured) == 8  # the two real-weights rows are left to the full run
    results = (tmp_path / "chatqa" / "results.json").read_text()
    assert "NaN" not in results and "Infinity" not in results
    for name, r in reproduce.SeedRun(SMOKE, 0, tmp_path / "chatqa" / "runs" / "seed-0", "cpu").all().items():
        assert np.isfinite(r["f1"]) and r["turns"] > 0, name
    for plot in report.plots:
        with Image.open(tmp_path / plot) as im:
            assert im.width > 200 and im.height > 150
    again = reproduce.run(tmp_path, quick=True, progress=False)  # every unit cached: the same report
    assert [c.ours for c in again.claims] == [c.ours for c in report.claims]


@pytest.mark.slow
def test_the_real_weight_units_run_end_to_end(tmp_path, monkeypatch, shared_cache):
    """The full budget's real-weight units on a smoke budget: MiniLM's Table 1 for real, and the
    SmolLM2 unit's stage 1 / stage 1+2 LoRA path on a tiny Llama standing in for SmolLM2."""
    from paperzoo.chatqa.generator import new_generator

    real = replace(SMOKE, real_retriever=True, real_generator=True, real_stage1_steps=1, real_stage2_steps=1,
                   real_eval_dialogues=2, real_lora_rank=4)
    table = reproduce.retrieval_unit(real, 0, tmp_path / "minilm", "cpu", "minilm")
    assert {"history", "rewrite", "fine_tune"} <= set(table["recall"]) and "untrained" not in table["recall"]
    monkeypatch.setattr(reproduce, "load_generator", lambda name: new_generator("tiny-ci", seed=0))
    out = reproduce.real_generator_unit(real, 0, tmp_path / "smollm2", "cpu")
    for name in ("untrained", "stage1", "stage12"):
        assert np.isfinite(out[name]["f1"]) and out[name]["turns"] > 0, name
