"""The fused CPU selective scan: `fused_scan.cpp` (one C++ kernel, forward and a hand-written
backward that recomputes the states), compiled on first use and cached (`core.native`).

The kernel is the CPU analogue of the official `selective_scan` CUDA kernel: one task per
(batch, channel), a loop over L holding the state in registers, OpenMP over tasks. It serves
float32 and float64 CPU tensors (half precision runs in float32); `scan.selective_scan` uses
the chunked pure-PyTorch scan where the kernel cannot be built or the tensors are not on the CPU.
Equal to `selective_scan_ref` in float64, values and gradients (tests/vmamba/test_fused_scan.py).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from paperzoo.core import native

SOURCE = Path(__file__).with_name("fused_scan.cpp")


def extension():
    """The compiled module, or None where it cannot be built (one warning, then the fallback)."""
    return native.load("selective_scan", SOURCE, ("scan_forward", "scan_backward"), "the fused CPU selective scan")


def available(u: Tensor) -> bool:
    """Whether the fused kernel can run on `u`: a CPU tensor and a built extension."""
    return u.device.type == "cpu" and extension() is not None


class FusedScan(Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, bias, softplus: bool):
        ctx.save_for_backward(u, delta, A, B, C, D, bias)
        ctx.softplus = softplus
        return extension().scan_forward(u, delta, A, B, C, D, bias, softplus)

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        du, ddelta, dA, dB, dC, dD, dbias = extension().scan_backward(*ctx.saved_tensors, ctx.softplus, gy.contiguous())
        return du, ddelta, dA, dB, dC, dD, dbias, None


def fused_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None, delta_bias: Tensor | None,
               delta_softplus: bool) -> Tensor:
    """y (batch, D, L) in u's dtype for shape-checked CPU inputs (see `scan.selective_scan`).
    The kernel runs in the inputs' common dtype, at least float32; a missing D or bias is a
    zero vector (its gradient is then dropped)."""
    dtype = functools.reduce(torch.promote_types, [t.dtype for t in (u, delta, A, B, C, D, delta_bias) if t is not None])
    if dtype != torch.float64:
        dtype = torch.float32
    zeros = u.new_zeros(u.shape[1], dtype=dtype)
    full = [zeros if t is None else t.to(dtype).contiguous() for t in (u, delta, A, B, C, D, delta_bias)]
    return FusedScan.apply(*full, bool(delta_softplus)).to(u.dtype)
