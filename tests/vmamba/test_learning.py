"""The gate on the card's claim (slow, run by `make test` in CI from an empty cache).

Card §5, sign 1: on the global "same-colour" task, VMamba-nano beats ViT-nano and the
Conv baseline on the mean of 2 seeds. CI trains a shorter budget than `paperzoo vmamba
reproduce` (250 steps instead of 1,500, 500 held-out scenes instead of 2,000) so the
whole suite stays under half an hour.

It does not hold at nano scale. In the full runs (README) ViT-nano solves the task
(0.9995 on seed 0) while VMamba-nano and Conv-nano each escape the chance plateau on one
seed of two (VMamba 0.799 / 0.509, Conv 0.509 / 0.803). The test is marked xfail with
these numbers, so CI runs it and would show XPASS if it started to hold.
"""

from pathlib import Path

import numpy as np
import pytest

from paperzoo.vmamba.reproduce import run_one
from paperzoo.vmamba.train import TrainConfig

GATE = TrainConfig(steps=250, batch_size=64, warmup_steps=25)
SEEDS = (0, 1)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="does not reproduce at nano scale: ViT-nano solves the task (0.9995) and "
                   "VMamba-nano / Conv-nano each learn on one seed of two (0.799 / 0.509 vs 0.509 / 0.803)")
def test_vmamba_beats_vit_and_conv_on_the_global_task(tmp_path):
    acc = {m: float(np.mean([run_one(m, "same-colour", s, GATE, Path(tmp_path) / f"{m}-{s}", eval_count=500)["accuracy"]
                             for s in SEEDS]))
           for m in ("vmamba-nano", "conv-nano", "vit-nano")}
    print(acc)
    assert acc["vmamba-nano"] > acc["vit-nano"] and acc["vmamba-nano"] > acc["conv-nano"]
