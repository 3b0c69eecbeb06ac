"""core.lm, core.generation and core.sft against slow, obviously correct references: greedy
decoding with the KV cache equals decoding without it and a plain argmax loop; the padded
SFT batch and its masked loss equal a hand computation."""

import math

import pytest
import torch

from paperzoo.core.errors import InputError
from paperzoo.core.generation import eos_id, generate, pad_id, shared_prefix_length, top_p_filter
from paperzoo.core.lm import LMConfig
from paperzoo.core.sft import _prefix_shared_logits, batch_indices, masked_lm_loss, pad_examples

PAD, BOS, EOS = 0, 1, 2
TINY = LMConfig(vocab_size=40, hidden_size=32, layers=2, heads=4, kv_heads=2, intermediate_size=64, max_positions=64)


@pytest.fixture(scope="module")
def model():
    from transformers import LlamaForCausalLM

    torch.manual_seed(2)  # seed 2: two greedy rows end early (after 5 and 7 tokens), one runs all 10
    return LlamaForCausalLM(TINY.to_llama()).eval()


PROMPTS = [[BOS, 5, 9, 11], [BOS, 7], [BOS, 30, 31, 32, 33, 34, 6]]  # different lengths: left padding


def _argmax_loop(model, prompt: list[int], steps: int) -> list[int]:
    """The reference: one prompt alone, no padding, no cache; append the argmax until EOS (or the
    pad token, which `generate` also treats as the end of a row: a trained model never emits it)."""
    ids = list(prompt)
    out = []
    with torch.no_grad():
        for _ in range(steps):
            token = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            if token in (EOS, PAD):
                break
            out.append(token)
            ids.append(token)
    return out


def test_lm_config_builds_the_llama_it_describes():
    llama = TINY.to_llama()
    assert (llama.num_hidden_layers, llama.num_attention_heads, llama.num_key_value_heads) == (2, 4, 2)
    assert (llama.pad_token_id, llama.bos_token_id, llama.eos_token_id) == (PAD, BOS, EOS)
    d, f, v, kv = 32, 64, 40, 2 * 8  # kv: 2 key-value heads of head dim 32 / 4
    block = d * d + 2 * d * kv + d * d + 3 * d * f + 2 * d  # q, k, v, o; gate, up, down; two RMSNorms
    assert TINY.num_parameters() == v * d + 2 * block + d + d * v  # embeddings, blocks, final norm, lm head


def test_greedy_with_cache_equals_without_and_the_argmax_loop(model):
    kw = dict(max_new_tokens=10, eos_id=EOS, pad_id=PAD, temperature=0.0)
    fast = generate(model, PROMPTS, **kw)
    slow = generate(model, PROMPTS, use_cache=False, **kw)
    reference = [[_argmax_loop(model, p, 10)] for p in PROMPTS]
    assert fast == slow == reference
    # not vacuous: rows that stop at EOS inside the batch (then padded) and one that runs to the limit
    assert [len(r[0]) for r in reference] == [5, 10, 7]


def test_sampling_with_cache_equals_without_for_the_same_seed(model):
    kw = dict(n=3, max_new_tokens=8, eos_id=EOS, pad_id=PAD, temperature=0.9, top_p=0.8)
    fast = generate(model, PROMPTS, generator=torch.Generator().manual_seed(3), **kw)
    slow = generate(model, PROMPTS, generator=torch.Generator().manual_seed(3), use_cache=False, **kw)
    assert fast == slow and len(fast) == 3 and all(len(s) == 3 for s in fast)


SHARED = [BOS, 12, 13, 14, 15, 16, 17, 18]  # a common prefix (a judge rubric, say), then each row's own tokens
PREFIXED = [SHARED + [5, 9, 11], SHARED + [7], SHARED + [30, 31, 32, 33, 34, 6]]


def test_shared_prefix_length_leaves_every_row_a_token_of_its_own():
    assert shared_prefix_length(PREFIXED) == len(SHARED)
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2  # identical prompts (n samples of one)
    assert shared_prefix_length([[1, 2], [3, 2]]) == 0 and shared_prefix_length([[4], [4, 5]]) == 0


