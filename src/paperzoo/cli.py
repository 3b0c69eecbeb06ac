"""`paperzoo`: the command line.

    paperzoo list                          the ten systems and what works today
    paperzoo reproduce [SYSTEM|all]        small-scale experiments -> reproduction/REPORT.md
    paperzoo world show scenes --out F     look at the synthetic world
    paperzoo <system> <verb> --help        e.g. paperzoo sparc train --help
"""

import importlib
from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, resolve_device, seed_option
from paperzoo.systems import BY_NAME, SYSTEMS

LAZY = {"world": "paperzoo.world.cli:world"}
LAZY.update({s.name: f"paperzoo.{s.name}.cli:cli" for s in SYSTEMS if s.has_cli})


@click.group(cls=Group, lazy=LAZY, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperzoo")
def main():
    """paperzoo: ten systems from the 2024-01-19 Hugging Face Daily Papers, runnable on a laptop CPU."""


@main.command("list")
def list_systems():
    """List the ten systems with what works today."""
    width = max(len(s.name) for s in SYSTEMS)
    for s in SYSTEMS:
        mark = "*" if s.implemented else ("~" if s.has_cli else " ")
        click.echo(f"{mark} {s.name:<{width}}  arXiv {s.arxiv}  {s.title}")
        click.echo(f"  {'':<{width}}  {s.status}")
    click.echo("\n* implemented; ~ in progress (some commands); `paperzoo <system> --help` for its commands.")


@main.command("reproduce")
@click.argument("system", default="all")
@click.option("--quick", is_flag=True, help="Fewer steps and seeds: a smoke run in a few minutes (numbers are not the reported ones).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reproduction"), show_default=True, help="Folder for REPORT.md and plots.")
@device_option
@seed_option
def reproduce(system: str, quick: bool, out: Path, device: str, seed: int):
    """Run the small-scale experiments of SYSTEM (or all) and write OUT/REPORT.md with plots."""
    from paperzoo.core.errors import ConfigError
    from paperzoo.core.report import write_report

    if system != "all" and system not in BY_NAME:
        raise ConfigError(f"unknown system {system!r}; expected 'all' or one of {', '.join(BY_NAME)}")
    chosen = [s for s in SYSTEMS if system in ("all", s.name)]
    for s in chosen:
        if not s.implemented:
            click.echo(f"{s.name}: {s.status} (no reproduction yet; listed in the report as such)")
            continue
        click.echo(f"{s.name}: reproducing ...")
        module = importlib.import_module(f"paperzoo.{s.name}.reproduce")
        report = module.run(out_dir=out, quick=quick, device=resolve_device(device), seed=seed)
        report.save(out)
    path = write_report(out, [(s.name, s.title, s.arxiv) for s in SYSTEMS])
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
