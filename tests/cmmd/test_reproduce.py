"""`paperzoo cmmd reproduce --quick` end to end, on a shrunk quick budget and a stand-in
embedder (`pooled_pixels` in tests/conftest.py: a fixed random projection of pooled pixels), so that the
test checks the pipeline, the report and the run cache, not the tiny SPARC encoder
(test_learning.py does that)."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from paperzoo.cmmd import reproduce
from paperzoo.cmmd.distortions import FAMILIES
from paperzoo.core.report import SystemReport, write_report
from paperzoo.core.verdict import VERDICTS


def numbers(tree):
    if isinstance(tree, dict):
        for v in tree.values():
            yield from numbers(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from numbers(v)
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield tree


@pytest.mark.slow
def test_quick_reproduce_report_plots_and_cache(tmp_path, monkeypatch, pooled_pixels):
    monkeypatch.setattr(reproduce, "QUICK", dict(seeds=3, n=48, sizes=(24, 48), repeats=3))
    report = reproduce.run(tmp_path, quick=True, embedder=pooled_pixels)
    assert report.quick and report.command == "paperzoo cmmd reproduce --quick"
    names = [c.claim for c in report.claims]
    assert names == [f"CMMD rises with every step of {f} level" for f in FAMILIES] + [
        "undistorted sets score ~0 (unbiased CMMD)", "unbiased CMMD does not depend on N",
        "FID falls as N grows (its bias ~ 1/N)", "the biased V-statistic (official code) falls as N grows",
        "embeddings are not multivariate normal"]
    for c in report.claims:
        assert c.holds in VERDICTS and c.verdict.n == 3 and math.isfinite(c.verdict.diff), c
    results = json.loads((tmp_path / "cmmd" / "results.json").read_text())
    values = list(numbers(results["distortions"])) + list(numbers(results["sample_sizes"]))
    assert len(values) == len(FAMILIES) * 3 * 6 * 3 + 2 + 3 + 3 * 3 * 2 and all(math.isfinite(v) for v in values)
    biased = np.asarray(results["sample_sizes"]["cmmd_biased"])
    assert np.all(biased[:, 0] > biased[:, 1])  # the V-statistic's bias at N = 24 > at N = 48, every repeat
    for plot in report.plots:
        with Image.open(tmp_path / plot) as im:
            assert im.size[0] > 800 and im.size[1] > 200
            assert np.asarray(im.convert("L")).std() > 5  # not blank
    report.save(tmp_path)
    text = write_report(tmp_path, [("cmmd", reproduce.TITLE, "2401.09603")]).read_text()
    assert "QUICK smoke run" in text and all(name in text for name in names)
    assert SystemReport.load(tmp_path / "cmmd" / "report.json").claims == report.claims

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached unit")

    monkeypatch.setattr(reproduce, "distortion_curve", fail)
    monkeypatch.setattr(reproduce, "sample_size_repeat", fail)
    again = reproduce.run(tmp_path, quick=True, embedder=pooled_pixels)
    assert again.claims == report.claims
