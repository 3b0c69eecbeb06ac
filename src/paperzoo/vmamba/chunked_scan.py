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

Layout: the (b, K, D_i, L, N) buffers are stored step-major within each channel, as
(b, K, D_i, T, chunks, N) with position l = c T + t, so that one step of all chunks is a
contiguous run of memory (in position order a step would touch one cache line per
element). The transposes happen inside the element-wise products that build the buffers,
on one channel (L values) at a time, so they cost no extra pass.
Equal to `selective_scan_ref` in float64, values and gradients (tests/vmamba/test_scan.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

PIECE = 1 << 22  # elements of (batch, D, L, N) per piece: 16 MB of float32 per buffer; best of 2^19-2^22 here


def _linear_scan_(d: Tensor, x: Tensor, reverse: bool = False) -> Tensor:
    """In place on step-major buffers (..., T, chunks, N), position l = c T + t:
    x_l <- d_l x_prev + x_l with prev = l - 1 (l + 1 if `reverse`) and a zero state before
    the first position. `d` is overwritten with running products of the decays. Returns x."""
    steps, chunks = x.shape[-3], x.shape[-2]
    order = list(range(steps))[::-1] if reverse else list(range(steps))
    x_steps, d_steps = x.unbind(-3), d.unbind(-3)
    # 1. every chunk from a zero state; d becomes the product of the decays so far
    for prev, t in zip(order, order[1:]):
        torch.addcmul(x_steps[t], d_steps[t], x_steps[prev], out=x_steps[t])
        d_steps[t].mul_(d_steps[prev])
    if chunks == 1:
        return x
    # 2. the state entering each chunk: entering_{c+1} = end_c + total_c * entering_c
    ends, totals = x_steps[order[-1]], d_steps[order[-1]]  # (..., chunks, N)
    entering = torch.zeros_like(ends)
    e_steps, end_steps, total_steps = entering.unbind(-2), ends.unbind(-2), totals.unbind(-2)
    c_order = list(range(chunks))[::-1] if reverse else list(range(chunks))
    for prev, c in zip(c_order, c_order[1:]):
        torch.addcmul(end_steps[prev], total_steps[prev], e_steps[prev], out=e_steps[c])
    # 3. h_l = local_l + (decays from the chunk's start to l) * entering
    x.addcmul_(d, entering.unsqueeze(-3))
    return x


def _sum_n(x: Tensor) -> Tensor:
    """Sum over the state dim (last); a view when N = 1 (a reduction over a size-1 dim still copies)."""
    return x.squeeze(-1) if x.shape[-1] == 1 else x.sum(-1)


def _steps(t: Tensor, groups: int, chunk: int) -> Tensor:
    """(b, D, L) per-channel values -> a step-major view (b, K, D_i, T, chunks, 1)."""
    b, d, length = t.shape
    return t.view(b, groups, d // groups, length // chunk, chunk, 1).transpose(3, 4)


def _steps_bc(t: Tensor, chunk: int) -> Tensor:
    """(b, K, N, L) grouped B or C -> a step-major view (b, K, 1, T, chunks, N)."""
    b, groups, n, length = t.shape
    return t.view(b, groups, n, length // chunk, chunk).permute(0, 1, 4, 3, 2).unsqueeze(2)


def _from_steps(t: Tensor) -> Tensor:
    """(..., T, chunks) step-major -> (..., L) in position order (a copy)."""
    return t.transpose(-1, -2).flatten(-2)


def _expand(u: Tensor, dt: Tensor, A: Tensor, B: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """exp(dt A) and dt u B as step-major (b, K, D_i, T, chunks, N) buffers."""
    b, d, length = u.shape
    groups, n = B.shape[1], A.shape[1]
    per = d // groups
    shape = (b, groups, per, chunk, length // chunk, n)
    a = torch.empty(shape, dtype=u.dtype, device=u.device)
    torch.mul(_steps(dt, groups, chunk), A.view(groups, per, 1, 1, n), out=a).exp_()
    x = torch.empty(shape, dtype=u.dtype, device=u.device)
    torch.mul(_steps(dt * u, groups, chunk), _steps_bc(B, chunk), out=x)
    return a, x


def _pad(t: Tensor, pad: int) -> Tensor:
    return F.pad(t, (0, pad)) if pad else t


def _dt(delta: Tensor, bias: Tensor | None, softplus: bool) -> tuple[Tensor, Tensor]:
    """(z, dt): z = delta + bias, dt = softplus(z) (or z)."""
    z = delta if bias is None else delta + bias[:, None]
    return z, (F.softplus(z) if softplus else z)


def _forward_piece(u, delta, bias, softplus, A, B, C, D, chunk, out):
    """Writes y (with the D term) for one piece into `out` (a view of the output)."""
    b, d, length = u.shape
    groups, n = B.shape[1], A.shape[1]
    _, dt = _dt(delta, bias, softplus)
    pad = -length % chunk
    u, dt, B, C = _pad(u, pad), _pad(dt, pad), _pad(B, pad), _pad(C, pad)  # padding: dt = 0, decay 1, input 0
    a, x = _expand(u, dt, A, B, chunk)
    h = _linear_scan_(a, x)
    if pad:
        y = _sum_n(h.mul_(_steps_bc(C, chunk)))
        out.copy_(_from_steps(y).reshape(b, d, length + pad)[..., :length])
    elif n == 1:
        torch.mul(h, _steps_bc(C, chunk), out=_steps(out, groups, chunk))
    else:
        torch.sum(h.mul_(_steps_bc(C, chunk)), -1, out=_steps(out, groups, chunk).squeeze(-1))
    if D is not None:
        out.addcmul_(u[..., :length], D[:, None])


def _backward_piece(u, delta, bias, softplus, A, B, C, D, gy, chunk, du_out, dz_out):
    """Gradients for one piece: writes du and dz (= dL/d(delta)) into the given views and
    returns (dA, dB, dC, dD, dbias) of the piece."""
    b, d, length = u.shape
    groups, n = B.shape[1], A.shape[1]
    per = d // groups
    z, dt = _dt(delta, bias, softplus)
    pad = -length % chunk
    u, dt, B, C, gy = _pad(u, pad), _pad(dt, pad), _pad(B, pad), _pad(C, pad), _pad(gy, pad)
    L = length + pad
    a, h = _expand(u, dt, A, B, chunk)
    _linear_scan_(a.clone(), h)  # the states h_l
    gy6 = _steps(gy, groups, chunk)  # (b, K, D_i, T, chunks, 1)
    dC = _from_steps((h * gy6).sum(2).movedim(-1, 2))  # (b, K, N, L)
    # adjoint: g_l = C_l gy_l + a_{l+1} g_{l+1}; the decay at l is a_{l+1} (none past the end)
    g = torch.empty_like(h)
    torch.mul(_steps_bc(C, chunk), gy6, out=g)
    shifted = torch.empty_like(a)
    shifted[..., :-1, :, :] = a[..., 1:, :, :]  # next step, same chunk
    shifted[..., -1, :-1, :] = a[..., 0, 1:, :]  # last step: the next chunk's first
    shifted[..., -1, -1, :] = 1.0
    _linear_scan_(shifted, g, reverse=True)
    # q_l = g_l a_l h_{l-1} (dL/d(log a_l)), zero at l = 0
    q = torch.mul(g, a)
    q[..., 1:, :, :].mul_(h[..., :-1, :, :])
    q[..., 0, 1:, :].mul_(h[..., -1, :-1, :])
    q[..., 0, 0, :] = 0.0
    dt6 = _steps(dt, groups, chunk)
    dB = _from_steps((g * _steps(dt * u, groups, chunk)).sum(2).movedim(-1, 2))  # (b, K, N, L)
    g_dtu = _from_steps(_sum_n(g.mul_(_steps_bc(B, chunk)))).reshape(b, d, L)  # dL/d(dt u)
    dA = (q * dt6).sum((0, 3, 4)).reshape(d, n)
    ddt = _from_steps(_sum_n(q.mul_(A.view(groups, per, 1, 1, n)))).reshape(b, d, L).addcmul_(g_dtu, u)
    cut = lambda t: t[..., :length]  # noqa: E731
    torch.mul(cut(g_dtu), cut(dt), out=du_out)
    dD = None
    if D is not None:
        du_out.addcmul_(cut(gy), D[:, None])
        dD = (cut(gy) * cut(u)).sum((0, 2))
    if softplus:
        torch.mul(cut(ddt), torch.sigmoid(z), out=dz_out)
    else:
        dz_out.copy_(cut(ddt))
    dbias = None if bias is None else dz_out.sum((0, 2))
    return dA, cut(dB), cut(dC), dD, dbias


def _pieces(batch: int, groups: int, per: int, length: int, n: int):
    """(batch slice, group slice) pairs covering the input, each about PIECE elements."""
    per_group = per * length * n
    g_step = max(1, min(groups, PIECE // max(per_group, 1)))
    b_step = max(1, PIECE // (per_group * g_step)) if g_step == groups else 1
    for b0 in range(0, batch, b_step):
        for g0 in range(0, groups, g_step):
            yield slice(b0, b0 + b_step), slice(g0, min(g0 + g_step, groups))


class ChunkedScan(torch.autograd.Function):
    """The selective scan with the hand-written backward of the module docstring. Every
    large intermediate lives inside a piece (fresh allocations of the full size would cost
    page faults comparable to the arithmetic); only the outputs are full-size."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, delta_bias, delta_softplus: bool, chunk: int):
        batch, d, length = u.shape
        groups, n = B.shape[1], A.shape[1]
        per = d // groups
        y = torch.empty_like(u)
        for bs, gs in _pieces(batch, groups, per, length, n):
            ch = slice(gs.start * per, gs.stop * per)
            _forward_piece(u[bs, ch], delta[bs, ch], None if delta_bias is None else delta_bias[ch], delta_softplus,
                           A[ch], B[bs, gs], C[bs, gs], None if D is None else D[ch], chunk, y[bs, ch])
        ctx.save_for_backward(u, delta, A, B, C, D, delta_bias)
        ctx.delta_softplus, ctx.chunk = delta_softplus, chunk
        return y

    @staticmethod
    @once_differentiable  # the backward is written by hand; a second derivative would need its own
    def backward(ctx, gy):
        u, delta, A, B, C, D, delta_bias = ctx.saved_tensors
        gy = gy.contiguous()
        batch, d, length = u.shape
        groups, n = B.shape[1], A.shape[1]
        per = d // groups
        du, dz = torch.empty_like(u), torch.empty_like(u)
        dA, dB, dC = torch.zeros_like(A), torch.empty_like(B), torch.empty_like(C)
        dD = None if D is None else torch.zeros_like(D)
        dbias = None if delta_bias is None else torch.zeros_like(delta_bias)
        for bs, gs in _pieces(batch, groups, per, length, n):
            ch = slice(gs.start * per, gs.stop * per)
            pA, pB, pC, pD, pbias = _backward_piece(
                u[bs, ch], delta[bs, ch], None if delta_bias is None else delta_bias[ch], ctx.delta_softplus, A[ch],
                B[bs, gs], C[bs, gs], None if D is None else D[ch], gy[bs, ch], ctx.chunk, du[bs, ch], dz[bs, ch])
            dA[ch] += pA
            dB[bs, gs], dC[bs, gs] = pB, pC
            if dD is not None:
                dD[ch] += pD
            if dbias is not None:
                dbias[ch] += pbias
        return du, dz, dA, dB, dC, dD, dbias, None, None


def chunked_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None, delta_bias: Tensor | None,
                 delta_softplus: bool, chunk: int) -> Tensor:
    """y (batch, D, L) for full-precision, shape-checked inputs (see `scan.selective_scan_chunked`)."""
    return ChunkedScan.apply(u.contiguous(), delta.contiguous(), A.contiguous(), B.contiguous(), C.contiguous(), D,
                             delta_bias, delta_softplus, chunk)
