"""Multivariate normality tests (§3.3: FID's Gaussian assumption does not hold for
embeddings of real images). Written out here; pingouin is not needed.

Mardia (1970), with m_jk = (x_j - x̄)^T S^-1 (x_k - x̄), S the covariance with divisor n:
    skewness b1 = (1/n^2) sum_jk m_jk^3,   n b1 / 6 ~ chi2(d(d+1)(d+2)/6)
    kurtosis b2 = (1/n) sum_j m_jj^2,      (b2 - d(d+2)) / sqrt(8 d (d+2) / n) ~ N(0, 1)

Henze-Zirkler (1990), with D_jk = (x_j - x_k)^T S^-1 (x_j - x_k), D_j = m_jj and the
smoothing b = (1/sqrt 2) ((2d + 1) n / 4)^(1/(d+4)):
    HZ = n [ (1/n^2) sum_jk e^{-b^2 D_jk / 2} - 2 (1 + b^2)^(-d/2) (1/n) sum_j e^{-b^2 D_j / (2(1 + b^2))}
             + (1 + 2 b^2)^(-d/2) ]
    p from the log-normal with the statistic's mean and variance under normality (H-Z 1990).

In high dimension with few samples (e.g. d = 64, n = 500) b is large, every off-diagonal
term vanishes and HZ -> 1 whatever the data: the test has no power and its null variance
underflows. `henze_zirkler` then returns p = nan with "degenerate": True; test a few
principal components instead (`reproduce` uses the top 8).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from paperzoo.core.errors import InputError


def _standardised_products(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    n, d = x.shape
    if n <= d:
        raise InputError(f"x: a normality test needs more samples than dimensions, got N={n}, D={d}")
    centred = x - x.mean(0)
    s = centred.T @ centred / n
    return centred @ np.linalg.pinv(s, hermitian=True) @ centred.T  # m_jk, (n, n)


def mardia(x: np.ndarray) -> dict[str, float]:
    """Mardia's skewness and kurtosis statistics and p-values."""
    n, d = np.shape(x)
    m = _standardised_products(x)
    b1 = float((m**3).sum() / n**2)
    b2 = float((np.diag(m) ** 2).mean())
    skew_stat = n * b1 / 6.0
    dof = d * (d + 1) * (d + 2) / 6.0
    kurt_z = (b2 - d * (d + 2)) / np.sqrt(8.0 * d * (d + 2) / n)
    return {"skewness": b1, "skewness_p": float(stats.chi2.sf(skew_stat, dof)),
            "kurtosis": b2, "kurtosis_z": float(kurt_z), "kurtosis_p": float(2 * stats.norm.sf(abs(kurt_z)))}


def henze_zirkler(x: np.ndarray) -> dict[str, float]:
    """The Henze-Zirkler statistic and its p-value (log-normal approximation)."""
    n, d = np.shape(x)
    m = _standardised_products(x)
    dj = np.diag(m)
    djk = dj[:, None] + dj[None, :] - 2.0 * m  # Mahalanobis distances between samples
    b2 = 0.5 * ((2 * d + 1) * n / 4.0) ** (2.0 / (d + 4))  # b^2
    hz = n * (np.exp(-b2 * djk / 2.0).mean() - 2.0 * (1 + b2) ** (-d / 2) * np.exp(-b2 * dj / (2 * (1 + b2))).mean()
              + (1 + 2 * b2) ** (-d / 2))
    a = 1 + 2 * b2
    w = (1 + b2) * (1 + 3 * b2)
    mu = 1 - a ** (-d / 2) * (1 + d * b2 / a + d * (d + 2) * b2**2 / (2 * a**2))
    var = (2 * (1 + 4 * b2) ** (-d / 2)
           + 2 * a ** (-d) * (1 + 2 * d * b2**2 / a**2 + 3 * d * (d + 2) * b2**4 / (4 * a**4))
           - 4 * w ** (-d / 2) * (1 + 3 * d * b2**2 / (2 * w) + d * (d + 2) * b2**4 / (2 * w**2)))
    if not (np.isfinite(var) and var > 1e-12 and mu > 0):
        return {"hz": float(hz), "p": float("nan"), "degenerate": True}
    log_mean = np.log(mu**2 / np.sqrt(var + mu**2))
    log_sd = np.sqrt(np.log((var + mu**2) / mu**2))
    p = stats.lognorm.sf(hz, s=log_sd, scale=np.exp(log_mean))
    return {"hz": float(hz), "p": float(p), "degenerate": False}
