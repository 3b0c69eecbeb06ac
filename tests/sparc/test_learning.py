"""Learning tests (slow, run by `make test` in CI from an empty cache).

The gate on the card's claim: trained on the scene world, SPARC's token -> patch
localisation beats CLIP's and chance, on the mean of 2 seeds. It does NOT hold at our
scale today, and the test is marked xfail with what we measured, so CI runs it and
reports XFAIL (or XPASS, should it start to hold) without hiding it. See the SPARC README:
on the card's captions (size, colour and shape words of one object share its patches)
SPARC loses to CLIP on every seed; on one-word-per-object captions seed 0 localises
(0.484 vs CLIP 0.368) but seed 1 settles on the "exclusion" solution (0.102, chance 0.104).
CI trains half the budget of `paperzoo sparc reproduce` (400 steps instead of 800, 500
held-out scenes instead of 1,000) so the whole suite stays under half an hour.
"""

from dataclasses import replace

import numpy as np
import pytest

import paperzoo.sparc as sparc
from paperzoo.sparc.reproduce import FULL, run_one, worlds

GATE = replace(FULL, steps=400, eval_count=500)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="does not reproduce at tiny scale: SPARC is bistable between localising and excluding "
    "the named object (shape captions, 800 steps: seeds 0.484 / 0.102 vs CLIP 0.368 / 0.380)",
)
def test_sparc_localises_better_than_clip_and_chance(tmp_path):
    base = sparc.config("tiny")
    world = worlds(base)["shape captions"]
    data = {
        name: [run_one(cfg, world, seed, GATE, tmp_path / f"{name}{seed}", "cpu") for seed in range(GATE.seeds)]
        for name, cfg in (("sparc", base), ("clip", base.clip()))
    }
    runs = {name: [d["metrics"] for d in v] for name, v in data.items()}
    pointing = {k: np.mean([m["loc_pointing"] for m in v]) for k, v in runs.items()}
    chance = np.mean([m["loc_pointing_chance"] for m in runs["clip"]])
    print({**pointing, "chance": chance})
    assert pointing["sparc"] > pointing["clip"]
    assert pointing["sparc"] > chance
    # The fine-grained loss was actually optimised (it starts near log L).
    history = data["sparc"][0]["history"]
    assert history[-1]["fine"] < 0.5 * history[0]["fine"]


@pytest.mark.slow
def test_tiny_model_learns_retrieval_on_full_captions(tmp_path):
    """The global objective works: held-out retrieval far above chance (1/N) after a short run."""
    base = sparc.config("tiny")
    world = worlds(base)["full captions"]
    budget = replace(GATE, steps=300, seeds=1, eval_count=300)
    metrics = run_one(base, world, 0, budget, tmp_path / "run", "cpu")["metrics"]
    assert metrics["i2t_r1"] > 20 / 300 and metrics["t2i_r1"] > 20 / 300
    assert metrics["comp_replace_att"] > 0.9  # a colour absent from the image is easy to reject
