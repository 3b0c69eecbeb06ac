"""The benchmark helpers: ABBA alternation, and best-of timing."""

from paperzoo.core.measure import best_of, interleaved


def test_interleaved_alternates_abba_after_warm_up_and_keeps_only_timed_rounds():
    calls = []
    times = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert all(t >= 0 for v in times.values() for t in v)


def test_best_of_runs_the_function_and_returns_a_time():
    calls = []
    assert best_of(lambda: calls.append(1), repeats=4) >= 0
    assert len(calls) >= 4


def _setup_nothing():
    return None


def _setup_with_a_spike():
    block = bytearray(256 * 2**20)  # a transient peak in setup, above anything `run` does, then freed
    block[::4096] = b"x" * len(block[::4096])
    del block
    return None


def _die(_state):
    import os

    os._exit(3)  # the measuring process dies without reporting


def _allocate(_state):
    block = bytearray(64 * 2**20)  # 64 MiB, touched
    block[::4096] = b"x" * len(block[::4096])
    return len(block)


def test_peak_rss_reports_an_allocation_and_a_dying_child_is_an_error_not_a_hang():
    import pytest

    from paperzoo.core.measure import peak_rss_mib

    assert 48 < peak_rss_mib(_setup_nothing, _allocate) < 256
    assert 48 < peak_rss_mib(_setup_with_a_spike, _allocate) < 256  # setup's own peak is not counted, nor hides run's
    with pytest.raises(RuntimeError, match="exit code 3"):
        peak_rss_mib(_setup_nothing, _die)
