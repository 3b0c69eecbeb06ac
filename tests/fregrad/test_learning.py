"""The learning gate and the quick reproduction (slow, run by `make test` in CI from an empty cache).

Both tests share ONE run of `paperzoo fregrad reproduce --quick` (reproduce.QUICK: tiny-FreGrad
and tiny-PriorGrad, 200 steps of 8-frame crops, seed 0, scored on the first 2 held-out
sentences at T = 50), so each model is trained once.

The gate: each trained vocoder's MR-STFT must be below that of the prior noise it starts from
(x_T ~ N(0, Σ) through the same output path, the same sentences and draws). Measured on these 2
sentences (2026-12-01): the prior noise scores 6.16 (FreGrad's Σ, iDWT) and 9.25 (PriorGrad's Σ);
the UNTRAINED models (0 steps) score 11.41 (FreGrad) and 11.09 (PriorGrad), so they fail the gate
by far; after 200 steps (this budget) the models scored 4.60 and 3.89, after 300 steps FreGrad 4.21.

Not checked here: the card's non-inferiority claim (FreGrad's MR-STFT within 1.1x PriorGrad's).
It does not hold in the full reproduction (x1.31, 2 seeds), and at CI-sized budgets it moved with
the budget and the machine (x0.94 and x1.28 at 500 steps); `paperzoo fregrad reproduce` measures
and reports it.
"""

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from paperzoo.fregrad.reproduce import CLAIMS, MAIN, QUICK


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, session_cache):
    """`paperzoo fregrad reproduce --quick` once, in the session cache (the speech world is shared)."""
    import os

    from click.testing import CliRunner

    from paperzoo.cli import main

    out = tmp_path_factory.mktemp("fregrad-quick")
    old = os.environ.get("PAPERZOO_CACHE")
    os.environ["PAPERZOO_CACHE"] = session_cache
    try:
        res = CliRunner().invoke(main, ["fregrad", "reproduce", "--quick", "--out", str(out), "--device", "cpu"])
    finally:
        if old is None:
            os.environ.pop("PAPERZOO_CACHE")
        else:
            os.environ["PAPERZOO_CACHE"] = old
    assert res.exit_code == 0, res.output
    runs = {name: json.loads((out / "fregrad" / "runs" / f"{name}-seed0" / "result.json").read_text()) for name in MAIN}
    print({name: {k: r[k] for k in ("mr_stft", "noise_mr_stft")} for name, r in runs.items()})
    return out, runs


@pytest.mark.slow
def test_both_vocoders_beat_the_prior_noise_they_start_from(quick_run):
    _, runs = quick_run
    for name, r in runs.items():
        assert r["history"][-1]["step"] == QUICK.steps, name
        assert r["mr_stft"] < r["noise_mr_stft"], (name, r["mr_stft"], r["noise_mr_stft"])


@pytest.mark.slow
def test_quick_reproduce_writes_a_complete_report(quick_run):
    out, runs = quick_run
    report = (out / "REPORT.md").read_text()
    assert "QUICK smoke run" in report
    for claim in CLAIMS:
        assert claim in report, claim
    saved = json.loads((out / "fregrad" / "report.json").read_text())
    assert saved["quick"] is True and [c["claim"] for c in saved["claims"]] == list(CLAIMS)
    for r in runs.values():
        for key in ("mr_stft", "mae", "mcd13", "rtf", "step_seconds", "noise_mr_stft", "noise_mae", "noise_mcd13"):
            assert math.isfinite(r[key]) and r[key] > 0, key
        assert all(math.isfinite(h["loss"]) for h in r["history"])
    for c in saved["claims"]:
        v = c["verdict"]
        if v["kind"] in ("better", "equivalent"):
            assert math.isfinite(v["diff"]), c["claim"]
    for png in ("mels.png", "losses.png", "metrics.png"):
        with Image.open(Path(out) / "fregrad" / png) as im:
            im.verify()
        with Image.open(Path(out) / "fregrad" / png) as im:
            assert im.format == "PNG" and im.width >= 300 and im.height >= 200, (png, im.size)
