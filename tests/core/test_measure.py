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
