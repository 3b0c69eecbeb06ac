"""EFT on the real model (issue 16 item 6): a short run of the chain's EFT step on
SmolLM2-135M-Instruct teaches the Fig. 2 judgment format that zero-shot M0 never writes.

The EFT examples are the checkable tasks' judgments written from the checker
(`data.checkable_judge_groups`, as `train --model smollm2-135m-instruct` uses them), trained
with the chain's `train.sft` and LoRA (rank 16, the `--lora-rank` path), then the judge is
measured on 24 fixed held-out judgments (12 pairs, `gap.judge_pairs`, greedy, 48 new tokens).

Measured (2026-12-06, one thread on 2 cores shared with two training jobs): M0 parses 0 of 48
greedy judgments on the README's 24 pairs and 0 of 12 in test_real_m0.py; after these 8 steps
(32 examples, LR 2e-3) 20 of 24 parse (0.83), in the taught shape ("Requirements met: ...
Missed: ...\\nScore: 3"); 286 s of training and 51 s of judging there. At LR 3e-4 the same 8
steps taught nothing (0 of 24 parse), so the LR is part of the test; full fine-tuning at LR 1e-4
for the same 8 steps also made 20 of 24 parse. The pairwise accuracy does
NOT rise at this budget: the model gives both responses of a pair the same score, deciding 1
of 12 pairs (right), 0.083 over all pairs against M0's 0 and a random judge's 0.417; whether a
longer EFT makes a judge is measured by `reproduce`, not here.

The bound: at least half the judgments parse (M0: none), and at least one in the taught shape.
"""

import pytest

from paperzoo.self_rewarding.data import checkable_judge_groups, eft_examples
from paperzoo.self_rewarding.gap import judge_accuracy, judge_pairs
from paperzoo.self_rewarding.policy import load_policy
from paperzoo.self_rewarding.train import sft


@pytest.mark.slow
def test_a_short_eft_run_teaches_smollm2_the_fig2_format(shared_cache, tmp_path):
    pytest.importorskip("peft")
    from paperzoo.core.pretrained import SMOLLM2, model_folder

    policy = load_policy(model_folder(SMOLLM2))
    examples = eft_examples(checkable_judge_groups("eft_train", 64, 0))
    sft(policy.model, policy.fmt, examples, steps=8, lr=2e-3, final_lr=2e-4, batch_size=4, seed=0, out_dir=tmp_path / "eft",
        progress=False, lora_rank=16)
    out = judge_accuracy(policy, judge_pairs("eft_eval", 0, per_family=2), max_new_tokens=48)
    texts = [t for pair in out["texts"] for cand in pair for t in cand]
    assert len(texts) == 24
    assert out["parse_rate"] >= 0.5, texts
    assert any(t.startswith("Requirements met:") for t in texts), texts
