"""The gate on the card's claim (slow, run by `make test` in CI from an empty cache).

Card §5: tiny-FreGrad's quality is not worse than tiny-PriorGrad's trained identically
(MR-STFT of the seed mean within 1.1x), and both beat the prior noise they start from.
CI trains a shorter budget than `paperzoo fregrad reproduce` (500 steps of 8-frame crops
instead of 1,500 of 32, 4 held-out sentences instead of 16) so the suite stays under half
an hour; the full runs are in the README. Measured once here: MR-STFT 3.47 (FreGrad) vs
3.71 (PriorGrad), prior noise 5.97 / 8.95. At 300 steps of 16-frame crops FreGrad was
still behind (4.18 vs 3.84): its zero-SNR first reverse step multiplies the model's error
by ~140, so it needs more optimiser steps before its samples settle. In the full
reproduction (1,500 steps of 32-frame crops, 16 sentences) the check does NOT hold:
FreGrad 3.24 (2.88, 3.60) vs PriorGrad 2.48 (2.56, 2.39), x1.31 (README). At tiny scale
the comparison moves with the budget, and with the machine: CI's budget on 2026-11-29's
machine gave FreGrad 4.87 vs PriorGrad 3.79 (x1.28; prior noise 5.97 / 8.95, the same
data), so the non-inferiority check is marked xfail, as the README's verdict ("no") says;
that both models beat the prior noise held in every run and stays a hard check.
"""

from dataclasses import replace

import numpy as np
import pytest

from paperzoo.fregrad.config import config
from paperzoo.fregrad.data import corpus_stats, world_corpus
from paperzoo.fregrad.evaluate import prior_noise_scores
from paperzoo.fregrad.reproduce import FULL, run_one

GATE = replace(FULL, steps=500, crop_frames=8)
SEEDS = (0, 1)
EVAL = 4


@pytest.fixture(scope="module")
def gate_scores(tmp_path_factory):
    """Seed-mean MR-STFT of both tiny models at CI's budget, and of the prior noise they start from."""
    out = tmp_path_factory.mktemp("fregrad-gate")
    train, held_out = world_corpus("train", 0), world_corpus("eval", 0)
    runs = {name: [run_one(name, s, GATE, out / f"{name}-{s}", train, held_out, EVAL) for s in SEEDS]
            for name in ("tiny-fregrad", "tiny-priorgrad")}
    mr = {name: float(np.mean([r["mr_stft"] for r in rs])) for name, rs in runs.items()}
    stats = corpus_stats(train, config("tiny-fregrad"), progress=False)
    noise = {name: prior_noise_scores(config(name), held_out, stats, n=EVAL, seed=1000)["mr_stft"] for name in mr}
    print({"mr_stft": mr, "prior noise": noise})
    return mr, noise


@pytest.mark.slow
def test_both_vocoders_beat_the_prior_noise_they_start_from(gate_scores):
    mr, noise = gate_scores
    for name in mr:
        assert mr[name] < noise[name], name


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="the card's non-inferiority check does not hold in the full reproduction "
                                        "(x1.31) and moves with the budget, seed and machine at CI's (module docstring)")
def test_fregrad_is_not_worse_than_priorgrad(gate_scores):
    mr, _ = gate_scores
    assert mr["tiny-fregrad"] <= 1.1 * mr["tiny-priorgrad"]


@pytest.mark.slow
def test_quick_reproduce_writes_the_report(tmp_path):
    from click.testing import CliRunner

    from paperzoo.cli import main

    res = CliRunner().invoke(main, ["fregrad", "reproduce", "--quick", "--out", str(tmp_path), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "REPORT.md").read_text()
    assert "quality not worse: MR-STFT" in report and "QUICK run" in report and "prior noise" in report
    for png in ("mels.png", "losses.png", "metrics.png"):
        assert (tmp_path / "fregrad" / png).stat().st_size > 1000
