"""The selective scan: chunked == step-by-step reference (values and gradients, float64),
and cross-scan routes are permutations that cross-merge undoes."""

import pytest
import torch

from paperzoo.core.errors import InputError
from paperzoo.vmamba.cross_scan import cross_merge, cross_scan
from paperzoo.vmamba.scan import selective_scan, selective_scan_chunked, selective_scan_ref


def inputs(batch=2, groups=4, per=3, n=1, length=37, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    d = groups * per
    u = torch.randn(batch, d, length, generator=g, dtype=dtype)
    delta = torch.randn(batch, d, length, generator=g, dtype=dtype) * 0.5 - 1.0
    A = -torch.exp(torch.randn(d, n, generator=g, dtype=dtype) * 0.5)
    B = torch.randn(batch, groups, n, length, generator=g, dtype=dtype)
    C = torch.randn(batch, groups, n, length, generator=g, dtype=dtype)
    D = torch.randn(d, generator=g, dtype=dtype)
    bias = torch.randn(d, generator=g, dtype=dtype) * 0.1
    return u, delta, A, B, C, D, bias


def loop_from_the_equations(u, delta, A, B, C, D, bias):
    """h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t; y_t = C_t·h_t + D u_t, one channel at a time."""
    batch, d, length = u.shape
    groups, n = B.shape[1], A.shape[1]
    y = torch.zeros_like(u)
    for b in range(batch):
        for c in range(d):
            g = c // (d // groups)
            h = torch.zeros(n, dtype=u.dtype)
            for t in range(length):
                dt = torch.nn.functional.softplus(delta[b, c, t] + bias[c])
                h = torch.exp(dt * A[c]) * h + dt * B[b, g, :, t] * u[b, c, t]
                y[b, c, t] = (C[b, g, :, t] * h).sum() + D[c] * u[b, c, t]
    return y


def test_reference_matches_a_loop_written_from_the_equations():
    args = inputs(batch=1, groups=2, per=2, n=3, length=9)
    torch.testing.assert_close(selective_scan_ref(*args[:5], args[5], args[6]), loop_from_the_equations(*args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("intra", ["recurrent", "kernel"])
@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("length,chunk", [(37, 8), (64, 64), (50, 64), (33, 1), (45, None)])
def test_chunked_equals_reference_values_and_gradients(n, length, chunk, intra):
    args = [t.requires_grad_() for t in inputs(n=n, length=length)]
    ref = selective_scan_ref(*args[:5], args[5], args[6])
    fast = selective_scan_chunked(*args[:5], args[5], args[6], chunk=chunk, intra=intra)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    w = torch.randn_like(ref)
    g_ref = torch.autograd.grad((ref * w).sum(), args)
    g_fast = torch.autograd.grad((fast * w).sum(), args)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_float32_and_strong_decay_stay_finite():
    u, delta, A, B, C, D, bias = inputs(n=16, length=130, dtype=torch.float32)
    A = A * 50  # exp(S_t - S_s) spans many orders of magnitude inside one chunk
    ref = selective_scan_ref(u, delta + 2, A, B, C, D, bias)
    for backend in ("chunked", "kernel"):
        fast = selective_scan(u, delta + 2, A, B, C, D, bias, backend=backend, chunk=64)
        assert torch.isfinite(fast).all()
        torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-4)


def test_chunked_without_bias_softplus_or_skip_equals_reference():
    u, delta, A, B, C, _, _ = [t.requires_grad_() for t in inputs(n=2, length=21)]
    ref = selective_scan_ref(u, delta.exp(), A, B, C, None, None, delta_softplus=False)
    fast = selective_scan_chunked(u, delta.exp(), A, B, C, None, None, delta_softplus=False, chunk=4)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    for a, b in zip(torch.autograd.grad(fast.sum(), (u, delta, A, B, C)), torch.autograd.grad(ref.sum(), (u, delta, A, B, C))):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_chunked_gradcheck():
    """The hand-written backward against finite differences, independently of the reference."""
    from paperzoo.vmamba.chunked_scan import chunked_scan

    u, delta, A, B, C, D, bias = [t.requires_grad_() for t in inputs(batch=1, groups=2, per=1, n=2, length=7)]
    assert torch.autograd.gradcheck(lambda *a: chunked_scan(*a, True, 3), (u, delta, A, B, C, D, bias))


def test_scan_errors():
    u, delta, A, B, C, D, bias = inputs()
    with pytest.raises(InputError, match="scan_backend: unknown 'cuda'"):
        selective_scan(u, delta, A, B, C, D, bias, backend="cuda")
    with pytest.raises(InputError, match="A: expected"):
        selective_scan_ref(u, delta, A[:3], B, C)
    with pytest.raises(InputError, match="groups do not divide"):
        selective_scan_ref(u, delta, A, torch.zeros(2, 5, 1, 37, dtype=u.dtype), torch.zeros(2, 5, 1, 37, dtype=u.dtype))


@pytest.mark.parametrize("scan,k", [("cross", 4), ("unidi", 1), ("bidi", 2)])
def test_routes_are_permutations_and_merge_undoes_them(scan, k):
    h, w = 3, 5
    x = torch.arange(2 * 2 * h * w, dtype=torch.float64).view(2, 2, h, w)
    seqs = cross_scan(x, scan)
    assert seqs.shape == (2, k, 2, h * w)
    for r in range(k):  # every route holds every position exactly once
        assert torch.equal(seqs[:, r].sort(-1).values, x.flatten(2).sort(-1).values)
    torch.testing.assert_close(cross_merge(seqs, h, w, scan).view_as(x), k * x)
    if scan == "cross":
        assert seqs[0, 1, 0, :4].tolist() == [x[0, 0, 0, 0], x[0, 0, 1, 0], x[0, 0, 2, 0], x[0, 0, 0, 1]]  # column-major
        assert torch.equal(seqs[:, 2], seqs[:, 0].flip(-1)) and torch.equal(seqs[:, 3], seqs[:, 1].flip(-1))


@pytest.mark.parametrize("piece", [1, 2 * 3 * 37, 10**9])
def test_chunked_in_cache_sized_pieces_equals_reference(monkeypatch, piece):
    """Splitting the work over batch rows and routes (chunked_scan.PIECE) changes nothing."""
    import paperzoo.vmamba.chunked_scan as chunked_scan

    monkeypatch.setattr(chunked_scan, "PIECE", piece)
    args = [t.requires_grad_() for t in inputs(batch=3, n=2, length=37)]
    ref = selective_scan_ref(*args[:5], args[5], args[6])
    fast = selective_scan_chunked(*args[:5], args[5], args[6])
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    g_ref = torch.autograd.grad(ref.sum(), args)
    for a, b in zip(torch.autograd.grad(fast.sum(), args), g_ref):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)
