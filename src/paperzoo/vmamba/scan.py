"""The S6 selective scan (Mamba's recurrence as VMamba uses it), two ways.

Shapes follow Mamba's `selective_scan_ref`, with grouped B and C (one group per scan
route, K = 4 in SS2D):

    u, delta  (batch, D, L)       D = K * D_i channels, L = H * W positions
    A         (D, N)              A = -exp(A_log)
    B, C      (batch, K, N, L)    shared by the D_i channels of their route
    D_skip    (D,)                delta_bias (D,)

    delta_t = softplus(delta_t + delta_bias)                       (Eq. 1's Δ, with bias)
    h_t     = exp(delta_t A) * h_{t-1} + delta_t B_t u_t           (Eq. 7: exact ZOH for A,
    y_t     = C_t . h_t + D_skip u_t                                first-order B̄ = ΔB)

`selective_scan_ref` runs the recurrence step by step: obviously correct, slow (a Python
loop over L). `fused_scan.py` runs it as one compiled C++ kernel (forward and backward),
the default on CPUs wherever it builds. `selective_scan_chunked`, the pure-PyTorch fallback,
cuts L into chunks of `chunk` steps and carries the state from chunk to chunk. Inside a
chunk, either (intra="recurrent", its default) all chunks advance together step by step, or
(intra="kernel") the recurrence unrolls into a masked, decayed attention-like product (the
paper's Eq. 5 view of SS2D):

    y_t = sum_{s<=t} [sum_n C_tn exp(S_tn - S_sn) B_sn] delta_s u_s + sum_n C_tn exp(S_tn) h0_n + D u_t
    S_t = sum_{r<=t} delta_r A        (cumulative within the chunk; S_t - S_s <= 0 for s <= t)

The exponents are clamped at 0 before `exp`, so masked (s > t) entries cannot overflow.
All are equal to the reference in float64 for values and gradients (tests).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from paperzoo.core.errors import InputError
from paperzoo.vmamba.chunked_scan import chunked_scan
from paperzoo.vmamba.fused_scan import available as fused_available
from paperzoo.vmamba.fused_scan import fused_scan

# "auto": "fused" on CPU tensors where the kernel builds, else "chunked" (see `resolve_backend`);
# "kernel": chunked with Eq. 5's masked kernel inside chunks.
BACKENDS = ("auto", "fused", "chunked", "kernel", "ref")


def _check(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> tuple[int, int]:
    if u.ndim != 3 or delta.shape != u.shape:
        raise InputError(f"u, delta: expected equal (batch, D, L) shapes, got {tuple(u.shape)} and {tuple(delta.shape)}")
    batch, d, length = u.shape
    if A.ndim != 2 or A.shape[0] != d:
        raise InputError(f"A: expected (D={d}, N), got {tuple(A.shape)}")
    n = A.shape[1]
    if B.ndim != 4 or B.shape[0] != batch or B.shape[2] != n or B.shape[3] != length or C.shape != B.shape:
        raise InputError(f"B, C: expected (batch, K, N={n}, L={length}) each, got {tuple(B.shape)} and {tuple(C.shape)}")
    groups = B.shape[1]
    if d % groups:
        raise InputError(f"B: {groups} groups do not divide D={d} channels")
    return groups, n


def _delta(delta: Tensor, delta_bias: Tensor | None, delta_softplus: bool) -> Tensor:
    if delta_bias is not None:
        delta = delta + delta_bias[None, :, None]
    return F.softplus(delta) if delta_softplus else delta


def _full_precision(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Half-precision inputs to float32 (the scan always runs in float32 or float64)."""
    return tuple(t.float() if t.dtype in (torch.float16, torch.bfloat16) else t for t in tensors)


