"""The one-level Haar discrete wavelet transform (§3.1) and its inverse (Eq. 5).

FreGrad denoises the two Haar sub-bands of a waveform instead of the waveform:

    x_l[n] = (x[2n] + x[2n+1]) / sqrt(2)        (low band, approximation)
    x_h[n] = (x[2n] - x[2n+1]) / sqrt(2)        (high band, detail)

and the inverse x[2n] = (x_l + x_h) / sqrt(2), x[2n+1] = (x_l - x_h) / sqrt(2) is exact.
The transform is orthonormal (it keeps energy), uses pywt's sign convention for "db1"
(pywt.dwt(x, "haar")), and is what pytorch_wavelets' DWT1D computes with mode "zero" on
an even length, as the official code uses it. It acts on the last dimension.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from paperzoo.core.errors import InputError

SQRT_HALF = 1.0 / math.sqrt(2.0)


def haar_dwt(x: Tensor) -> tuple[Tensor, Tensor]:
    """(..., L) with L even -> (low, high), each (..., L / 2)."""
    if x.ndim < 1 or x.shape[-1] % 2:
        raise InputError(f"haar_dwt: expected an even length in the last dimension, got shape {tuple(x.shape)}")
    even, odd = x[..., 0::2], x[..., 1::2]
    return (even + odd) * SQRT_HALF, (even - odd) * SQRT_HALF


def haar_idwt(low: Tensor, high: Tensor) -> Tensor:
    """(low, high), each (..., L / 2) -> (..., L), the exact inverse of `haar_dwt`."""
    if low.shape != high.shape:
        raise InputError(f"haar_idwt: low and high bands differ in shape: {tuple(low.shape)} vs {tuple(high.shape)}")
    even, odd = (low + high) * SQRT_HALF, (low - high) * SQRT_HALF
    return torch.stack((even, odd), dim=-1).flatten(-2)
