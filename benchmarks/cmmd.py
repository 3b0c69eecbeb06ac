"""CMMD's cost, side by side in one run (issue 4, card §8).

1. Blocked CMMD (both estimators from one pass; three Gram matrices of N x N x D) beside
   one dense matmul with the same FLOPs, (N, D) @ (D, 3N): the kernel sums are GEMM-bound,
   so that matmul is the practical floor. Target: CMMD / matmul <= 2.
2. Peak extra memory (resident set, sampled every ms in a fresh process) of
   blocked CMMD vs the dense official-style computation: O(block x N) vs O(N^2).
3. CMMD vs FID time on the same embeddings.

    python benchmarks/cmmd.py            # N in {1k, 5k, 10k}, D in {64, 768}
    python benchmarks/cmmd.py --quick    # N in {1k, 2k}
"""

import argparse

import numpy as np
import torch

from paperzoo.cmmd import cmmd_both, fid
from paperzoo.core.measure import best_of, peak_rss_mib


def unit(n: int, d: int, seed: int) -> torch.Tensor:
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))
    return torch.nn.functional.normalize(x, dim=1)


def dense_official(x: torch.Tensor, y: torch.Tensor) -> float:
    """The official computation: whole Gram matrices at once (biased)."""
    g = 1 / 200
    sx, sy = (x * x).sum(1), (y * y).sum(1)
    kxx = torch.exp(-g * (-2 * x @ x.T + sx[:, None] + sx[None])).mean()
    kyy = torch.exp(-g * (-2 * y @ y.T + sy[:, None] + sy[None])).mean()
    kxy = torch.exp(-g * (-2 * x @ y.T + sx[:, None] + sy[None])).mean()
    return float(1000 * (kxx + kyy - 2 * kxy))


def _pair(n: int, d: int):
    return unit(n, d, 0), unit(n, d, 1)


def _blocked(pair) -> None:
    cmmd_both(*pair, block=1024)


def _dense(pair) -> None:
    dense_official(*pair)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    sizes = (1000, 2000) if args.quick else (1000, 5000, 10000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 embeddings, block 4096\n")
    print("| N | D | CMMD (both estimators) | matmul, same FLOPs | ratio | FID | CMMD / FID |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for d in (64, 768):
        for n in sizes:
            x, y = unit(n, d, 0), unit(n, d, 1)
            a, b = unit(n, d, 2), unit(3 * n, d, 3)
            t_cmmd = best_of(lambda: cmmd_both(x, y))
            t_mm = best_of(lambda: a @ b.T)
            t_fid = best_of(lambda: fid(x.numpy(), y.numpy()))
            print(f"| {n} | {d} | {t_cmmd * 1e3:.0f} ms | {t_mm * 1e3:.0f} ms | {t_cmmd / t_mm:.2f} | "
                  f"{t_fid * 1e3:.0f} ms | {t_cmmd / t_fid:.2f} |", flush=True)
    print("\nPeak extra resident memory (fresh process each):\n")
    print("| N | D | blocked (block 1024) | dense (official) | dense / blocked | N^2 float32 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        blocked, dense = peak_rss_mib(_pair, _blocked, n, 64), peak_rss_mib(_pair, _dense, n, 64)
        print(f"| {n} | 64 | {blocked:.0f} MiB | {dense:.0f} MiB | {dense / max(blocked, 1):.1f} | {n * n * 4 / 2**20:.0f} MiB |",
              flush=True)


if __name__ == "__main__":
    main()