def _per_channel(x: Tensor, d: int) -> Tensor:
    """(batch, K, N, L) grouped B or C -> (batch, D, N, L), each channel seeing its route's."""
    batch, groups, n, length = x.shape
    return x[:, :, None].expand(batch, groups, d // groups, n, length).reshape(batch, d, n, length)


def selective_scan_ref(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                       delta_bias: Tensor | None = None, delta_softplus: bool = True) -> Tensor:
    """The recurrence, one position at a time. Returns y (batch, D, L) in u's dtype."""
    _check(u, delta, A, B, C)
    dtype = u.dtype
    u, delta, A, B, C = _full_precision(u, delta, A, B, C)
    batch, d, length = u.shape
    delta = _delta(delta, delta_bias, delta_softplus)
    Bc, Cc = _per_channel(B, d), _per_channel(C, d)  # (batch, D, N, L)
    h = u.new_zeros(batch, d, A.shape[1])
    ys = []
    for t in range(length):
        dt = delta[:, :, t, None]  # (batch, D, 1)
        h = torch.exp(dt * A) * h + dt * Bc[..., t] * u[:, :, t, None]
        ys.append((h * Cc[..., t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + D[None, :, None] * u
    return y.to(dtype)


def default_chunk(length: int) -> int:
    """T near sqrt(L / 2), which minimises the 2T + L / T tensor operations of the chunked
    scan; a divisor of L within a factor 2 of it when there is one (no padding copies)."""
    target = max(1.0, (length / 2) ** 0.5)
    divisors = [t for t in range(max(1, int(target / 2)), int(2 * target) + 1) if length % t == 0]
    return min(divisors, key=lambda t: abs(math.log(t / target))) if divisors else max(1, round(target))


def selective_scan_chunked(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                           delta_bias: Tensor | None = None, delta_softplus: bool = True, chunk: int | None = None,
                           intra: str = "recurrent") -> Tensor:
    """The same scan, `chunk` positions at a time, the state carried across chunks.

    `intra` is how a chunk is computed:
    - "kernel": the masked decayed kernel of Eq. 5 (module docstring), T x T per channel
      and chunk: matmul-shaped, the form that suits GPUs; O(L T) work.
    - "recurrent" (default): all chunks at once, step by step within them (T steps over
      tensors holding every chunk), then the carries (L / T steps over tiny tensors) and
      one correction h_t += (decays since the chunk start) h_in; in place, in pieces, with
      a hand-written backward pass (`chunked_scan.py`). O(L) work like the reference, but
      2T + L / T tensor operations instead of L; T defaults to sqrt(L / 2).
    Returns y (batch, D, L).
    """
    _check(u, delta, A, B, C)
    length = u.shape[-1]
    if chunk is None:
        chunk = default_chunk(length) if intra == "recurrent" else 64
    if chunk < 1:
        raise InputError(f"chunk: must be >= 1, got {chunk}")
    if intra == "recurrent":
        dtype = u.dtype
        u, delta, A, B, C = _full_precision(u, delta, A, B, C)
        return chunked_scan(u, delta, A, B, C, D, delta_bias, delta_softplus, chunk).to(dtype)
    if intra == "kernel":
        return _chunked_kernel(u, delta, A, B, C, D, delta_bias, delta_softplus, chunk)
    raise InputError(f"intra: unknown {intra!r}; allowed: recurrent, kernel")


def _chunked_kernel(u, delta, A, B, C, D, delta_bias, delta_softplus, chunk) -> Tensor:
    dtype = u.dtype
    u, delta, A, B, C = _full_precision(u, delta, A, B, C)
    batch, d, length = u.shape
    groups, n = B.shape[1], A.shape[1]
    per = d // groups
    delta = _delta(delta, delta_bias, delta_softplus)
    # Work per route: channels (batch, K, D_i, ...) so B and C broadcast over D_i without copies.
    u4, dt4 = u.view(batch, groups, per, length), delta.view(batch, groups, per, length)
    A4 = A.view(groups, per, n)
    h = u.new_zeros(batch, groups, per, n)
    out = []
    for start in range(0, length, chunk):
        stop = min(start + chunk, length)
        T = stop - start
        dt = dt4[..., start:stop]  # (b, K, Di, T)
        Bk, Ck = B[..., start:stop], C[..., start:stop]  # (b, K, N, T)
        x = dt * u4[..., start:stop]  # delta_s u_s: (b, K, Di, T)
        S = torch.cumsum(dt[..., None] * A4[None, :, :, None, :], dim=3)  # (b, K, Di, T, N)
        # intra-chunk: W_ts = sum_n C_tn B_sn exp(S_tn - S_sn), s <= t
        diff = (S[:, :, :, :, None, :] - S[:, :, :, None, :, :]).clamp_max(0.0)  # (b, K, Di, T, T, N)
        decay = torch.exp(diff)
        CB = Ck.transpose(-1, -2)[:, :, :, None, :] * Bk.transpose(-1, -2)[:, :, None, :, :]  # (b, K, T, T, N)
        W = (decay * CB[:, :, None]).sum(-1)  # (b, K, Di, T, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=u.device).tril()
        W = W.masked_fill(~mask, 0.0)
        y = (W @ x[..., None]).squeeze(-1)  # (b, K, Di, T)
        # the state carried in: sum_n C_tn exp(S_tn) h0_n
        y = y + (torch.exp(S) * h[:, :, :, None, :] * Ck.transpose(-1, -2)[:, :, None]).sum(-1)
        # the state carried out: h_T = exp(S_T) h0 + sum_s exp(S_T - S_s) delta_s u_s B_s
        last = S[:, :, :, -1:, :]  # (b, K, Di, 1, N)
        tail = torch.exp((last - S).clamp_max(0.0))  # (b, K, Di, T, N)
        h = torch.exp(last.squeeze(3)) * h + (tail * x[..., None] * Bk.transpose(-1, -2)[:, :, None]).sum(3)
        out.append(y)
    y = torch.cat(out, dim=-1).reshape(batch, d, length)
    if D is not None:
        y = y + D[None, :, None] * u
    return y.to(dtype)


def resolve_backend(backend: str, u: Tensor) -> str:
    """The backend that runs for `backend` on `u`: "auto" is "fused" for CPU tensors where the
    C++ kernel builds (else "chunked", after one warning from the build)."""
    if backend not in BACKENDS:
        raise InputError(f"scan_backend: unknown {backend!r}; allowed: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "fused" if fused_available(u) else "chunked"
    if backend == "fused" and not fused_available(u):
        raise InputError("scan_backend: 'fused' needs CPU tensors and a C++ compiler (the build warned why it "
                         "failed); use 'auto' or 'chunked'")
    return backend


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                   delta_bias: Tensor | None = None, delta_softplus: bool = True, backend: str = "auto",
                   chunk: int | None = None) -> Tensor:
    """Dispatch to a backend: "auto" (the default: "fused" where it runs, else "chunked"),
    "fused" (the compiled kernel), "chunked" (chunks, recurrent inside), "kernel" (chunks,
    Eq. 5's masked kernel inside) or "ref" (step by step)."""
    backend = resolve_backend(backend, u)
    if backend == "ref":
        return selective_scan_ref(u, delta, A, B, C, D, delta_bias, delta_softplus)
    if backend == "fused":
        _check(u, delta, A, B, C)
        return fused_scan(u, delta, A, B, C, D, delta_bias, delta_softplus)
    intra = "recurrent" if backend == "chunked" else "kernel"
    return selective_scan_chunked(u, delta, A, B, C, D, delta_bias, delta_softplus, chunk, intra)
