"""`paperzoo diffusiongpt reproduce --quick` end to end on the smoke zoo, three seeds (a shrunk
quick budget): every unit runs, the arms share their noise, the report, plot and cache work.
The claims' numbers mean nothing at this budget; test_learning.py checks that models learn."""

import json
import math

import pytest
from PIL import Image

from paperzoo.core.verdict import VERDICTS
from paperzoo.diffusiongpt import reproduce
from paperzoo.diffusiongpt.reproduce import ARMS, QUICK


@pytest.mark.slow
def test_quick_reproduce_report_plot_and_cache(tmp_path, monkeypatch, pooled_pixels):
    from dataclasses import replace

    monkeypatch.setattr(reproduce, "QUICK", replace(QUICK, seeds=3, inputs=8, cmmd_embedder=pooled_pixels))
    report = reproduce.run(tmp_path, quick=True)
    assert report.quick and report.command == "paperzoo diffusiongpt reproduce --quick"
    assert len(report.claims) == 9
    for c in report.claims[:-1]:
        assert c.holds in VERDICTS and c.verdict.n == 3 and math.isfinite(c.verdict.diff), c
    assert report.claims[-1].holds == "not measured"  # SmolLM2 is not run at the quick budget
    results = json.loads((tmp_path / "diffusiongpt" / "results.json").read_text())
    assert len(results) == 3
    for r in results:
        arms = r["arms"]["arms"]
        assert set(arms) == set(ARMS)
        for arm in ARMS:
            assert len(arms[arm]["R"]) == 8 and all(0 <= v <= 1 for v in arms[arm]["R"] + arms[arm]["A"])
            assert math.isfinite(arms[arm]["cmmd"])
        # the oracle is the best model per input, so no arm beats it on any input (same noise, same caption)
        for arm in ("base", "full"):
            for i, (m, p) in enumerate(zip(arms[arm]["models"], arms[arm]["prompts"])):
                if p == r["arms"]["captions"][i]:
                    assert arms[arm]["R"][i] <= arms["oracle"]["R"][i] + 1e-6
    assert Image.open(tmp_path / report.plots[0]).size[0] > 500
    # a second run is served from the cache
    again = reproduce.run(tmp_path, quick=True)
    assert [c.verdict for c in again.claims] == [c.verdict for c in report.claims]


def test_the_full_budget_asks_for_what_the_world_has():
    """The full run's database takes distinct captions, of which the world has 192 on the database's pairs."""
    from paperzoo.diffusiongpt.data import database_prompts
    from paperzoo.diffusiongpt.reproduce import FULL, WORLD

    prompts = database_prompts(WORLD, 0, FULL.db_prompts)
    assert len(set(prompts)) == FULL.db_prompts
    with pytest.raises(ValueError, match="the world has 192"):
        database_prompts(WORLD, 0, 193)
