"""The multi-resolution hash encoding (Müller et al. 2022), in pure PyTorch: SHINOBI's H(x) (§3.1, App. A.2).

L levels of F features each; level l has the scale s_l = N_min b^l - 1 with
b = exp((ln N_max - ln N_min) / (L - 1)), and a grid of r_l = ceil(s_l) + 1 vertices per side. A point
x in [0, 1]^3 sits at s_l x + 0.5 in level l's grid (tiny-cuda-nn's offset convention); its feature
is the trilinear interpolation of the 8 surrounding vertices' entries. A level whose r_l^3 vertices fit
in its table (T entries) indexes them densely (i_x + r_l i_y + r_l^2 i_z); a finer one hashes them,
h(i) = (i_x * 1 XOR i_y * 2654435761 XOR i_z * 805459861) mod T, as tiny-cuda-nn does (T a power of 2, so
the low bits of the 64-bit products equal those of its 32-bit ones). Tables start uniform in +-1e-4.

Every operation is differentiable: in the table entries, and in x twice over (SHINOBI's normals are the
density's gradient, and a loss on them needs the second derivative). On a GPU tiny-cuda-nn would run this;
here this pure-torch grid is the path (its slow reference, `encode_reference`, loops point by point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from paperzoo.core.errors import ConfigError, InputError

PRIMES = (1, 2654435761, 805459861)


@dataclass(frozen=True)
class HashGridConfig:
    levels: int = 16
    features: int = 2
    log2_table: int = 19  # T = 2^19; the paper does not say (the card's inferred default)
    min_resolution: int = 8
    max_resolution: int = 2048

    def __post_init__(self):
        if self.levels < 1 or self.features < 1:
            raise ConfigError(f"hash grid: levels {self.levels}, features {self.features}; need >= 1")
        if not 1 <= self.log2_table <= 30:
            raise ConfigError(f"hash grid: log2_table {self.log2_table}; expected 1 .. 30")
        if not 2 <= self.min_resolution <= self.max_resolution:
            raise ConfigError(f"hash grid: resolutions {self.min_resolution} -> {self.max_resolution}; "
                              "need 2 <= min <= max")

    @property
    def growth(self) -> float:
        """b, the per-level scale factor."""
        if self.levels == 1:
            return 1.0
        return math.exp((math.log(self.max_resolution) - math.log(self.min_resolution)) / (self.levels - 1))

    def scale(self, level: int) -> float:
        return self.min_resolution * self.growth**level - 1

    def resolution(self, level: int) -> int:
        return math.ceil(round(self.scale(level), 9)) + 1  # rounded: 8 * 256^(15/15) - 1 is 2047, not 2047.0000001

    def dense(self, level: int) -> bool:
        return self.resolution(level) ** 3 <= 2**self.log2_table

    def table_size(self, level: int) -> int:
        """Entries of level `level`: its vertex count when dense, else T (rounded up to a multiple of 8, as tcnn)."""
        size = self.resolution(level) ** 3 if self.dense(level) else 2**self.log2_table
        return min(-(-size // 8) * 8, 2**self.log2_table)

    @property
    def output_dim(self) -> int:
        return self.levels * self.features


class HashGrid(nn.Module):
    """x (..., 3) in [0, 1]^3 -> (..., L * F): the levels' interpolated features, coarse to fine."""

    def __init__(self, config: HashGridConfig = HashGridConfig()):
        super().__init__()
        self.config = c = config
        sizes = [c.table_size(level) for level in range(c.levels)]
        offsets = [0]
        for s in sizes:
            offsets.append(offsets[-1] + s)
        self.table = nn.Parameter(torch.empty(offsets[-1], c.features).uniform_(-1e-4, 1e-4))
        self.register_buffer("offsets", torch.tensor(offsets[:-1]), persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes), persistent=False)
        self.register_buffer("scales", torch.tensor([c.scale(level) for level in range(c.levels)]), persistent=False)
        self.register_buffer("resolutions", torch.tensor([c.resolution(level) for level in range(c.levels)]),
                             persistent=False)
        dense = [c.dense(level) for level in range(c.levels)]
        self.dense_levels = sum(dense)  # dense levels are the coarsest ones: levels 0 .. dense_levels - 1
        assert dense == [True] * self.dense_levels + [False] * (c.levels - self.dense_levels)

    @property
    def output_dim(self) -> int:
        return self.config.output_dim

    def level_tables(self) -> list[Tensor]:
        """Each level's entries (its slice of the one flat table)."""
        return [self.table[o:o + s] for o, s in zip(self.offsets.tolist(), self.sizes.tolist())]

    def index(self, base: Tensor) -> Tensor:
        """Integer cell corners (..., L, 3) -> rows of the flat table of the cell's 8 vertices (..., L, 8),
        vertex k = dx + 2 dy + 4 dz. Each axis' two coordinates are combined once (sums, or XORs of the
        prime products), not per vertex; dense (coarse) and hashed (fine) levels are computed apart."""
        step = torch.arange(2, device=base.device)
        k = self.dense_levels
        parts = []
        if k > 0:
            ax, ay, az = (base[..., :k, d, None] + step for d in range(3))  # (..., k, 2) each
            r = self.resolutions[:k, None]
            dense = ax[..., None, None, :] + (r * ay)[..., None, :, None] + (r * r * az)[..., :, None, None]
            parts.append(dense.flatten(-3) % self.sizes[:k, None] + self.offsets[:k, None])
        if k < self.config.levels:
            ax, ay, az = (base[..., k:, d, None] + step for d in range(3))
            hashed = ((ax * PRIMES[0])[..., None, None, :] ^ (ay * PRIMES[1])[..., None, :, None]
                      ^ (az * PRIMES[2])[..., :, None, None])
            parts.append((hashed.flatten(-3) & (2**self.config.log2_table - 1)) + self.offsets[k:, None])
        return parts[0] if len(parts) == 1 else torch.cat(parts, -2)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != 3:
            raise InputError(f"hash grid input: shape {tuple(x.shape)}; expected (..., 3)")
        lead = x.shape[:-1]
        x = x.reshape(-1, 1, 3)
        pos = x * self.scales.to(x.dtype)[:, None] + 0.5  # (N, L, 3)
        base = pos.detach().floor()
        frac = pos - base  # carries the gradient in x
        # trilinear weight of corner k = dx + 2 dy + 4 dz: prod_d (frac_d if bit d else 1 - frac_d), as an
        # outer product of the three axes' (1 - f, f) pairs
        pair = torch.stack([1 - frac, frac], -1)  # (N, L, 3, 2)
        w = (pair[:, :, 2, :, None, None] * pair[:, :, 1, None, :, None] * pair[:, :, 0, None, None, :]).flatten(2)
        idx = self.index(base.long())
        feats = self.table.index_select(0, idx.flatten()).view(*idx.shape, -1)  # (N, L, 8, F)
        out = (w[..., None, :] @ feats).squeeze(-2)  # (N, L, F)
        return out.reshape(*lead, self.config.output_dim)


