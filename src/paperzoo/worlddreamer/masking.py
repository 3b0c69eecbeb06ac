"""Training masks (§3.3) and the decoding schedule.

The paper: "sample a random mask rate r in [0, 1] ... totally 2hw/pi (1 - r^2)^(-1/2) tokens
are masked in each frame". Read literally the count is unbounded; it is Muse's / MaskGIT's
cosine schedule garbled: the mask rate r has density (2/pi)(1 - r^2)^(-1/2) on [0, 1], which
is what r = cos(pi u / 2) with u ~ U(0, 1) gives, and ceil(r h w) positions of each frame are
masked. The mean rate is 2/pi ~ 0.64 (tested).

`mask_mode`:
- "shared" (the paper's): the same spatial positions are masked in every frame, since
  independent masks let a token be copied from the same position in another frame;
- "independent": a fresh set of positions per frame, at the same rate (the ablation);
- "shared+prefix" (ours): "shared", and with probability `prefix_prob` the first k frames
  (k uniform in 1 .. N-1) are left whole, the condition image- and action-to-video decode
  from, which a shared mask never shows.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from paperzoo.core.errors import ConfigError


def mask_rate(u: Tensor) -> Tensor:
    """r = cos(pi u / 2): u ~ U(0, 1) gives r the density (2/pi)(1 - r^2)^(-1/2)."""
    return torch.cos(math.pi / 2 * u)


def sample_mask(b: int, n: int, h: int, w: int, mode: str = "shared", prefix_prob: float = 0.25,
                generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
    """(B, N, h, w) bool, True where the token is replaced by [MASK] and predicted."""
    if mode not in ("shared", "independent", "shared+prefix"):
        raise ConfigError(f"mask_mode: {mode!r}; expected 'shared', 'independent' or 'shared+prefix'")
    hw = h * w
    r = mask_rate(torch.rand(b, generator=generator, device=device))
    count = torch.ceil(r * hw).clamp(1, hw)  # at least one token to predict
    frames = 1 if mode != "independent" else n
    # a random ranking of positions per (sample, frame); the `count` lowest ranks are masked
    ranks = torch.rand(b, frames, hw, generator=generator, device=device).argsort(-1).argsort(-1)
    mask = (ranks < count[:, None, None]).reshape(b, frames, h, w).expand(b, n, h, w).clone()
    if mode == "shared+prefix":
        keep = torch.rand(b, generator=generator, device=device) < prefix_prob
        k = torch.randint(1, n, (b,), generator=generator, device=device)
        prefix = torch.arange(n, device=device)[None] < k[:, None]  # (B, N)
        mask &= ~(prefix & keep[:, None])[:, :, None, None]
        # a sample whose every masked token was in its prefix predicts its last frame's masked positions
        empty = ~mask.flatten(1).any(1)
        mask[empty, -1] = (ranks[empty, 0] < count[empty, None]).reshape(-1, h, w)
    return mask


def masked_count(step: int, steps: int, total: Tensor) -> Tensor:
    """How many of the `total` initially masked tokens stay masked after decoding step `step` of `steps`
    (1-based): floor(total cos(pi/2 step/steps)), MaskGIT's cosine schedule; 0 after the last step."""
    return torch.floor(total.float() * math.cos(math.pi / 2 * step / steps)).long()
