"""The fused C++ selective scan (fused_scan.cpp): equal to the step-by-step reference in
float64 (values and gradients), close in float32 / bfloat16, gradcheck, the chunked fallback
when no compiler works, and a process whose floating-point mode the build leaves alone."""

import sys
import warnings
from pathlib import Path

import pytest
import torch

from paperzoo.core import native
from paperzoo.core.errors import InputError
from paperzoo.vmamba import fused_scan
from paperzoo.vmamba.scan import resolve_backend, selective_scan, selective_scan_chunked, selective_scan_ref

sys.path.insert(0, str(Path(__file__).parent))
from test_scan import inputs  # noqa: E402

needs_kernel = pytest.mark.skipif(fused_scan.extension() is None, reason="no C++ compiler: the fallback is tested below")


@needs_kernel
@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("length", [1, 37, 130])  # 130: two full blocks of 64 and a partial one
@pytest.mark.parametrize("skip,bias,softplus", [(True, True, True), (False, False, False)])
def test_fused_equals_reference_values_and_gradients(n, length, skip, bias, softplus):
    u, delta, A, B, C, D, b = [t.requires_grad_() for t in inputs(n=n, length=length)]
    args = (u, delta, A, B, C, D if skip else None, b if bias else None, softplus)
    ref = selective_scan_ref(*args)
    fast = selective_scan(*args, backend="fused")
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    leaves = [u, delta, A, B, C] + [t for t in args[5:7] if t is not None]
    w = torch.randn_like(ref)
    for g_fast, g_ref in zip(torch.autograd.grad((fast * w).sum(), leaves), torch.autograd.grad((ref * w).sum(), leaves)):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-8, atol=1e-10)


@needs_kernel
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
def test_fused_in_lower_precision_tracks_the_float64_reference(dtype, tol):
    args64 = inputs(n=4, length=130)
    ref = selective_scan_ref(*args64)
    low = [t.to(dtype) for t in args64]
    out = selective_scan(*low, backend="fused")
    assert out.dtype == dtype  # returned in u's dtype; computed in float32
    scale = ref.abs().max()
    assert ((out.double() - ref).abs().max() / scale) < tol
    grads = torch.autograd.grad(selective_scan(*[t.requires_grad_() for t in low], backend="fused").float().sum(), low)
    assert all(g.dtype == dtype and torch.isfinite(g.float()).all() for g in grads)


@needs_kernel
def test_fused_gradcheck():
    args = [t.requires_grad_() for t in inputs(batch=1, groups=2, per=2, n=2, length=9)]
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a, backend="fused"), args)


@needs_kernel
def test_auto_picks_the_fused_kernel_on_cpu():
    assert resolve_backend("auto", torch.zeros(1)) == "fused"


@needs_kernel
def test_loading_the_kernel_keeps_denormals():
    """-ffast-math is a compile flag only: linked into the library it would switch the whole
    process to flush-to-zero (crtfastmath)."""
    fused_scan.extension()
    tiny = torch.tensor([1e-40], dtype=torch.float32)
    assert (tiny * 1.0).item() > 0


def test_a_failed_build_warns_once_and_falls_back_to_chunked(monkeypatch):
    monkeypatch.setattr(native, "compiler", lambda: None)
    native._build.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="fused CPU selective scan could not be built .*no C\\+\\+ compiler"):
            assert fused_scan.extension() is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # one warning per process, not one per call
            assert fused_scan.extension() is None
            args = inputs(n=2, length=20)
            assert resolve_backend("auto", args[0]) == "chunked"
            torch.testing.assert_close(selective_scan(*args), selective_scan_chunked(*args), rtol=0, atol=0)
        with pytest.raises(InputError, match="'fused' needs CPU tensors and a C\\+\\+ compiler"):
            selective_scan(*args, backend="fused")
    finally:
        native._build.cache_clear()


def test_the_switch_turns_compiled_paths_off(monkeypatch):
    monkeypatch.setenv(native.DISABLE_VAR, "1")
    assert fused_scan.extension() is None
    assert resolve_backend("auto", torch.zeros(1)) == "chunked"
