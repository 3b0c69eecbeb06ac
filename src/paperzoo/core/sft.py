"""Supervised fine-tuning of a causal LM on the target tokens only (shared by self_rewarding
and chatqa).

An example is a token sequence x_1..x_T with a loss mask m_t (True on the tokens the model
must learn to produce: a response, an answer; False on the prompt / context). The loss is
the mean next-token cross-entropy over the masked tokens of a batch,

    L = - sum_{b,t} m_{b,t} log p(x_{b,t} | x_{b,<t}) / sum_{b,t} m_{b,t},

(Self-Rewarding §3.1.3: "we only calculate the loss on target tokens"). Batches are right-padded; batch order is a pure
function of (seed, step), so a resumed run sees the same batches.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from paperzoo.core.errors import InputError


def pad_examples(rows: Sequence[tuple[Sequence[int], Sequence[bool]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad (token ids, loss mask) rows into one batch:
    {"input_ids": (B, T) long, "attention_mask": (B, T) long, "loss_mask": (B, T) bool},
    T the longest row; padding has attention 0 and loss mask False. A dict, so core's
    Trainer moves it to the device."""
    if not rows:
        raise InputError("pad_examples: no rows")
    for i, (ids, mask) in enumerate(rows):
        if len(ids) != len(mask) or len(ids) == 0:
            raise InputError(f"pad_examples: row {i} has {len(ids)} tokens and {len(mask)} mask entries; "
                             "expected the same non-zero number")
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (ids, mask) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(list(ids), dtype=torch.long)
        attention[i, : len(ids)] = 1
        loss_mask[i, : len(mask)] = torch.tensor(list(mask), dtype=torch.bool)
    return {"input_ids": input_ids, "attention_mask": attention, "loss_mask": loss_mask}


def masked_lm_loss(model, batch: dict[str, torch.Tensor], share_prefix: int = 0) -> torch.Tensor:
    """L above: the mean cross-entropy of predicting token t from tokens < t, over the tokens
    with loss_mask[t] True (the prompt and padding excluded). batch: `pad_examples` output.

    `share_prefix` > 0 (a fast path): when every row begins with the same tokens, at least that
    many (a long shared prompt, e.g. the Fig. 2 judge rubric), the prefix runs once and its KV
    cache is repeated over the rows; the logits, the loss and its gradient are those of the
    plain path (tests/core/test_lm.py checks them against it)."""
    logits = _prefix_shared_logits(model, batch, share_prefix) if share_prefix > 0 else None
    if logits is None:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    target = batch["input_ids"][:, 1:]  # x_t, predicted from the logits at t - 1
    mask = batch["loss_mask"][:, 1:]
    nll = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), target, reduction="none")
    return (nll * mask).sum() / mask.sum().clamp_min(1)


def _prefix_shared_logits(model, batch: dict[str, torch.Tensor], min_shared: int) -> torch.Tensor | None:
    """The batch's logits with its common prefix computed once (None where the rows share fewer
    than `min_shared` tokens, the batch has one row, or the model's cache cannot be repeated)."""
    from paperzoo.core.generation import _cache_kwarg, shared_prefix_length

    ids, attention = batch["input_ids"], batch["attention_mask"]
    if ids.shape[0] < 2:
        return None
    rows = [row[: int(n)].tolist() for row, n in zip(ids, attention.sum(-1))]  # right-padded: the real tokens
    shared = shared_prefix_length(rows)
    if shared < min_shared:
        return None
    cache_kw = _cache_kwarg(model)
    head = model(input_ids=ids[:1, :shared], attention_mask=attention[:1, :shared], use_cache=True, **{cache_kw: None})
    past = head["cache"] if cache_kw == "cache" else head.past_key_values
    if not hasattr(past, "batch_repeat_interleave"):
        return None
    past.batch_repeat_interleave(ids.shape[0])  # differentiable: the rows' gradients reach the prefix
    positions = torch.arange(shared, ids.shape[1], device=ids.device)[None].expand(ids.shape[0], -1)
    tail = model(input_ids=ids[:, shared:], attention_mask=attention, position_ids=positions, use_cache=True,
                 **{cache_kw: past}).logits
    return torch.cat([head.logits.expand(ids.shape[0], -1, -1), tail], dim=1)


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of `step`'s batch: epochs of a seeded permutation (a pure function of the step)."""
    per_epoch = max(1, n // batch_size)
    epoch, k = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[k * batch_size: (k + 1) * batch_size] if n >= batch_size else order
