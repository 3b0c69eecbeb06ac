"""Compiled CPU fast paths: a C++ source with a C interface, built once into the cache as a
shared library and opened with ctypes; or None where it cannot be built, so the caller falls
back to its pure-PyTorch path.

The sources include no torch headers, so a build takes about a second (torch's
`cpp_extension` spends about a minute on its headers). Every machine of this project has a C++
compiler, but a user's may not: a failed build gives one warning naming the fast path and the
reason, never an error. `PAPERZOO_NO_NATIVE=1` turns every compiled path off.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from paperzoo.core.cache import cache_dir

DISABLE_VAR = "PAPERZOO_NO_NATIVE"
# -ffast-math and -march=native let gcc call glibc's vectorised exp / log1p (libmvec) on this
# CPU's widest vectors: 2-3x faster than scalar calls here. -ffast-math is passed when compiling
# only: gcc links crtfastmath (flush-to-zero for the whole process) when it sees it at link time
# with -shared on some versions, so the link is a separate step without it. The build folder is
# keyed by the CPU's flags, so a cache shared with another CPU builds again rather than running
# instructions that CPU lacks.
CFLAGS = ("-O3", "-std=c++17", "-fPIC", "-ffast-math", "-march=native")
LDFLAGS = ("-shared", "-pthread")


def compiler() -> str | None:
    """`$CXX`, else the first of g++, c++, clang++ on PATH."""
    return os.environ.get("CXX") or next((c for c in ("g++", "c++", "clang++") if shutil.which(c)), None)


def _cpu_tag() -> str:
    """The machine and its CPU's feature flags (Linux), as the text a build depends on."""
    flags = ""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def load(name: str, source: Path, purpose: str) -> ctypes.CDLL | None:
    """The shared library built from `source`, or None (with one warning per process).

    Built in `<cache>/native/<name>-<hash of the source, compiler, flags and CPU>/`, written
    under a temporary name and renamed, so an interrupted or concurrent build never leaves a
    half-written library behind.
    """
    if os.environ.get(DISABLE_VAR):
        return None
    return _build(name, Path(source), purpose)


@functools.cache
def _build(name: str, source: Path, purpose: str) -> ctypes.CDLL | None:
    try:
        cxx = compiler()
        if cxx is None:
            raise RuntimeError("no C++ compiler found (set $CXX or install g++)")
        text = source.read_text()
        tag = hashlib.sha256("\n".join([text, cxx, *CFLAGS, *LDFLAGS, _cpu_tag()]).encode()).hexdigest()[:12]
        folder = cache_dir("native", f"{name}-{tag}")
        library = folder / f"{name}.so"
        if not library.exists():
            print(f"compiling {purpose} once (a few seconds), cached in {folder}", file=sys.stderr, flush=True)
            obj, tmp = folder / f"{name}.{os.getpid()}.o", folder / f"{name}.{os.getpid()}.so"
            try:
                for command in ([cxx, *CFLAGS, "-c", str(source), "-o", str(obj)], [cxx, *LDFLAGS, str(obj), "-o", str(tmp)]):
                    done = subprocess.run(command, capture_output=True, text=True)
                    if done.returncode:
                        raise RuntimeError(f"`{' '.join(command[:2])} ...` failed: {done.stderr.strip()[:500]}")
                os.replace(tmp, library)
            finally:
                obj.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
        return ctypes.CDLL(str(library))
    except Exception as error:  # no compiler, a build error, an unloadable library: the caller's fallback runs
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        warnings.warn(f"{purpose} could not be built ({type(error).__name__}: {reason}); using the pure-PyTorch "
                      f"fallback", RuntimeWarning, stacklevel=2)
        return None
