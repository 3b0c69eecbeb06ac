"""core.native: a source is compiled once into the cache and opened with ctypes; a source that
does not compile is one warning and None. (The fused scan's fallback:
tests/vmamba/test_fused_scan.py.)"""

import ctypes
import warnings

import pytest

from paperzoo.core import native

needs_compiler = pytest.mark.skipif(native.compiler() is None, reason="no C++ compiler")


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path / "cache"))
    native._build.cache_clear()
    yield tmp_path
    native._build.cache_clear()


@needs_compiler
def test_builds_once_and_calls_through_ctypes(fresh, capsys):
    source = fresh / "add.cpp"
    source.write_text('extern "C" double add(double a, double b) { return a + b; }\n')
    lib = native.load("add", source, "the adder")
    lib.add.restype, lib.add.argtypes = ctypes.c_double, [ctypes.c_double, ctypes.c_double]
    assert lib.add(2.0, 0.5) == 2.5
    assert "compiling the adder once" in capsys.readouterr().err
    built = list((fresh / "cache" / "native").glob("add-*/add.so"))
    assert len(built) == 1 and not list(built[0].parent.glob("*.o"))  # no temporaries left behind
    native._build.cache_clear()
    assert native.load("add", source, "the adder") is not None
    assert "compiling" not in capsys.readouterr().err  # served from the cache


@needs_compiler
def test_a_source_that_does_not_compile_warns_once_and_gives_none(fresh):
    source = fresh / "broken.cpp"
    source.write_text("this is not C++\n")
    with pytest.warns(RuntimeWarning, match="the broken path could not be built .*failed"):
        assert native.load("broken", source, "the broken path") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.load("broken", source, "the broken path") is None  # once per process
    assert not list((fresh / "cache" / "native").glob("broken-*/*.so"))  # nothing half-written


def test_the_switch_turns_compiled_paths_off(fresh, monkeypatch):
    monkeypatch.setenv(native.DISABLE_VAR, "1")
    assert native.load("anything", fresh / "missing.cpp", "anything") is None