def encode_reference(grid: HashGrid, x: Tensor) -> Tensor:
    """The slow, obviously correct encoding: each point, level and corner on its own, the index written out
    as the module docstring says. Differentiable like the fast path (for the gradient tests)."""
    c = grid.config
    tables = grid.level_tables()
    rows = []
    for point in x.reshape(-1, 3):
        features = []
        for level in range(c.levels):
            scale, res = c.scale(level), c.resolution(level)
            pos = [point[d] * scale + 0.5 for d in range(3)]
            cell = [math.floor(float(p.detach())) for p in pos]
            frac = [pos[d] - cell[d] for d in range(3)]
            acc = torch.zeros(c.features, dtype=grid.table.dtype)
            for dx in (0, 1):
                for dy in (0, 1):
                    for dz in (0, 1):
                        i, j, k = cell[0] + dx, cell[1] + dy, cell[2] + dz
                        if c.dense(level):
                            idx = (i + res * j + res * res * k) % c.table_size(level)
                        else:
                            idx = ((i * PRIMES[0]) ^ (j * PRIMES[1]) ^ (k * PRIMES[2])) % c.table_size(level)
                        weight = ((frac[0] if dx else 1 - frac[0]) * (frac[1] if dy else 1 - frac[1])
                                  * (frac[2] if dz else 1 - frac[2]))
                        acc = acc + weight * tables[level][idx]
            features.append(acc)
        rows.append(torch.cat(features))
    return torch.stack(rows).reshape(*x.shape[:-1], c.output_dim)
