"""Direct Preference Optimisation (Rafailov et al. 2023), as the paper trains M_{t+1} (§2.4):

    L_DPO = -E_(x, y_w, y_l) log σ( β [ log π_θ(y_w|x) / π_ref(y_w|x)
                                       - log π_θ(y_l|x) / π_ref(y_l|x) ] ),     β = 0.1

with π_θ initialised from M_t and π_ref = M_t. log π(y|x) is the sum of the response
tokens' log-probabilities (standard DPO and TRL); `reduction="mean"` gives lucidrains'
masked mean instead (card §2, `logp_reduction`). The prompt's tokens never count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float = 0.1,
) -> Tensor:
    """The batch-mean DPO loss from sequence log-probabilities, each of shape (B,).

    -log σ(z) is computed as softplus(-z), which stays finite for large margins.
    """
    margin = (policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps)
    return F.softplus(-beta * margin).mean()


def dpo_rewards(policy_logps: Tensor, ref_logps: Tensor, beta: float = 0.1) -> Tensor:
    """The implicit reward β log π_θ(y|x)/π_ref(y|x) of each sequence (logged, as TRL does)."""
    return beta * (policy_logps - ref_logps).detach()


def sequence_logps(logits: Tensor, input_ids: Tensor, response_mask: Tensor, reduction: str = "sum") -> Tensor:
    """log π(y|x) of each row's response tokens.

    logits: (B, T, V) from a causal LM over `input_ids` (B, T); response_mask (B, T) bool,
    True on the tokens of y (not on x, not on padding). Position t's logits predict token t+1.
    Returns (B,): the sum (or mean) over response tokens.
    """
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    target = input_ids[:, 1:]
    mask = response_mask[:, 1:].to(logp.dtype)
    token_logp = torch.gather(logp, 2, target.unsqueeze(-1)).squeeze(-1) * mask
    total = token_logp.sum(-1)
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / mask.sum(-1).clamp_min(1.0)
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
