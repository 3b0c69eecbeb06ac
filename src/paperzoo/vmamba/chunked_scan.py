"""The chunked selective scan for CPUs: the S6 recurrence of `scan.py` with a hand-written
backward pass, in place and in cache-sized pieces.

Forward (per route, channel and state n; dt = softplus(delta + bias)):

    a_t = exp(dt_t A)        x_t = dt_t u_t B_t        h_t = a_t h_{t-1} + x_t
    y_t = sum_n C_t h_t + D u_t

Backward, with g_t the adjoint of h_t (a reverse scan of the same kind):

    g_t = C_t gy_t + a_{t+1} g_{t+1}
    dL/dx_t = g_t              dL/da_t = g_t h_{t-1}
    dL/du_t = sum_n g_t dt_t B_t + D gy_t        dL/dB_t = sum_channels g_t dt_t u_t
    dL/ddt_t = sum_n g_t (u_t B_t + A a_t h_{t-1})       dL/dA = sum_{b,t} g_t a_t h_{t-1} dt_t
    dL/dC_t = sum_channels gy_t h_t                        dL/dD = sum_{b,t} gy_t u_t

`_linear_scan_` computes h_t = d_t h_prev + x_t in place: the positions are cut into
chunks of T; all chunks advance together for T steps (each step one fused multiply-add over
every chunk, plus one running product of the decays), then the state entering each chunk
is carried across chunks (L / T small steps), then one pass adds (product of decays) x
(entering state). That is O(L) work in 2T + L/T tensor operations instead of L, with no
intermediate that autograd would keep: the backward pass recomputes the states (as
Mamba's kernels do), so training memory is a few (b, D, L, N) buffers, not one per step.
Equal to `selective_scan_ref` in float64, values and gradients (tests/vmamba/test_scan.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PIECE = 1 << 21  # elements of (batch, D, L, N) per piece: about 8 MB of float32 per buffer, a few buffers in L3


def _linear_scan_(d: Tensor, x: Tensor, chunk: int, reverse: bool = False) -> Tensor:
    """In place along dim -2 of (..., L, N), L a multiple of `chunk`: x_t <- d_t x_prev + x_t
    with prev = t - 1 (t + 1 if `reverse`) and a zero state before the first position.
    `d` is overwritten with running products of the decays. Returns x (the states)."""
    *lead, length, n = x.shape
    chunks = length // chunk
    xs, ds = x.view(*lead, chunks, chunk, n), d.view(*lead, chunks, chunk, n)
    order = list(range(chunk))[::-1] if reverse else list(range(chunk))
    x_steps, d_steps = xs.unbind(-2), ds.unbind(-2)
    # 1. every chunk from a zero state; d becomes the product of the decays so far
    for prev, t in zip(order, order[1:]):
        torch.addcmul(x_steps[t], d_steps[t], x_steps[prev], out=x_steps[t])
        torch.mul(d_steps[t], d_steps[prev], out=d_steps[t])
    if chunks == 1:
        return x
    # 2. the state entering each chunk: entering_{c+1} = end_c + total_c * entering_c
    ends, totals = x_steps[order[-1]], d_steps[order[-1]]  # (..., chunks, N)
    entering = torch.zeros_like(ends)
    e_steps, end_steps, total_steps = entering.unbind(-2), ends.unbind(-2), totals.unbind(-2)
    c_order = list(range(chunks))[::-1] if reverse else list(range(chunks))
    for prev, c in zip(c_order, c_order[1:]):
        torch.addcmul(end_steps[prev], total_steps[prev], e_steps[prev], out=e_steps[c])
    # 3. h_t = local_t + (decays from the chunk's start to t) * entering
    xs.addcmul_(ds, entering.unsqueeze(-2))
    return x


def _sum_n(x: Tensor) -> Tensor:
    """Sum over the state dim (last); a view when N = 1 (a reduction over a size-1 dim still copies)."""
    return x.squeeze(-1) if x.shape[-1] == 1 else x.sum(-1)


def _expand(u: Tensor, dt: Tensor, A: Tensor, B: Tensor, groups: int) -> tuple[Tensor, Tensor]:
    """exp(dt A) and dt u B as (b, K, D_i, L, N) buffers."""
    b, d, length = u.shape
    per, n = d // groups, A.shape[1]
    a = torch.exp(dt.view(b, groups, per, length, 1) * A.view(groups, per, 1, n))
    x = (dt * u).view(b, groups, per, length, 1) * B.transpose(2, 3).unsqueeze(2)
    return a, x


def _pad(t: Tensor, pad: int) -> Tensor:
    return F.pad(t, (0, pad)) if pad else t


def _forward_piece(u, dt, A, B, C, chunk):
    """y without the D term, for one piece (all positions)."""
    b, d, length = u.shape
    groups = B.shape[1]
    pad = -length % chunk
    u, dt, B, C = _pad(u, pad), _pad(dt, pad), _pad(B, pad), _pad(C, pad)  # dt = 0: decay 1, input 0
    a, x = _expand(u, dt, A, B, groups)
    h = _linear_scan_(a, x, chunk)
    y = _sum_n(h.mul_(C.transpose(2, 3).unsqueeze(2)))  # (b, K, D_i, L)
    return y.reshape(b, d, length + pad)[..., :length]


def _backward_piece(u, dt, A, B, C, gy, chunk):
    """Gradients for one piece: (du, ddt, dA, dB, dC), without the D terms."""
    b, d, length = u.shape
    groups, n = B.shape[1], A.shape[1]
    per = d // groups
    pad = -length % chunk
    u, dt, B, C, gy = _pad(u, pad), _pad(dt, pad), _pad(B, pad), _pad(C, pad), _pad(gy, pad)
    L = length + pad
    Bt, Ct = B.transpose(2, 3).unsqueeze(2), C.transpose(2, 3).unsqueeze(2)  # (b, K, 1, L, N)
    a, h = _expand(u, dt, A, B, groups)
    _linear_scan_(a.clone(), h, chunk)  # the states h_t
    gy5 = gy.view(b, groups, per, L, 1)
    dC = (h * gy5).sum(2).transpose(2, 3)  # (b, K, N, L)
    # adjoint: g_t = C_t gy_t + a_{t+1} g_{t+1}; the decay at t is a_{t+1} (none past the end)
    g = Ct * gy5
    shifted = torch.ones_like(a)
    shifted[..., :-1, :] = a[..., 1:, :]
    _linear_scan_(shifted, g, chunk, reverse=True)
    # q_t = g_t a_t h_{t-1} (dL/d(log a_t)), zero at t = 0
    q = torch.zeros_like(g)
    torch.mul(g[..., 1:, :], a[..., 1:, :], out=q[..., 1:, :]).mul_(h[..., :-1, :])
    dtu = (dt * u).view(b, groups, per, L, 1)
    dB = (g * dtu).sum(2).transpose(2, 3)  # (b, K, N, L)
    gB = g * Bt  # dL/d(dt u)
    du = _sum_n(gB).reshape(b, d, L) * dt
    ddt = _sum_n(gB).reshape(b, d, L) * u + _sum_n(q * A.view(groups, per, 1, n)).reshape(b, d, L)
    dA = (q * dt.view(b, groups, per, L, 1)).sum((0, 3)).reshape(d, n)
    cut = lambda t: t[..., :length]  # noqa: E731
    return cut(du), cut(ddt), dA, cut(dB), cut(dC)


def _pieces(batch: int, groups: int, per: int, length: int, n: int):
    """(batch slice, group slice) pairs covering the input, each about PIECE elements."""
    per_group = per * length * n
    g_step = max(1, min(groups, PIECE // max(per_group, 1)))
    b_step = max(1, PIECE // (per_group * g_step)) if g_step == groups else 1
    for b0 in range(0, batch, b_step):
        for g0 in range(0, groups, g_step):
            yield slice(b0, b0 + b_step), slice(g0, min(g0 + g_step, groups))


class ChunkedScan(torch.autograd.Function):
    """The selective scan with the hand-written backward of the module docstring."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, delta_bias, delta_softplus: bool, chunk: int):
        z = delta if delta_bias is None else delta + delta_bias[None, :, None]
        dt = F.softplus(z) if delta_softplus else z
        batch, d, length = u.shape
        groups, n = B.shape[1], A.shape[1]
        per = d // groups
        y = torch.empty_like(u)
        for bs, gs in _pieces(batch, groups, per, length, n):
            ch = slice(gs.start * per, gs.stop * per)
            y[bs, ch] = _forward_piece(u[bs, ch], dt[bs, ch], A[ch], B[bs, gs], C[bs, gs], chunk)
        if D is not None:
            y.addcmul_(u, D[None, :, None])
        ctx.save_for_backward(u, delta, A, B, C, D, delta_bias)
        ctx.delta_softplus, ctx.chunk = delta_softplus, chunk
        return y

    @staticmethod
    def backward(ctx, gy):
        u, delta, A, B, C, D, delta_bias = ctx.saved_tensors
        z = delta if delta_bias is None else delta + delta_bias[None, :, None]
        dt = F.softplus(z) if ctx.delta_softplus else z
        gy = gy.contiguous()
        batch, d, length = u.shape
        groups, n = B.shape[1], A.shape[1]
        per = d // groups
        du, ddt = torch.empty_like(u), torch.empty_like(u)
        dA, dB, dC = torch.zeros_like(A), torch.empty_like(B), torch.empty_like(C)
        for bs, gs in _pieces(batch, groups, per, length, n):
            ch = slice(gs.start * per, gs.stop * per)
            pu, pdt, pA, pB, pC = _backward_piece(u[bs, ch], dt[bs, ch], A[ch], B[bs, gs], C[bs, gs], gy[bs, ch], ctx.chunk)
            du[bs, ch], ddt[bs, ch], dB[bs, gs], dC[bs, gs] = pu, pdt, pB, pC
            dA[ch] += pA
        dD = None
        if D is not None:
            du.addcmul_(gy, D[None, :, None])
            dD = (gy * u).sum((0, 2))
        dz = ddt * torch.sigmoid(z) if ctx.delta_softplus else ddt
        dbias = None if delta_bias is None else dz.sum((0, 2))
        return du, dz, dA, dB, dC, dD, dbias, None, None


def chunked_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None, delta_bias: Tensor | None,
                 delta_softplus: bool, chunk: int) -> Tensor:
    """y (batch, D, L) for full-precision, shape-checked inputs (see `scan.selective_scan_chunked`)."""
    return ChunkedScan.apply(u.contiguous(), delta.contiguous(), A.contiguous(), B.contiguous(), C.contiguous(), D,
                             delta_bias, delta_softplus, chunk)
