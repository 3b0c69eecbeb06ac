"""`paperzoo sparc reproduce` on a budget far below --quick: every claim is reported with a
verdict from the shared rule, every number is finite, the plots are real images; and
runs are served from the shared run cache."""

import json
import math

import pytest
from PIL import Image

from paperzoo.core.verdict import VERDICTS
from paperzoo.sparc.reproduce import EXPECTED_MINUTES, UNTRAINED, Budget, reproduce, run_one, variants, worlds

SMOKE = Budget(steps=4, batch_size=8, seeds=1, eval_count=80, flops_batch=16)


def test_untrained_run_is_cached_and_keyed_on_its_settings(tmp_path):
    base, world = worlds()["fixed captions"]
    budget = Budget(steps=0, batch_size=0, seeds=1, eval_count=40)
    first = run_one(base, world, 0, budget, tmp_path / "run", "cpu")
    assert first["history"] == [] and math.isfinite(first["metrics"]["loc_pointing"])
    (tmp_path / "run" / "marker").write_text("kept while the key matches")
    assert run_one(base, world, 0, budget, tmp_path / "run", "cpu") == first
    assert (tmp_path / "run" / "marker").is_file()
    other = run_one(base, world, 1, budget, tmp_path / "run", "cpu")  # another seed: a stale folder is rerun
    assert other["run_key"] != first["run_key"] and not (tmp_path / "run" / "marker").exists()
    assert set(EXPECTED_MINUTES) == {"full", "quick"} and EXPECTED_MINUTES["quick"] <= 3


@pytest.mark.slow
def test_smoke_reproduction_reports_every_claim(tmp_path):
    report = reproduce(tmp_path, SMOKE, quick=True, progress=False)
    assert report.quick and "QUICK" in report.to_markdown()
    setups = worlds()
    # Per world: five localisation metrics, segmentation, retrieval, K-Pna; the two T8 ablations
    # on varied captions; and the FLOP ratio once.
    expected = sum(8 + 2 * ("SPARC softmax" in variants(base, w)) for w, (base, _) in setups.items()) + 1
    assert len(report.claims) == expected == 27
    for claim in report.claims:
        assert claim.holds in VERDICTS and claim.ours
        if claim.verdict.kind == "better":
            assert math.isfinite(claim.verdict.diff) and claim.verdict.n == 1
            assert "untrained" in claim.ours
    flops = report.claims[-1]  # SPARC's extra loss costs about 1% of a training step at any batch
    assert flops.verdict.kind == "deterministic" and flops.holds == "yes", flops
    results = sorted((tmp_path / "sparc" / "runs").glob("*/*/result.json"))
    assert len(results) == sum(len(variants(base, w)) + 1 for w, (base, _) in setups.items())  # + the untrained model
    for path in results:
        metrics = json.loads(path.read_text())["metrics"]
        assert metrics and all(math.isfinite(v) for v in metrics.values()), path
    assert any(UNTRAINED in p.parent.name for p in results)
    assert len(report.plots) == 5  # metrics, losses, heatmaps of the three worlds (SPARC, CLIP, untrained)
    for plot in report.plots:
        with Image.open(tmp_path / plot) as image:
            image.verify()
        with Image.open(tmp_path / plot) as image:
            assert image.format == "PNG" and image.width >= 300 and image.height >= 200, (plot, image.size)
