"""CI's learning test (slow, run by `make test` from an empty cache): VMamba-nano learns.

VMamba-nano (0.95M parameters) trains 200 steps at batch 32 (AdamW 1e-3, 20 warm-up steps,
cosine) on the local "colour" task (one object; which of 6 colours), seed 0, and must score
well above what an untrained model scores on the 300 held-out scenes.

Measured (2026-12-01, this machine), on these 300 held-out scenes: untrained VMamba-nano
0.237 / 0.193 / 0.120 (seeds 0 / 1 / 2) and the majority class 0.213. Trained with this
budget (on 500 held-out scenes): 0.960 / 0.908 / 0.546 (seeds 0 / 1 / 2); at 120 steps
0.590 / 0.538 / 0.358, so 200 it is. The test measures the untrained model again and
asserts 0.25 over the better of the untrained model and the majority class, and at least
0.5 in all: the untrained model misses that by 0.26 or more, and seed 0, the one CI runs,
clears it by 0.46.

The global "same-colour" task and the 5-class "shape" task are not learnt at any budget CI
can afford: at 200 steps (batch 32) VMamba-nano scored 0.234 on shape (chance 0.2), and on
the global task the hierarchical models sit on the chance plateau for hundreds of steps.

What this test is not: the card's claim (VMamba-nano beats ViT-nano and Conv-nano on the
global "same-colour" task) does not hold at nano scale (ViT-nano solves the task and the
two hierarchical models escape the chance plateau on some seeds only; README), so it is no
CI test; `paperzoo vmamba reproduce` measures and reports it over 3 seeds.
"""

import pytest

from paperzoo.core.seeding import seed_everything
from paperzoo.vmamba.tasks import num_classes, task_batch
from paperzoo.vmamba.train import TrainConfig, accuracy, build, train

BUDGET = TrainConfig(steps=200, batch_size=32, warmup_steps=20)
EVAL = 300


def untrained_and_majority(seed: int) -> tuple[float, float]:
    seed_everything(seed)
    untrained = accuracy(build("vmamba-nano", num_classes("colour")), "colour", n=EVAL)
    labels = task_batch("colour", 1234, EVAL, split="eval").labels  # accuracy()'s held-out scenes
    return untrained, float(labels.bincount().max()) / EVAL


@pytest.mark.slow
def test_vmamba_nano_learns_the_colour_task(tmp_path):
    untrained, majority = untrained_and_majority(0)
    net, history = train("vmamba-nano", "colour", tmp_path / "run", seed=0, train_config=BUDGET, progress=False)
    trained = accuracy(net, "colour", n=EVAL)
    print(f"untrained {untrained:.3f}, majority {majority:.3f}, trained {trained:.3f}")
    assert history[-1]["loss"] < history[0]["loss"]
    assert trained > max(untrained, majority) + 0.25 and trained > 0.5
    assert (tmp_path / "run" / "model" / "config.json").is_file()
