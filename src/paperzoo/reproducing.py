"""`paperzoo reproduce [SYSTEM|all]`: runs each system's small-scale experiment and
rebuilds OUT/REPORT.md.

Before anything starts it prints each chosen system's expected time (measured on 2 CPU
cores, stored as `EXPECTED_MINUTES` in the system's `reproduce.py`), so a newcomer knows
that the full run takes hours and that `--quick` takes minutes. Each system shows one
progress bar; every run is cached by `paperzoo.core.runcache`, so an interrupted
`reproduce` resumes where it stopped.

`--record` (for maintainers) copies a full run's report into the package as
`src/paperzoo/<system>/reproduced.json`: the measured values that the systems table of the
top README and `paperzoo list` quote (`paperzoo.systems.recorded`).
"""

from __future__ import annotations

import importlib
import shutil
import time
from pathlib import Path

import click

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import ConfigError
from paperzoo.systems import BY_NAME, SYSTEMS, System, recorded_path


def expected_minutes(system: System, quick: bool) -> float | None:
    module = importlib.import_module(f"paperzoo.{system.name}.reproduce")
    minutes = getattr(module, "EXPECTED_MINUTES", None)
    return None if minutes is None else float(minutes["quick" if quick else "full"])


def _clock(minutes: float | None) -> str:
    if minutes is None:
        return "unknown"
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def choose(system: str) -> list[System]:
    if system != "all" and system not in BY_NAME:
        raise ConfigError(f"unknown system {system!r}; expected 'all' or one of {', '.join(BY_NAME)}")
    return [s for s in SYSTEMS if system in ("all", s.name)]


def plan(chosen: list[System], quick: bool) -> list[tuple[System, float | None]]:
    """Print what will run and how long it is expected to take; return (system, minutes) to run."""
    todo = [(s, expected_minutes(s, quick)) for s in chosen if s.implemented]
    for s in chosen:
        if not s.implemented:
            click.echo(f"  {s.name}: {s.status} (no reproduction yet; listed in the report as such)")
    known = [m for _, m in todo if m is not None]
    kind = "QUICK smoke run (numbers mean nothing)" if quick else "full reproduction"
    click.echo(f"{kind}: {len(todo)} system(s), expected about {_clock(sum(known))} on 2 CPU cores "
               f"(measured; cached runs are skipped, an interrupted run resumes):")
    for s, m in todo:
        click.echo(f"  {s.name:<15} ~{_clock(m)}")
    if not quick and len(todo) > 1:
        click.echo("  (first time? `paperzoo reproduce all --quick` checks everything in minutes)")
    return todo


def run_reproductions(system: str, quick: bool, out: Path, device: str, seed: int, record: bool = False,
                      **options) -> Path:
    """Run the chosen systems' `reproduce.run`, save each report, rebuild OUT/REPORT.md."""
    from paperzoo.core.cli import resolve_device
    from paperzoo.core.report import write_report

    if record and quick:
        raise ConfigError("--record keeps the measured values of a full run; it cannot be combined with --quick")
    device = resolve_device(device)
    for s, minutes in plan(choose(system), quick):
        click.echo(f"{s.name}: reproducing (expected ~{_clock(minutes)}) ...")
        start = time.perf_counter()
        run = importlib.import_module(f"paperzoo.{s.name}.reproduce").run
        report = run(out_dir=out, quick=quick, device=device, seed=seed, **options)
        saved = report.save(out)
        click.echo(f"{s.name}: done in {(time.perf_counter() - start) / 60:.1f} min")
        if record:
            target = recorded_path(s.name)
            with atomic_path(target) as tmp:
                shutil.copyfile(saved, tmp)
            click.echo(f"{s.name}: recorded as {target}")
    path = write_report(out, [(s.name, s.title, s.arxiv) for s in SYSTEMS])
    click.echo(f"wrote {path}")
    return path
