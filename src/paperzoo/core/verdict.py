"""Deciding whether a claim holds, from per-seed numbers: one rule for every system.

A directional claim ("A beats B") holds when, over at least `MIN_SEEDS` seeds, the
seed-mean of the paired difference A - B (signed so that positive is the paper's
direction) exceeds twice its standard error, and A also beats the measured baseline
(an untrained model, the prior noise, the measured chance rate) by the same rule.
Otherwise the verdict is "no" (the mean points the other way, or A does not beat the
baseline) or "not significant" (the right direction, but within two standard errors, or
fewer than `MIN_SEEDS` seeds).

An equivalence claim ("A is no worse than B", "A and B are roughly equal") holds when the
two-standard-error interval of the difference lies inside the stated tolerance.

A deterministic claim (a FLOP count, a parameter count) is computed once, without seeds;
its verdict says so.

Every verdict carries its numbers, so a report row quotes the mean difference with its
standard error and the seed count instead of a bare yes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import numpy as np

MIN_SEEDS = 3
YES, NO, NOT_SIGNIFICANT, NOT_MEASURED = "yes", "no", "not significant", "not measured"
VERDICTS = (YES, NO, NOT_SIGNIFICANT, NOT_MEASURED)


@dataclass(frozen=True)
class Verdict:
    holds: str  # one of VERDICTS
    kind: str  # "better", "equivalent", "deterministic", "unmeasured"
    diff: float | None = None  # seed-mean difference, positive = the paper's direction
    se: float | None = None  # its standard error over seeds (None for one seed)
    n: int = 0  # seeds
    reason: str = ""  # why, in a few words, when it does not hold

    def __post_init__(self):
        if self.holds not in VERDICTS:
            raise ValueError(f"verdict {self.holds!r}; expected one of {VERDICTS}")
        for name in ("diff", "se"):  # None, not nan, so verdicts compare equal and serialise as JSON
            value = getattr(self, name)
            object.__setattr__(self, name, None if value is None or not math.isfinite(value) else float(value))

    @property
    def ok(self) -> bool:
        return self.holds == YES

    def evidence(self) -> str:
        """The numbers behind the verdict: 'diff +0.042 ± 0.010 (2 SE 0.020), 3 seeds'."""
        if self.kind in ("deterministic", "unmeasured"):
            return self.kind if self.kind == "deterministic" else ""
        se = f"{self.se:.3g}" if self.se is not None else "n/a"
        return f"diff {self.diff:+.3g} ± {se} SE, {self.n} seed{'s' if self.n != 1 else ''}"

    def text(self) -> str:
        """The report's cell: the verdict, then its evidence and reason."""
        bits = [b for b in (self.evidence(), self.reason) if b]
        return self.holds + (f" ({'; '.join(bits)})" if bits else "")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict":
        return cls(**data)