def test_a_shared_prefix_runs_once_and_gives_the_same_tokens(model):
    """The prefix-sharing path against the plain cached path, the uncached one and the argmax
    loop; and it is not vacuous: the first forward is the prefix alone, batch 1."""
    calls = []
    hook = model.register_forward_pre_hook(lambda m, args, kw: calls.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    kw = dict(max_new_tokens=10, eos_id=EOS, pad_id=PAD, temperature=0.0)
    try:
        shared = generate(model, PREFIXED, share_prefix=4, **kw)
    finally:
        hook.remove()
    assert calls[0] == (1, len(SHARED)) and calls[1] == (3, 6)  # the prefix once, then each row's own (padded to 6)
    plain = generate(model, PREFIXED, share_prefix=0, **kw)
    slow = generate(model, PREFIXED, use_cache=False, **kw)
    reference = [[_argmax_loop(model, p, 10)] for p in PREFIXED]
    assert shared == plain == slow == reference
    assert len({len(r[0]) for r in reference}) > 1  # rows end at different steps
    samples = dict(n=3, max_new_tokens=8, eos_id=EOS, pad_id=PAD, temperature=0.9, top_p=0.8)
    assert (generate(model, PREFIXED, generator=torch.Generator().manual_seed(4), share_prefix=4, **samples)
            == generate(model, PREFIXED, generator=torch.Generator().manual_seed(4), use_cache=False, **samples))
    with pytest.raises(InputError, match="share_prefix"):
        generate(model, PREFIXED, share_prefix=-1, **kw)


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(top_p_filter(logits, 0.75))
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.75 <= 0.5 + 0.3
    assert torch.isfinite(top_p_filter(logits, 0.01)).tolist() == [[True, False, False, False]]


def test_generate_refuses_an_empty_prompt(model):
    with pytest.raises(InputError, match="at least one token"):
        generate(model, [[BOS], []], max_new_tokens=2, eos_id=EOS, pad_id=PAD)


def test_pad_examples_right_pads_ids_attention_and_loss_mask():
    batch = pad_examples([([1, 5, 6], [False, True, True]), ([1, 7], [False, True])], pad_id=PAD)
    assert batch["input_ids"].tolist() == [[1, 5, 6], [1, 7, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["loss_mask"].tolist() == [[False, True, True], [False, True, False]]
    assert batch["loss_mask"].dtype == torch.bool
    with pytest.raises(InputError, match="row 1"):
        pad_examples([([1, 2], [False, True]), ([1, 2], [True])], pad_id=PAD)


def test_masked_lm_loss_is_the_mean_nll_of_the_masked_tokens(model):
    rows = [([1, 5, 6, 8], [False, False, True, True]), ([1, 7, 9], [False, True, True])]
    batch = pad_examples(rows, pad_id=PAD)
    with torch.no_grad():
        loss = float(masked_lm_loss(model, batch))
        # By hand: each row alone (no padding), -log softmax at the previous position, for each masked token.
        nlls = []
        for ids, mask in rows:
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], dim=-1)
            nlls += [-float(logp[t - 1, ids[t]]) for t in range(1, len(ids)) if mask[t]]
    assert len(nlls) == 4
    assert math.isclose(loss, sum(nlls) / len(nlls), rel_tol=1e-5)


def test_masked_lm_loss_with_a_shared_prefix_equals_the_plain_path_and_its_gradient(model):
    """The fast path (the common prefix once, its KV cache repeated over the rows) against the
    plain forward: the same loss and the same gradient for every weight, with rows of different
    lengths (right padding) and a loss mask that starts inside a row's own tokens."""
    prefix = [BOS] + [3 + (i * 7) % 30 for i in range(20)]  # 21 shared tokens
    rows = [(prefix + [5, 6, 8, 9], [False] * 21 + [False, True, True, True]),
            (prefix + [7, 9], [False] * 21 + [True, True]),
            (prefix + [11, 12, 13, 14, 15, 16], [False] * 23 + [True] * 4)]
    batch = pad_examples(rows, pad_id=PAD)

    def loss_and_grads(share):
        model.zero_grad()
        loss = masked_lm_loss(model, batch, share_prefix=share)
        loss.backward()
        return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    assert _prefix_shared_logits(model, batch, 16) is not None  # the fast path runs here (no fallback)
    plain, g_plain = loss_and_grads(0)
    shared, g_shared = loss_and_grads(16)
    assert math.isclose(plain, shared, rel_tol=1e-5)
    assert set(g_plain) == set(g_shared) and len(g_plain) > 5
    for name in g_plain:
        torch.testing.assert_close(g_shared[name], g_plain[name], rtol=1e-4, atol=1e-6, msg=name)
    model.zero_grad()
    # too short a shared prefix, or one row: the plain path (the same number)
    assert math.isclose(float(masked_lm_loss(model, batch, share_prefix=30)), plain, rel_tol=1e-6)
    one = pad_examples(rows[:1], pad_id=PAD)
    assert math.isclose(float(masked_lm_loss(model, one, share_prefix=4)), float(masked_lm_loss(model, one)), rel_tol=1e-6)


def test_batch_indices_are_seeded_epochs_of_a_permutation():
    first_epoch = [batch_indices(10, 3, seed=4, step=s) for s in range(3)]  # 3 batches of 3 per epoch of 10
    flat = [int(i) for b in first_epoch for i in b]
    assert len(set(flat)) == 9 and all(len(b) == 3 for b in first_epoch)
    assert (batch_indices(10, 3, seed=4, step=1) == first_epoch[1]).all()
    assert not all((batch_indices(10, 3, seed=4, step=3 + s) == first_epoch[s]).all() for s in range(3))  # a new epoch


def test_pad_id_falls_back_to_eos_when_the_tokenizer_has_no_pad():
    from types import SimpleNamespace

    assert (eos_id(SimpleNamespace(eos_token_id=2, pad_token_id=None)),
            pad_id(SimpleNamespace(eos_token_id=2, pad_token_id=None))) == (2, 2)
    assert pad_id(SimpleNamespace(eos_token_id=2, pad_token_id=0)) == 0
