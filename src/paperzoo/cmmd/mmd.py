"""CMMD (§4): 1000 x the squared MMD with a Gaussian RBF kernel between two embedding sets.

    k(x, y) = exp(-||x - y||^2 / (2 sigma^2)),  sigma = 10

    unbiased (the paper, a U-statistic; Gretton et al. 2012 Lemma 6):
        MMD^2_u = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (n(n-1))
                  - 2 sum_{i,j} k(x_i, y_j) / (mn)
    biased (the official `distance.py`, a V-statistic; Gretton et al. Eq. 5):
        MMD^2_b = mean_{i,j} k(x_i, x_j) + mean_{i,j} k(y_i, y_j) - 2 mean_{i,j} k(x_i, y_j)
                  (the means include the diagonal, where k = 1)

    CMMD = scale * MMD^2, scale = 1000 "for readability".

The official code forms each m x n Gram matrix at once (30k^2 floats = 3.6 GB). Here the
three kernel sums are accumulated over row blocks of `block` rows, so memory is
O(block x N); the symmetric x-x and y-y matrices are computed as upper triangles; sums of
k - 1 (not k) keep float32 accurate, and totals are float64. The sums are also what a
multi-process run all-reduces (`KernelSums`, sharded.py): each rank takes a share of the
row blocks, and only six numbers travel.

The unbiased value can be negative (it is an unbiased estimate of a non-negative
quantity); it is never clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from paperzoo.core.errors import InputError

ESTIMATORS = ("unbiased", "biased")
SIGMA = 10.0  # the paper's bandwidth
SCALE = 1000.0  # the paper's multiplier


def as_embeddings(x, name: str) -> Tensor:
    """A (N, D) floating tensor from a numpy array or tensor; anything else raises naming `name`."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, Tensor):
        raise InputError(f"{name}: expected a (N, D) array or tensor of embeddings, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"{name}: expected a non-empty (N, D) array of embeddings, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.double()
    if not torch.isfinite(x).all():
        raise InputError(f"{name}: embeddings contain NaN or infinite values")
    return x


@dataclass
class KernelSums:
    """Sums of (k(a_i, b_j) - 1) over all pairs (i, j) and over the diagonal, in float64.

    Kernel values lie in (0, 1] and cluster near 1 (sigma = 10 on unit vectors gives
    k >= e^{-0.02}); summing k - 1 (computed with expm1) keeps float32 accurate, and the
    1s cancel in MMD^2 (1 + 1 - 2 = 0), so the estimators below use these sums directly.
    """

    total: float = 0.0
    diagonal: float = 0.0

    def __add__(self, other: KernelSums) -> KernelSums:
        return KernelSums(self.total + other.total, self.diagonal + other.diagonal)


def rbf_kernel_minus_one(a: Tensor, b: Tensor, gamma: float, a_sq: Tensor | None = None,
                         b_sq: Tensor | None = None) -> Tensor:
    """k(a_i, b_j) - 1 = expm1(-gamma ||a_i - b_j||^2) as a (len(a), len(b)) matrix.

    The official code's expansion ||a||^2 + ||b||^2 - 2 a b^T, as one GEMM accumulating onto
    the norm terms: -gamma ||a||^2 - gamma ||b||^2 + 2 gamma a b^T, then expm1 in place.
    Round-off can make a distance a hair below 0 (k a hair above 1), as in the official code.
    """
    a_sq = (a * a).sum(1) if a_sq is None else a_sq
    b_sq = (b * b).sum(1) if b_sq is None else b_sq
    exponent = (-gamma * a_sq)[:, None] + (-gamma * b_sq)[None, :]
    exponent.addmm_(a, b.T, alpha=2.0 * gamma)
    return exponent.expm1_()


def _sum64(t: Tensor) -> float:
    """Row sums in the compute dtype, then the rows in float64."""
    return float(t.sum(1, dtype=t.dtype).double().sum()) if t.numel() else 0.0


def kernel_sums(a: Tensor, b: Tensor, gamma: float, block: int = 4096, same: bool = False,
                row_blocks: range | None = None) -> KernelSums:
    """Sums of k(a_i, b_j) - 1 over all pairs, accumulated over row blocks of `a`.

    `same=True` says b is a: the Gram matrix is symmetric, so row block k only computes
    columns from its own start onwards and counts the part right of its diagonal square
    twice (half the work), and the diagonal is taken from the computed values so that
    subtracting it is exact. `row_blocks` restricts the work to some of the
    ceil(len(a) / block) row blocks: a shard of the sum, for multi-process runs.
    """
    if block < 1:
        raise InputError(f"block: must be >= 1, got {block}")
    n_blocks = -(-len(a) // block)
    b_sq = (b * b).sum(1)
    out = KernelSums()
    for k in row_blocks if row_blocks is not None else range(n_blocks):
        lo, hi = k * block, min((k + 1) * block, len(a))
        if same:
            gram = rbf_kernel_minus_one(a[lo:hi], b[lo:], gamma, a_sq=b_sq[lo:hi], b_sq=b_sq[lo:])
            square = gram[:, : hi - lo]
            out.total += _sum64(square) + 2.0 * _sum64(gram[:, hi - lo:])
            out.diagonal += float(square.diagonal().double().sum())
        else:
            out.total += _sum64(rbf_kernel_minus_one(a[lo:hi], b, gamma, b_sq=b_sq))
    return out


def mmd2_from_sums(xx: KernelSums, yy: KernelSums, xy: KernelSums, m: int, n: int, estimator: str = "unbiased") -> float:
    """MMD^2 from the three sums of k - 1 (the estimators of the module docstring; the
    constant 1 cancels in both)."""
    if estimator == "biased":
        return xx.total / (m * m) + yy.total / (n * n) - 2.0 * xy.total / (m * n)
    if estimator == "unbiased":
        if m < 2 or n < 2:
            raise InputError(f"the unbiased estimator needs at least 2 embeddings per set, got {m} and {n}")
        return ((xx.total - xx.diagonal) / (m * (m - 1)) + (yy.total - yy.diagonal) / (n * (n - 1))
                - 2.0 * xy.total / (m * n))
    raise InputError(f"estimator: unknown {estimator!r}; allowed: {', '.join(ESTIMATORS)}")


def check_pair(x, y) -> tuple[Tensor, Tensor]:
    x, y = as_embeddings(x, "x"), as_embeddings(y, "y")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"x and y: embedding dimensions differ ({x.shape[1]} vs {y.shape[1]}); "
                         "were they made by the same embedder?")
    return x, y


def cmmd(x, y, sigma: float = SIGMA, scale: float = SCALE, estimator: str = "unbiased", block: int = 4096,
         dtype: torch.dtype | None = None) -> float:
    """CMMD between embedding sets x (m, D) and y (n, D): `scale` x MMD^2 with an RBF kernel.

    `estimator`: "unbiased" (the paper's U-statistic) or "biased" (the official code's
    V-statistic, for parity with published numbers). `block` rows of each Gram matrix are
    formed at a time; `dtype` is the matmul dtype (default: float64 for float64 input,
    else float32); sums are always float64. Embeddings are used as given: CMMD's
    embedders L2-normalise (embedders.py).
    """
    if estimator not in ESTIMATORS:
        raise InputError(f"estimator: unknown {estimator!r}; allowed: {', '.join(ESTIMATORS)}")
    return cmmd_both(x, y, sigma=sigma, scale=scale, block=block, dtype=dtype, estimators=(estimator,))[estimator]


def cmmd_both(x, y, sigma: float = SIGMA, scale: float = SCALE, block: int = 4096,
              dtype: torch.dtype | None = None, estimators: tuple[str, ...] = ESTIMATORS) -> dict[str, float]:
    """Several estimators from one pass over the three Gram matrices: {"unbiased": ..., "biased": ...}."""
    if not sigma > 0:
        raise InputError(f"sigma: must be > 0, got {sigma}")
    x, y = check_pair(x, y)
    dtype = dtype or (torch.float64 if torch.float64 in (x.dtype, y.dtype) else torch.float32)
    x, y = x.to(dtype), y.to(dtype)
    gamma = 1.0 / (2.0 * sigma**2)
    xx, yy, xy = kernel_sums(x, x, gamma, block, same=True), kernel_sums(y, y, gamma, block, same=True), kernel_sums(x, y, gamma, block)
    return {e: scale * mmd2_from_sums(xx, yy, xy, len(x), len(y), e) for e in estimators}
