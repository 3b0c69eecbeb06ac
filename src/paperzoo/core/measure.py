"""Small measuring helpers for `benchmarks/`: best-of-n wall time and peak resident memory.

Benchmarks time two things side by side in one run and print ratios; tests never assert
wall-clock times.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import resource
import threading
import time
from typing import Callable


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def rss_mib() -> float:
    """This process's resident set size in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _high_water_mib() -> float:
    """The kernel's high-water mark of this process's resident set (VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def _reset_high_water() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0: "5" to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_worker(setup: Callable, run: Callable, args: tuple, queue) -> None:
    import torch

    torch.set_num_threads(2)
    state = setup(*args)
    before, peak, done = rss_mib(), [0.0], threading.Event()
    exact = _reset_high_water()  # from here the kernel's high-water mark is the peak of `run` alone

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib())
            time.sleep(0.001)

    # Not getrusage's ru_maxrss: Linux carries it over exec from the forked parent's image, which
    # in a large parent (a whole test session) hides every peak of the fresh child. VmHWM is
    # per address space, so exec starts it afresh.
    high_water = _high_water_mib()
    thread = threading.Thread(target=sample)
    if not exact:
        thread.start()
    run(state)
    done.set()
    if not exact:
        thread.join()
    if exact or _high_water_mib() > high_water:  # the mark was reset, or `run` raised it: its exact peak
        peak_seen = _high_water_mib()
    else:
        peak_seen = max(peak[0], rss_mib())
    queue.put(peak_seen - before)


def peak_rss_mib(setup: Callable, run: Callable, *args) -> float:
    """Peak resident memory (MiB) that `run(setup(*args))` adds, in a fresh spawned process.

    The kernel's high-water mark (VmHWM), reset after `setup`, gives the exact peak; where it
    cannot be reset, the resident size sampled every millisecond does, which can miss a spike
    that holds the GIL. `setup` and `run` must be module-level functions."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_worker, args=(setup, run, args, queue))
    proc.start()
    while True:  # poll, so that a child that dies (an exception, an OOM kill) is an error, not a hang
        try:
            value = queue.get(timeout=0.5)
            break
        except queue_module.Empty:
            if not proc.is_alive() and queue.empty():
                proc.join()
                raise RuntimeError(f"peak_rss_mib: the measuring process for {getattr(run, '__name__', run)!r} "
                                   f"died (exit code {proc.exitcode}) before reporting; its error is above") from None
    proc.join()
    return value


def interleaved(fns: dict, repeats: int, warmup: int = 1, progress: bool = False) -> dict[str, list[float]]:
    """Seconds of each of `repeats` calls per function, the functions alternating in ABBA order after `warmup` rounds."""
    times = {k: [] for k in fns}
    names = list(fns)
    for r in range(warmup + repeats):
        for k in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            fns[k]()
            dt = time.perf_counter() - start
            if r >= warmup:
                times[k].append(dt)
            if progress:
                print(f"  {'warm-up' if r < warmup else f'rep {r - warmup + 1}/{repeats}'} {k}: {dt:.2f} s", flush=True)
    return times
