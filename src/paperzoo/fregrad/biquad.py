"""Second-order IIR filters (RBJ audio-EQ-cookbook biquads) as the official code applies
them through torchaudio: zero initial state, the output clamped to [-1, 1].

The official FreGrad code uses them twice; both are options (config `prior_filter`,
`cutoff_filter`), not part of the paper's equations:
- on the per-frame prior sigma (a 15 Hz high-pass, then a 5.5 kHz low-pass, at a nominal
  11,025 Hz), which makes a sustained sigma decay towards std_min;
- on both predicted sub-bands before the iDWT (5 Hz high-pass, 5.5 kHz low-pass at the
  sub-band rate 11,025 Hz), the code's "remove cutoff alias" step.

The recursion runs in float64 here. torchaudio runs it in the input's dtype, float32 in the
official code, whose rounding moves a 512-sample sub-band by up to 5e-4 (the 5 Hz high-pass
has its pole at 0.997); against the official path run in float64 ours agrees to 2e-6
(tests/fregrad/test_official_parity.py).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.signal import lfilter
from torch import Tensor

Q = 0.707  # torchaudio's default


def coefficients(kind: str, sample_rate: float, cutoff: float, q: float = Q) -> tuple[np.ndarray, np.ndarray]:
    """(b, a), normalised so a[0] = 1, of a "lowpass" or "highpass" biquad."""
    w0 = 2 * math.pi * cutoff / sample_rate
    alpha, cos = math.sin(w0) / (2 * q), math.cos(w0)
    if kind == "lowpass":
        b = [(1 - cos) / 2, 1 - cos, (1 - cos) / 2]
    elif kind == "highpass":
        b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
    else:
        raise ValueError(f"biquad kind {kind!r}; expected 'lowpass' or 'highpass'")
    a = [1 + alpha, -2 * cos, 1 - alpha]
    return np.asarray(b) / a[0], np.asarray(a) / a[0]


def biquad(x: Tensor, kind: str, sample_rate: float, cutoff: float, clamp: bool = True) -> Tensor:
    """Filter along the last dimension (float64 inside), clamped to [-1, 1] like torchaudio."""
    b, a = coefficients(kind, sample_rate, cutoff)
    y = torch.from_numpy(lfilter(b, a, x.detach().cpu().double().numpy(), axis=-1)).to(x.dtype).to(x.device)
    return y.clamp(-1.0, 1.0) if clamp else y


def band_filter(x: Tensor, high_cutoff: float, low_cutoff: float = 5500.0, sample_rate: float = 11025.0) -> Tensor:
    """The code's pair: a high-pass at `high_cutoff`, then a low-pass at `low_cutoff`."""
    return biquad(biquad(x, "highpass", sample_rate, high_cutoff), "lowpass", sample_rate, low_cutoff)
