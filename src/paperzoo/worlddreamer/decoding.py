"""Inference (§3.3): parallel decoding of the masked tokens, with classifier-free guidance.

Parallel decoding (MaskGIT): start from the task's mask; at each of T steps (~10 in the
paper) predict every masked token at once, keep the most confident predictions and re-mask
the rest, so that floor(M cos(pi/2 t/T)) of the M initially masked tokens remain after
step t (none after step T). A token once kept is never revised.

Classifier-free guidance (Eq. 6) on the logits: g = (1 + beta) c - beta u, where c uses the
prompts and u drops them (trained by prompt dropout). With beta > 0 a step costs two STPT
forward passes; both are counted.

`token_by_token_decode` runs the same model one token per forward pass (the most confident
masked token each time): the baseline parallel decoding is measured against.

`choice_temperature` (MaskGIT's Gumbel noise on the confidences, annealed to 0) and
`temperature` (sampling tokens instead of the argmax) default to 0: the paper mentions neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from paperzoo.core.errors import InputError
from paperzoo.worlddreamer.masking import masked_count
from paperzoo.worlddreamer.prompts import Prompts
from paperzoo.worlddreamer.stpt import STPT


@dataclass
class Decoded:
    ids: Tensor  # (B, N, h, w) int64, no [MASK] left
    forward_passes: int  # STPT forward passes (per batch; CFG counts two per step)


def guided_logits(model: STPT, ids: Tensor, prompts: Prompts | None, beta: float) -> Tensor:
    """Eq. 6: g = (1 + beta) c - beta u; beta = 0 is the conditional prediction alone."""
    if beta == 0 or prompts is None:
        return model(ids, prompts)
    b = ids.shape[0]
    both = model(torch.cat([ids, ids]), Prompts.cat(prompts, Prompts(), b, b))
    c, u = both[:b], both[b:]
    model.counter.count += 1  # one batched call computes two forward passes' worth
    return (1 + beta) * c - beta * u


def _choose(logits: Tensor, temperature: float, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """Token ids and their probabilities under the model: argmax, or sampled at `temperature`."""
    probs = logits.float().softmax(-1)
    if temperature > 0:
        scaled = (logits.float() / temperature).softmax(-1)
        ids = torch.multinomial(scaled.reshape(-1, scaled.shape[-1]), 1, generator=generator).reshape(scaled.shape[:-1])
    else:
        ids = probs.argmax(-1)
    return ids, probs.gather(-1, ids[..., None])[..., 0]


@torch.no_grad()
def parallel_decode(model: STPT, ids: Tensor, prompts: Prompts | None = None, steps: int = 10, beta: float = 0.0,
                    temperature: float = 0.0, choice_temperature: float = 0.0,
                    generator: torch.Generator | None = None) -> Decoded:
    """Fill every [MASK] in ids (B, N, h, w) in `steps` parallel steps, most confident first."""
    if steps < 1:
        raise InputError(f"steps: need at least 1, got {steps}")
    model.check_ids(ids)
    mask_id = model.config.mask_id
    ids = ids.clone()
    b = ids.shape[0]
    total = (ids == mask_id).flatten(1).sum(1)  # M per sample
    start = model.counter.count
    for t in range(1, steps + 1):
        masked = ids == mask_id
        if not masked.any():
            break
        chosen, confidence = _choose(guided_logits(model, ids, prompts, beta), temperature, generator)
        confidence = torch.log(confidence.clamp_min(1e-30))
        if choice_temperature > 0:  # MaskGIT: Gumbel noise on log-confidences, annealed linearly to 0
            u = torch.rand(confidence.shape, generator=generator, device=confidence.device).clamp(1e-20, 1 - 1e-7)
            confidence = confidence + choice_temperature * (1 - t / steps) * -torch.log(-torch.log(u))
        confidence = torch.where(masked, confidence, torch.full_like(confidence, float("inf")))
        remaining = masked.flatten(1).sum(1)
        # keep floor(M cos(pi t / 2T)) masked, but unmask at least one token per step
        stay = torch.minimum(masked_count(t, steps, total), (remaining - 1).clamp_min(0))
        order = confidence.flatten(1).argsort(1)  # least confident first (known tokens are +inf, last)
        rank = order.argsort(1).reshape(ids.shape)
        still = masked & (rank < stay.view(b, 1, 1, 1))
        ids = torch.where(masked & ~still, chosen, ids)
    return Decoded(ids, model.counter.count - start)


@torch.no_grad()
def token_by_token_decode(model: STPT, ids: Tensor, prompts: Prompts | None = None, beta: float = 0.0,
                          temperature: float = 0.0, generator: torch.Generator | None = None) -> Decoded:
    """The same model, one token per forward pass: the most confident masked token is fixed each time."""
    model.check_ids(ids)
    mask_id = model.config.mask_id
    ids = ids.clone()
    b = ids.shape[0]
    start = model.counter.count
    rows = torch.arange(b, device=ids.device)
    while (ids == mask_id).any():
        masked = (ids == mask_id).flatten(1)
        chosen, confidence = _choose(guided_logits(model, ids, prompts, beta), temperature, generator)
        confidence = torch.where(masked, confidence.flatten(1), torch.full_like(masked, -1.0, dtype=confidence.dtype))
        best = confidence.argmax(1)
        todo = masked.any(1)
        flat = ids.flatten(1).clone()
        flat[rows[todo], best[todo]] = chosen.flatten(1)[rows[todo], best[todo]]
        ids = flat.reshape(ids.shape)
    return Decoded(ids, model.counter.count - start)
