"""The hybrid encoding with coarse-to-fine annealing (§3.1, App. A.2, Eqs. 1, 5, 6).

F_(+)(H(x), gamma(x)): the hash grid's L levels of features, each scaled by its annealing weight, next to
a small MLP (one hidden layer of 64, SiLU, 3 outputs) of annealed Fourier features of x:

    gamma_k(x) = w_k(alpha) [sin(2^k pi x + o_k), cos(2^k pi x + o_k)],  k = 0 .. K - 1       (Eqs. 1, 5)
    w_k(alpha) = (1 - cos(pi clamp(alpha - k, 0, 1))) / 2                                   (Eq. 6, a truncated Hann window)

with K = 10 bands and alpha rising from 0 to K (Fourier) and from 0 to L (hash levels) over the first
third of training (`progress` in [0, 1] is the fraction of that phase done). The random offsets o_k
(fixed per band and axis, N(0, 0.1^2) 2^k, as SAMURAI's code draws them) keep the frequencies off the
axes' lattice. Taken literally, Eq. 6 weighs every level 0 at alpha = 0, while the text starts "with only
the features from the low resolution dense grid": ours keeps the coarsest level (and the first band) at
weight 1 and anneals the rest as Eq. 6 does with k - 1 (`keep_coarsest`; the card's reading).

The concatenation is 16 * F + 3 wide: 35 for the paper's F = 2 (App. A.2). `mode`:
- "hybrid": the above (SHINOBI);
- "hash": the hash grid alone (the ablation "w/o hybrid encoding", and the naive hash baseline);
- "fourier": [x, gamma(x)] fed straight to the trunk, no grid (SAMURAI's field, BARF-annealed).
`anneal=False` gives every level and band weight 1 from the start (the ablation "w/o coarse-to-fine").
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from paperzoo.core.errors import ConfigError
from paperzoo.shinobi.hashgrid import HashGrid, HashGridConfig


def hann_window(alpha: float | Tensor, count: int, keep_coarsest: bool = True) -> Tensor:
    """w_k(alpha) for k = 0 .. count - 1 (Eq. 6); with keep_coarsest, w_0 = 1 and w_k uses alpha - (k - 1)."""
    k = torch.arange(count, dtype=torch.float32)
    shift = k - 1 if keep_coarsest else k
    w = (1 - torch.cos(math.pi * (torch.as_tensor(alpha, dtype=torch.float32) - shift).clamp(0, 1))) / 2
    if keep_coarsest:
        w[0] = 1.0
    return w


class FourierFeatures(nn.Module):
    """gamma(x): (..., 3) -> (..., 6K), the sin block then the cos block, each band scaled by its weight."""

    def __init__(self, bands: int = 10, offset_std: float = 0.1, seed: int = 1337):
        super().__init__()
        self.bands = bands
        rng = np.random.default_rng(seed)
        scales = 2.0 ** torch.arange(bands, dtype=torch.float32)
        offsets = torch.tensor(rng.normal(size=(bands, 3)), dtype=torch.float32) * offset_std * scales[:, None]
        self.register_buffer("scales", scales, persistent=False)
        self.register_buffer("offsets", offsets)

    @property
    def output_dim(self) -> int:
        return 6 * self.bands

    def forward(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        xb = math.pi * x[..., None, :] * self.scales[:, None] + self.offsets  # (..., K, 3)
        sin, cos = torch.sin(xb), torch.cos(xb)
        if weights is not None:
            w = weights.to(x.dtype)[:, None]
            sin, cos = sin * w, cos * w
        return torch.cat([sin.flatten(-2), cos.flatten(-2)], -1)


MODES = ("hybrid", "hash", "fourier")


class HybridEncoding(nn.Module):
    """x in [-bound, bound]^3 -> (..., D): annealed hash features next to MLP(annealed gamma(x)) (see `mode`)."""

    def __init__(self, grid: HashGridConfig, bands: int = 10, hidden: int = 64, bound: float = 1.0,
                 mode: str = "hybrid", anneal: bool = True, keep_coarsest: bool = True):
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"encoding mode: {mode!r}; expected one of {', '.join(MODES)}")
        self.mode, self.bound, self.anneal, self.keep_coarsest = mode, bound, anneal, keep_coarsest
        self.grid = HashGrid(grid) if mode != "fourier" else None
        self.fourier = FourierFeatures(bands) if mode != "hash" else None
        self.mlp = nn.Sequential(nn.Linear(6 * bands, hidden), nn.SiLU(), nn.Linear(hidden, 3)) if mode == "hybrid" else None
        self.progress = 1.0  # fraction of the annealing phase done; the trainer sets it

    @property
    def output_dim(self) -> int:
        if self.mode == "fourier":
            return 3 + self.fourier.output_dim
        return self.grid.config.output_dim + (3 if self.mode == "hybrid" else 0)

    def level_weights(self) -> Tensor:
        c = self.grid.config
        if not self.anneal:
            return torch.ones(c.levels)
        return hann_window(self.progress * c.levels, c.levels, self.keep_coarsest)

    def band_weights(self) -> Tensor:
        bands = self.fourier.bands
        if not self.anneal:
            return torch.ones(bands)
        return hann_window(self.progress * bands, bands, self.keep_coarsest)

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "fourier":
            return torch.cat([x / self.bound, self.fourier(x / self.bound, self.band_weights())], -1)
        unit = (x / self.bound + 1) / 2  # [-bound, bound] -> [0, 1]
        c = self.grid.config
        h = self.grid(unit).unflatten(-1, (c.levels, c.features))
        h = (h * self.level_weights().to(h)[:, None]).flatten(-2)
        if self.mode == "hash":
            return h
        return torch.cat([h, self.mlp(self.fourier(x / self.bound, self.band_weights()))], -1)
