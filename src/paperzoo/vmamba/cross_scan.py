"""Cross-scan and cross-merge (§4.1, Fig. 2): a 2D map as K 1D sequences, and back.

    routes of "cross" (K = 4), for x (B, C, H, W) and L = H W:
        0  row-major        x.flatten(2)                     index h W + w
        1  column-major     x.transpose(H, W).flatten(2)     index w H + h
        2  route 0 reversed
        3  route 1 reversed

Cross-merge undoes each permutation and sums the routes, so merge(scan(x)) = K x. The
scan-ablation routes (App. H.1) use the same machinery: "unidi" = route 0 (K = 1),
"bidi" = routes 0 and 2 (K = 2).
"""

from __future__ import annotations

import torch
from torch import Tensor

from paperzoo.core.errors import InputError

SCANS = {"cross": (0, 1, 2, 3), "unidi": (0,), "bidi": (0, 2)}


def routes(scan: str) -> tuple[int, ...]:
    if scan not in SCANS:
        raise InputError(f"scan: unknown {scan!r}; allowed: {', '.join(SCANS)}")
    return SCANS[scan]


def cross_scan(x: Tensor, scan: str = "cross") -> Tensor:
    """(B, C, H, W) -> (B, K, C, H W), one sequence per route."""
    b, c, h, w = x.shape
    rows = x.flatten(2)
    out = []
    for r in routes(scan):
        seq = rows if r in (0, 2) else x.transpose(2, 3).flatten(2)
        out.append(seq.flip(-1) if r >= 2 else seq)
    return torch.stack(out, dim=1)


def cross_merge(y: Tensor, h: int, w: int, scan: str = "cross") -> Tensor:
    """(B, K, C, H W) -> (B, C, H W) in row-major order: each route un-permuted, then summed."""
    chosen = routes(scan)
    if y.ndim != 4 or y.shape[1] != len(chosen) or y.shape[-1] != h * w:
        raise InputError(f"y: expected (B, {len(chosen)}, C, {h * w}), got {tuple(y.shape)}")
    b, _, c, _ = y.shape
    total = torch.zeros_like(y[:, 0])
    for k, r in enumerate(chosen):
        seq = y[:, k].flip(-1) if r >= 2 else y[:, k]
        if r in (1, 3):  # column-major back to row-major
            seq = seq.view(b, c, w, h).transpose(2, 3).reshape(b, c, h * w)
        total = total + seq
    return total
