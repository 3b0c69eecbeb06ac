"""FID (§3.1), the baseline CMMD replaces, computed on the same embeddings.

    FID = ||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x S_y)^{1/2})

with mu, S the sample mean and (unbiased, N - 1) covariance. Everything is float64. Two
routes to Tr (S_x S_y)^{1/2}:

- "eigvals" (default): the eigenvalues of S_x S_y equal those of the symmetric PSD matrix
  S_x^{1/2} S_y S_x^{1/2}, so the trace is the sum of square roots of eigvalsh of the
  latter (tiny negative round-off clipped to 0). No complex numbers, no "imaginary
  component" failures.
- "sqrtm": scipy.linalg.sqrtm(S_x S_y), real part, as pytorch-fid does.

FID with N <= D samples has a singular covariance and an unreliable square root; it raises
instead (the card's pitfall: "FID needs N > D").
"""

from __future__ import annotations

import numpy as np

from paperzoo.core.errors import InputError
from paperzoo.cmmd.mmd import check_pair

ROUTES = ("eigvals", "sqrtm")


def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of x (N, D), float64."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray, route: str = "eigvals") -> float:
    """Tr (s1 s2)^{1/2} for covariance matrices s1, s2."""
    if route == "eigvals":
        r = _sqrt_psd(s1)
        w = np.linalg.eigvalsh(r @ s2 @ r)
        return float(np.sqrt(np.clip(w, 0.0, None)).sum())
    if route == "sqrtm":
        from scipy.linalg import sqrtm

        return float(np.real(np.trace(sqrtm(s1 @ s2))))
    raise InputError(f"route: unknown {route!r}; allowed: {', '.join(ROUTES)}")


def frechet_distance(mu1, s1, mu2, s2, route: str = "eigvals") -> float:
    """The Fréchet distance between N(mu1, s1) and N(mu2, s2)."""
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(s1, np.float64), np.asarray(s2, np.float64)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2, route))


def fid(x, y, route: str = "eigvals") -> float:
    """FID between embedding sets x (m, D) and y (n, D), each with more samples than dimensions."""
    x, y = (t.double().numpy() for t in check_pair(x, y))
    d = x.shape[1]
    for name, e in (("x", x), ("y", y)):
        if len(e) <= d:
            raise InputError(f"{name}: FID needs more embeddings than dimensions (N > D), got N={len(e)}, D={d}; "
                             "use more images, or CMMD, which has no such limit")
    mu1, s1 = gaussian_stats(x)
    mu2, s2 = gaussian_stats(y)
    return frechet_distance(mu1, s1, mu2, s2, route)