def _values(name: str, values: Sequence[float] | float, n: int | None = None) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty list of per-seed numbers, got {values!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: per-seed numbers must be finite, got {values!r}")
    if n is not None and arr.size not in (1, n):
        raise ValueError(f"{name}: {arr.size} numbers for {n} seeds; pass one per seed (paired) or one in all")
    return arr


def mean_and_se(diffs: Sequence[float]) -> tuple[float, float]:
    """Seed mean and its standard error (sample std with ddof 1, over sqrt(n)); SE is nan for one seed."""
    d = _values("diffs", diffs)
    se = float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
    return float(np.mean(d)), se


def _paired(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a - b if b.size == a.size else a - b[0]


def better(treatment: Sequence[float], control: Sequence[float] | float, *, higher_is_better: bool = True,
           baseline: Sequence[float] | float | None = None, min_seeds: int = MIN_SEEDS) -> Verdict:
    """'treatment beats control' over paired seeds (a scalar control is a fixed reference).

    `baseline`: what a broken model gets (per seed, or one number); the treatment must
    beat it by the same two-standard-error rule, else the verdict is "no".
    """
    a = _values("treatment", treatment)
    b = _values("control", control, a.size)
    sign = 1.0 if higher_is_better else -1.0
    diff, se = mean_and_se(sign * _paired(a, b))
    common = dict(kind="better", diff=diff, se=se, n=int(a.size))
    if diff <= 0:
        return Verdict(NO, reason="the mean points the other way" if diff < 0 else "no difference", **common)
    if baseline is not None:
        base = _values("baseline", baseline, a.size)
        bdiff, bse = mean_and_se(sign * _paired(a, base))
        if bdiff <= 0 or (a.size >= min_seeds and bdiff <= 2 * bse):
            return Verdict(NO, reason=f"not above the baseline ({bdiff:+.3g} ± {bse:.3g})", **common)
    if a.size < min_seeds:
        return Verdict(NOT_SIGNIFICANT, reason=f"fewer than {min_seeds} seeds", **common)
    if diff <= 2 * se:
        return Verdict(NOT_SIGNIFICANT, reason="within 2 SE", **common)
    return Verdict(YES, **common)


def equivalent(a: Sequence[float], b: Sequence[float] | float, *, tolerance: float, relative: bool = False,
               one_sided: bool = False, min_seeds: int = MIN_SEEDS) -> Verdict:
    """'a is about b' (or, `one_sided`, 'a is no worse than b', lower being better).

    The difference a - b (divided by the mean of b when `relative`) must lie within
    `tolerance` with two standard errors to spare: |d| + 2 SE <= tolerance, or for a
    one-sided claim d + 2 SE <= tolerance. `diff` is reported as tolerance minus the
    worst edge, so positive means inside.
    """
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    x = _values("a", a)
    y = _values("b", b, x.size)
    d = _paired(x, y)
    if relative:
        d = d / float(np.mean(y))
    mean, se = mean_and_se(d)
    edge = (mean if one_sided else abs(mean)) + 2 * (se if math.isfinite(se) else 0.0)
    common = dict(kind="equivalent", diff=mean, se=se, n=int(x.size))
    if x.size < min_seeds:
        return Verdict(NOT_SIGNIFICANT, reason=f"fewer than {min_seeds} seeds", **common)
    if edge <= tolerance:
        return Verdict(YES, **common)
    outside = (mean if one_sided else abs(mean)) > tolerance
    return Verdict(NO if outside else NOT_SIGNIFICANT,
                   reason=f"{'outside' if outside else '2 SE reach past'} the tolerance {tolerance:g}", **common)


def deterministic(ok: bool, reason: str = "") -> Verdict:
    """A claim computed exactly once (a count, a FLOP ratio): no seeds, no spread."""
    return Verdict(YES if ok else NO, kind="deterministic", reason=reason)


def unmeasured(reason: str = "") -> Verdict:
    return Verdict(NOT_MEASURED, kind="unmeasured", reason=reason)


def _t(v: Verdict) -> float:
    """The verdict's difference in standard errors (a zero SE counts as infinitely sure)."""
    if v.diff is None or v.se is None:  # unmeasured or deterministic: no numbers
        return -np.inf
    return v.diff / v.se if np.isfinite(v.se) and v.se > 0 else (np.inf if v.diff > 0 else -np.inf)


def weakest(verdicts: dict[str, Verdict]) -> Verdict:
    """A claim made of several comparisons, all of which must hold: "no" (or "not measured")
    if any is, else "not significant" if any is, else yes. The verdict returned is the deciding
    one (among equals, the one with the fewest standard errors), its label in the reason."""
    if not verdicts:
        raise ValueError("weakest: no verdicts")
    for holds in (NOT_MEASURED, NO, NOT_SIGNIFICANT, YES):
        found = {k: v for k, v in verdicts.items() if v.holds == holds}
        if found:
            label, v = min(found.items(), key=lambda kv: _t(kv[1]))
            break
    return replace(v, reason="; ".join(b for b in (f"weakest: {label}", v.reason) if b))


def spread(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """'0.512 ± 0.021 (0.49, 0.53, 0.52)': a seed mean with its standard error and the seeds."""
    v = _values("values", values)
    if v.size == 1:
        return fmt.format(v[0]) + " (one seed)"
    mean, se = mean_and_se(v)
    seeds = ", ".join(fmt.format(x) for x in v)
    return f"{fmt.format(mean)} ± {fmt.format(se) if np.isfinite(se) else 'n/a'} ({seeds})"
