"""Attention FLOPs of the STPT's self-attention: patchwise (stride s) vs full (s = 1).

Eq. 3 attends inside patches: with "quadrant" windows, s^2 patches of N h w / s^2 tokens, so
the two attention matmuls (Q K^T and A V, 2 FLOPs per multiply-add) cost

    layers * 2 * 2 * (windows * tokens_per_window^2) * C_V

which is 1/s^2 of full attention over all N h w tokens. `count_self_attention_flops` counts
the same thing by running the model with the written-out attention under PyTorch's
FlopCounterMode, so the formula is checked against what the code does.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from paperzoo.worlddreamer.config import STPTConfig
from paperzoo.worlddreamer.prompts import Prompts
from paperzoo.worlddreamer.stpt import STPT, reference_attention


def self_attention_flops(config: STPTConfig, batch: int = 1) -> int:
    """The formula above, for one forward pass of `batch` clips."""
    n, g, s = config.frames, config.grid, config.stride
    if config.window == "quadrant":
        windows, per_window = s * s, n * (g // s) ** 2
    else:
        windows, per_window = (g // s) ** 2, n * s * s
    return config.layers * 2 * 2 * batch * windows * per_window**2 * config.dim


@torch.no_grad()
def count_self_attention_flops(model: STPT, ids: torch.Tensor, prompts: Prompts | None = None) -> int:
    """Matmul FLOPs counted inside the self-attention kernels (Q K^T and A V) of one forward pass."""
    with reference_attention(), FlopCounterMode(display=False) as counter:
        model(ids, prompts)
    total = 0
    for name, ops in counter.get_flop_counts().items():
        if name.endswith(".attn"):
            total += sum(v for op, v in ops.items() if "bmm" in str(op) or "matmul" in str(op))
    return int(total)
