"""The fused CPU selective scan: `fused_scan.cpp` (one C++ kernel, forward and a hand-written
backward that recomputes the states), compiled on first use, cached (`core.native`) and
called through ctypes on the tensors' memory.

The kernel is the CPU analogue of the official `selective_scan` CUDA kernel: one task per
(batch, channel), a loop over L holding the state in registers, the tasks spread over
`torch.get_num_threads()` threads. It serves float32 and float64 CPU tensors (half precision
runs in float32); `scan.selective_scan` uses the chunked pure-PyTorch scan where the kernel
cannot be built or the tensors are not on the CPU.
Equal to `selective_scan_ref` in float64, values and gradients (tests/vmamba/test_fused_scan.py).
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from paperzoo.core import native

SOURCE = Path(__file__).with_name("fused_scan.cpp")
SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


def extension() -> ctypes.CDLL | None:
    """The compiled library, or None where it cannot be built (one warning, then the fallback)."""
    return native.load("selective_scan", SOURCE, "the fused CPU selective scan")


def available(u: Tensor) -> bool:
    """Whether the fused kernel can run on `u`: a CPU tensor and a built library."""
    return u.device.type == "cpu" and extension() is not None


def _ptr(t: Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(t.data_ptr())


def _call(kind: str, inputs: list[Tensor], softplus: bool, *tail: Tensor) -> None:
    u, A, B = inputs[0], inputs[2], inputs[3]
    batch, d, length = u.shape
    fn = getattr(extension(), f"scan_{kind}_{SUFFIX[u.dtype]}")
    fn(*map(_ptr, inputs), ctypes.c_int(int(softplus)), *(ctypes.c_int64(v) for v in (batch, d, length, A.shape[1], B.shape[1])),
       ctypes.c_int(torch.get_num_threads()), *map(_ptr, tail))


class FusedScan(Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, bias, softplus: bool):
        ctx.save_for_backward(u, delta, A, B, C, D, bias)
        ctx.softplus = softplus
        y = torch.empty_like(u)
        _call("forward", [u, delta, A, B, C, D, bias], softplus, y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        inputs = list(ctx.saved_tensors)
        u, A, B = inputs[0], inputs[2], inputs[3]
        du, ddelta, dB, dC = (torch.empty_like(t) for t in (u, u, B, B))
        dA = u.new_empty(u.shape[0], *A.shape)
        dD, dbias = u.new_empty(u.shape[:2]), u.new_empty(u.shape[:2])
        _call("backward", inputs, ctx.softplus, gy.contiguous(), du, ddelta, dA, dB, dC, dD, dbias)
        return du, ddelta, dA.sum(0), dB, dC, dD.sum(0), dbias.sum(0), None


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
