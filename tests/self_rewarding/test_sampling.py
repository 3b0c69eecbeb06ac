"""Candidate sampling: the KV-cached fast path against naive regeneration, nucleus
filtering, determinism, and bad input."""

import pytest
import torch

from paperzoo.core.errors import InputError
from paperzoo.self_rewarding.policy import new_policy
from paperzoo.self_rewarding.sampling import generate, top_p_filter
from paperzoo.world.instructions import tasks


@pytest.fixture(scope="module")
def policy():
    p = new_policy("tiny", seed=0)
    p.model.eval()
    return p


def _prompts(policy, n=12):
    return [policy.fmt.prompt_ids(t.prompt) for t in tasks("test", 0, n)]  # different lengths: left padding


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_kv_cache_gives_the_same_tokens_as_naive_regeneration(policy, temperature):
    kw = dict(n=3, max_new_tokens=12, eos_id=policy.fmt.eos_id, pad_id=policy.fmt.pad_id, temperature=temperature, top_p=0.9)
    fast = generate(policy.model, _prompts(policy), generator=torch.Generator().manual_seed(5), **kw)
    slow = generate(policy.model, _prompts(policy), generator=torch.Generator().manual_seed(5), use_cache=False, **kw)
    assert fast == slow
    assert len(fast) == 12 and all(len(s) == 3 for s in fast)
    assert any(len(x) > 0 for s in fast for x in s)


def test_batching_and_padding_do_not_change_greedy_answers(policy):
    kw = dict(n=1, max_new_tokens=10, eos_id=policy.fmt.eos_id, pad_id=policy.fmt.pad_id, temperature=0.0)
    prompts = _prompts(policy)
    together = generate(policy.model, prompts, **kw)
    alone = [generate(policy.model, [p], **kw)[0] for p in prompts]
    assert together == alone
    chunks = generate(policy.model, prompts, batch_size=5, **kw)
    assert chunks == together


def test_same_seed_same_samples_and_eos_ends_a_response(policy):
    kw = dict(n=4, max_new_tokens=12, eos_id=policy.fmt.eos_id, pad_id=policy.fmt.pad_id, temperature=1.0, top_p=1.0)
    a = generate(policy.model, _prompts(policy, 4), generator=torch.Generator().manual_seed(1), **kw)
    b = generate(policy.model, _prompts(policy, 4), generator=torch.Generator().manual_seed(1), **kw)
    c = generate(policy.model, _prompts(policy, 4), generator=torch.Generator().manual_seed(2), **kw)
    assert a == b and a != c
    assert all(policy.fmt.eos_id not in x and policy.fmt.pad_id not in x for s in a for x in s)


def test_top_p_keeps_the_smallest_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(top_p_filter(logits, 0.9))
    assert kept.tolist() == [[True, True, True, False]]  # 0.5 + 0.3 < 0.9, so the third is needed
    assert torch.isfinite(top_p_filter(logits, 0.5)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(top_p_filter(logits, 0.01)).sum() == 1  # the top token always stays
    assert torch.equal(top_p_filter(logits, 1.0), logits)


def test_bad_input(policy):
    kw = dict(max_new_tokens=4, eos_id=policy.fmt.eos_id, pad_id=policy.fmt.pad_id)
    assert generate(policy.model, [], **kw) == []
    with pytest.raises(InputError, match="at least one token"):
        generate(policy.model, [[1, 2], []], **kw)
    with pytest.raises(InputError, match="n=0"):
        generate(policy.model, [[1, 2]], n=0, **kw)
