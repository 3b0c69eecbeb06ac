"""The learning gate and the quick reproduction (slow, run by `make test` in CI from an empty cache).

Both tests share ONE run of `paperzoo fregrad reproduce --quick` (reproduce.QUICK: tiny-FreGrad
and tiny-PriorGrad, 200 steps of 8-frame crops, seed 0, scored on the first 2 held-out
sentences at T = 50), so each model is trained once.

The gate, with the untrained model (0 steps, the same seed, clips and draws) scored in this test's
own run: each trained vocoder's MR-STFT must be below 0.8x its untrained model's, and PriorGrad's
also below the prior noise it starts from (x_T ~ N(0, Σ) through the same output path). An untrained
or non-learning model scores ~11 (measured 2026-12-06: 11.05 FreGrad, 11.24 PriorGrad), ratio 1, and
fails. After these 200 steps tiny-FreGrad scored 4.60, 6.81, 7.27, 5.63 (seeds 0-3 here) and 6.23
(seed 0 on the CI machine): at most 0.66x its untrained model. FreGrad against its own prior noise
(6.15) is a coin flip at this budget (2 of those 5 runs beat it), so that comparison is the
reproduction's claim, over 3 seeds at the full budget, not a CI gate. PriorGrad beats its prior
noise with room at this budget: 3.89, 4.37, 4.73 (seeds 0-2) against 9.25-9.28.

Not checked here: the card's non-inferiority claim (FreGrad's MR-STFT within 1.1x PriorGrad's).
It does not hold in the full reproduction (x1.38, 3 seeds), and at CI-sized budgets it moved with
the budget and the machine (x0.94 and x1.28 at 500 steps); `paperzoo fregrad reproduce` measures
and reports it.
"""

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from paperzoo.fregrad.reproduce import CLAIMS, MAIN, QUICK, QUICK_EVAL_COUNT


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


def untrained_mr_stft(name: str) -> float:
    """MR-STFT of the untrained model, on the quick run's clips and draws (seed 0)."""
    from paperzoo.core import seed_everything
    from paperzoo.fregrad.config import config
    from paperzoo.fregrad.data import corpus_stats, world_corpus
    from paperzoo.fregrad.evaluate import evaluate
    from paperzoo.fregrad.model import Vocoder

    cfg = config(name)
    seed_everything(0)
    model = Vocoder(cfg)
    stats = corpus_stats(world_corpus("train", 0), cfg, progress=False)
    return evaluate(model, world_corpus("eval", 0), stats, n=QUICK_EVAL_COUNT, seed=1000)["mr_stft"]


@pytest.mark.slow
def test_both_vocoders_learn_well_beyond_their_untrained_model(quick_run):
    _, runs = quick_run
    for name, r in runs.items():
        assert r["history"][-1]["step"] == QUICK.steps, name
        untrained = untrained_mr_stft(name)
        assert r["mr_stft"] < 0.8 * untrained, (name, r["mr_stft"], untrained)
    pg = runs["tiny-priorgrad"]
    assert pg["mr_stft"] < pg["noise_mr_stft"], (pg["mr_stft"], pg["noise_mr_stft"])


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
