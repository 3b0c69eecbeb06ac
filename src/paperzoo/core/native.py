"""Compiled CPU fast paths: a C++ source built once with torch's `cpp_extension` into the
cache, or None where it cannot be built, so the caller falls back to its pure-PyTorch path.

Every machine of this project has gcc and the Python headers, but a user's may not: a failed
build gives one warning naming the fast path and the reason, never an error.
`PAPERZOO_NO_NATIVE=1` turns every compiled path off (the fallbacks are then used and tested).
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path

import torch

from paperzoo.core.cache import cache_dir

DISABLE_VAR = "PAPERZOO_NO_NATIVE"
# OpenMP: at::parallel_for spreads the tasks over torch's threads. -ffast-math and -march=native
# let gcc call glibc's vectorised exp / log1p (libmvec) on this CPU's widest vectors: 2-3x faster
# than scalar calls here. The build folder is keyed by the CPU's flags, so a cache shared with
# another CPU builds again rather than running instructions that CPU lacks.
CFLAGS = ("-O3", "-fopenmp", "-ffast-math", "-march=native")
LDFLAGS = ("-fopenmp",)


def _cpu_tag() -> str:
    """The machine and its CPU's feature flags (Linux), as the text a build depends on."""
    flags = ""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def load(name: str, source: Path, functions: tuple[str, ...], purpose: str):
    """The built module exposing `functions` from `source`, or None (with one warning per process).

    Built in `<cache>/native/torch-<version>/<name>-<hash of the source, flags and CPU>`, so a changed
    source, another torch or another CPU gets its own build, and concurrent first uses wait on torch's build lock.
    """
    if os.environ.get(DISABLE_VAR):
        return None
    return _build(name, Path(source), tuple(functions), purpose)


def _ninja_on_path() -> None:
    """torch builds with the `ninja` on PATH; where there is none, use the `ninja` wheel's."""
    if shutil.which("ninja") is None:
        try:
            import ninja
        except ImportError:
            return
        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")


@functools.cache
def _build(name: str, source: Path, functions: tuple[str, ...], purpose: str):
    try:
        from torch.utils.cpp_extension import load_inline

        _ninja_on_path()
        text = Path(source).read_text()
        tag = hashlib.sha256("\n".join([text, *CFLAGS, _cpu_tag()]).encode()).hexdigest()[:12]
        folder = cache_dir("native", f"torch-{torch.__version__}", f"{name}-{tag}")
        if not any(folder.glob("*.so")):
            print(f"compiling {purpose} once (about a minute), cached in {folder}", file=sys.stderr, flush=True)
        return load_inline(name=f"{name}_{tag}", cpp_sources=[text], functions=list(functions),
                           extra_cflags=list(CFLAGS), extra_ldflags=list(LDFLAGS), build_directory=str(folder),
                           verbose=False)
    except Exception as error:  # no compiler, no ninja, a build error: the caller's fallback runs
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        warnings.warn(f"{purpose} could not be built ({type(error).__name__}: {reason}); using the pure-PyTorch "
                      f"fallback", RuntimeWarning, stacklevel=2)
        return None
