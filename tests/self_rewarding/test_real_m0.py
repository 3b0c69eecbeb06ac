"""M0 = SmolLM2-135M-Instruct (real offline weights, `paperzoo.core.pretrained`) through the
whole Fig. 2 judge path of the local-HF-folder policy: its chat template around the Fig. 2
prompt word for word, batched KV-cached generation, the "Score: k" parser, and the pairwise
bookkeeping of `self_rewarding.gap`. The conversion to a float32 folder happens once per session
(`shared_cache`)."""

import pytest

from paperzoo.self_rewarding.gap import judge_accuracy, judge_pairs
from paperzoo.self_rewarding.judge import judge_prompt
from paperzoo.self_rewarding.policy import load_policy


@pytest.mark.slow
def test_m0_runs_the_fig2_judge_path_and_writes_no_parseable_score(shared_cache):
    """Measured (2026-12-06, the README's "Real model: M0 measured"): on the 24 fixed pairs M0
    writes a parseable "Score: k" in 0 of 48 greedy judgments (192 new tokens) and 0 of 144
    sampled ones (T 0.7, p 0.9), so it decides no pair; 40 of the 48 greedy judgments begin
    "The user", restating the question or the response, then praise or fault it at length.
    Here, on the first pair of each family (12 greedy judgments, 64 new tokens): 0 of 12 parse,
    0 of 6 pairs decided, 10 of 12 begin "The user"; 114 s with the conversion, on one thread
    shared with three other jobs. The tolerances: 2 of 12 parses, 2 decided pairs, and half of
    the judgments beginning "The user" (the chat template or the prompt changing would move it)."""
    from paperzoo.core.pretrained import SMOLLM2, model_folder

    policy = load_policy(model_folder(SMOLLM2))
    assert policy.fmt.style == "chat"
    pairs = judge_pairs("eft_eval", 0, per_family=1)
    first = pairs[0]
    shown = policy.fmt.tokenizer.decode(policy.fmt.judge_prompt_ids(first.task.prompt, first.responses[0]))
    assert judge_prompt(first.task.prompt, first.responses[0]) in shown  # Fig. 2 word for word, as the user turn
    assert shown.startswith("<|im_start|>system\n") and shown.endswith("<|im_start|>assistant\n")

    out = judge_accuracy(policy, pairs, max_new_tokens=64, batch_size=12)
    texts = [t for pair in out["texts"] for cand in pair for t in cand]
    assert out["pairs"] == 6 and len(texts) == 12
    assert all(len(t.split()) >= 5 for t in texts)  # M0 writes prose, not nothing
    assert out["parse_rate"] <= 2 / 12, texts
    assert out["decided"] <= 2
    assert sum(t.startswith("The user") for t in texts) >= 6, texts
