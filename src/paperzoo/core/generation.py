"""Batched decoding from a causal LM: temperature + nucleus (top-p) sampling, or greedy,
with a KV cache (shared by self_rewarding and chatqa).

All prompts x n samples run as one left-padded batch; each step feeds only the newest
token and reuses the keys and values cached from earlier steps (`use_cache=True`).
`use_cache=False` is the slow reference: every step runs the whole sequence again
("naive regeneration"); both give the same tokens (tested in tests/core/test_generation.py
and tests/self_rewarding/test_sampling.py), and benchmarks/self_rewarding.py times one
against the other. Works with any Hugging Face causal LM (our tiny Llamas, SmolLM2).
"""

from __future__ import annotations

import inspect
from typing import Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from paperzoo.core.errors import InputError


def eos_id(tokenizer) -> int:
    """The tokenizer's end-of-sequence id."""
    return int(tokenizer.eos_token_id)


def pad_id(tokenizer) -> int:
    """The tokenizer's padding id, or its EOS id when it has none (Llama tokenizers)."""
    pad = tokenizer.pad_token_id
    return int(pad if pad is not None else tokenizer.eos_token_id)


def top_p_filter(logits: Tensor, top_p: float) -> Tensor:
    """Keep the smallest set of tokens whose probability reaches `top_p` (nucleus sampling);
    the rest get -inf. logits: (B, V). The most likely token always stays."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # mass strictly above each token
    drop_sorted = before >= top_p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token(logits: Tensor, temperature: float, top_p: float, generator: torch.Generator | None) -> Tensor:
    """One token per row from logits (B, V): greedy at temperature 0, else T-scaled top-p sampling."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(top_p_filter(logits.float() / temperature, top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _left_pad(prompts: Sequence[Sequence[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
        mask[i, width - len(p):] = 1
    return ids, mask


def _cache_kwarg(model) -> str:
    """The forward argument that carries the KV cache: `cache` in recent transformers,
    `past_key_values` before (and in models that never renamed it)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def shared_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """The length of the longest token prefix common to every prompt, leaving each prompt at
    least one token of its own (the first forward of the batch needs one per row)."""
    first = prompts[0]
    n = min(len(p) for p in prompts) - 1
    for i in range(max(0, n)):
        t = first[i]
        if any(p[i] != t for p in prompts):
            return i
    return max(0, n)


def _prefix_cache(model, prefix: Sequence[int], rows: int, cache_kw: str, device):
    """The KV cache of `prefix`, computed once and repeated for `rows` sequences."""
    ids = torch.tensor([list(prefix)], dtype=torch.long, device=device)
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=torch.arange(len(prefix), device=device)[None],
                use_cache=True, **{cache_kw: None})
    past = out["cache"] if cache_kw == "cache" else out.past_key_values
    if not hasattr(past, "batch_repeat_interleave"):
        return None  # a cache type that cannot be repeated over rows: the caller runs the plain path
    past.batch_repeat_interleave(rows)
    return past


@torch.no_grad()
def _generate_batch(model, prompts, max_new_tokens, eos_id, pad_id, temperature, top_p, generator, use_cache,
                    min_shared: int = 0) -> list[list[int]]:
    device = next(model.parameters()).device
    cache_kw = _cache_kwarg(model)
    shared = shared_prefix_length(prompts) if use_cache and min_shared > 0 and len(prompts) > 1 else 0
    past = _prefix_cache(model, prompts[0][:shared], len(prompts), cache_kw, device) if shared >= min_shared > 0 else None
    if past is not None:
        # Prefix sharing: the common prefix runs once; each row's own tokens are left-padded
        # after it ([prefix][pad...][own tokens]), and positions count only unmasked tokens,
        # so every row sees the same positions and keys as without sharing.
        ids, mask = _left_pad([p[shared:] for p in prompts], pad_id)
        step_ids = ids.to(device)
        ids = torch.cat([torch.tensor([list(prompts[0][:shared])] * len(prompts), dtype=torch.long), ids], dim=1).to(device)
        mask = torch.cat([torch.ones((len(prompts), shared), dtype=torch.long), mask], dim=1).to(device)
    else:
        ids, mask = _left_pad(prompts, pad_id)
        ids, mask = ids.to(device), mask.to(device)
        step_ids = ids
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    new: list[Tensor] = []
    for _ in range(max_new_tokens):
        positions = (mask.cumsum(-1) - 1).clamp_min(0)
        if use_cache:
            out = model(input_ids=step_ids, attention_mask=mask, position_ids=positions[:, -step_ids.shape[1]:],
                        use_cache=True, **{cache_kw: past})
            past = out["cache"] if cache_kw == "cache" else out.past_key_values
        else:
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False)
        token = next_token(out.logits[:, -1], temperature, top_p, generator).to(device)
        token = torch.where(done, torch.full_like(token, pad_id), token)
        new.append(token)
        done |= token == eos_id
        ids = torch.cat([ids, token[:, None]], dim=1)
        mask = torch.cat([mask, (~done | (token == eos_id)).long()[:, None]], dim=1)
        step_ids = token[:, None]
        if bool(done.all()):
            break
    tokens = torch.stack(new, dim=1).tolist() if new else [[] for _ in prompts]
    result = []
    for row in tokens:
        out_row = []
        for t in row:
            if t == eos_id or t == pad_id:
                break
            out_row.append(t)
        result.append(out_row)
    return result


def generate(
    model,
    prompts: Sequence[Sequence[int]],
    *,
    n: int = 1,
    max_new_tokens: int,
    eos_id: int,
    pad_id: int,
    temperature: float = 0.7,
    top_p: float = 0.9,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
    use_cache: bool = True,
    share_prefix: int = 32,
    progress: bool = False,
    desc: str = "sample",
) -> list[list[list[int]]]:
    """`n` continuations of each prompt (token ids, without the prompt and the EOS).

    With the cache, a prefix of at least `share_prefix` tokens common to a whole batch (the
    n samples of one prompt; the Fig. 2 rubric before every judged response) is run once
    and its keys and values reused by every row (0: never; the same tokens as without it,
    tested in tests/core/test_generation.py).

    A row ends at its first EOS or pad token (rows that are done are filled with pad; a
    model trained with a masked loss never emits pad, and where pad is EOS, as in
    SmolLM2, the two are one).

    Returns result[i][k]: the k-th sample for prompt i. Rows run `batch_size` sequences at
    a time; with a `generator`, the same seed gives the same samples.
    """
    if len(prompts) == 0:
        return []
    if any(len(p) == 0 for p in prompts):
        raise InputError("generate: every prompt needs at least one token")
    if n < 1:
        raise InputError(f"generate: n={n} samples per prompt; expected >= 1")
    if share_prefix < 0:
        raise InputError(f"generate: share_prefix={share_prefix}; expected >= 0 (0: no prefix sharing)")
    was_training = model.training
    model.eval()
    flat = [p for p in prompts for _ in range(n)]
    outs: list[list[int]] = []
    bar = tqdm(total=len(flat), desc=desc, leave=False, disable=not progress, dynamic_ncols=True)
    for start in range(0, len(flat), batch_size):
        chunk = flat[start: start + batch_size]
        outs += _generate_batch(model, chunk, max_new_tokens, eos_id, pad_id, temperature, top_p, generator, use_cache,
                                min_shared=share_prefix)
        bar.update(len(chunk))
    bar.close()
    model.train(was_training)
    return [outs[i * n: (i + 1) * n] for i in range(len(prompts))]
