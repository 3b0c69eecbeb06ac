"""`paperzoo`: the command line.

    paperzoo list                          the ten systems and what works today
    paperzoo reproduce [SYSTEM|all]        small-scale experiments -> reproduction/REPORT.md
    paperzoo world show scenes --out F     look at the synthetic world
    paperzoo <system> <verb> --help        e.g. paperzoo sparc train --help
"""

from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, seed_option
from paperzoo.systems import SYSTEMS, claims_cell

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
        if s.implemented:
            click.echo(f"  {'':<{width}}  claims: {claims_cell(s)}")
    click.echo("\n* implemented; ~ in progress (some commands); `paperzoo <system> --help` for its commands.")


@main.command("reproduce")
@click.argument("system", default="all")
@click.option("--quick", is_flag=True, help="Tiny budgets, one seed: a smoke run of everything in minutes (numbers mean nothing).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reproduction"), show_default=True, help="Folder for REPORT.md and plots.")
@click.option("--record", is_flag=True, help="Maintainers: keep this full run's values in the package (reproduced.json), "
                                             "which the README's systems table quotes.")
@device_option
@seed_option
def reproduce(system: str, quick: bool, out: Path, record: bool, device: str, seed: int):
    """Run the small-scale experiments of SYSTEM (or all) and write OUT/REPORT.md with plots.

    Prints the expected time first; cached runs are reused and an interrupted run resumes.
    """
    from paperzoo.reproducing import run_reproductions

    run_reproductions(system, quick, out, device, seed, record=record)


@main.command("table", hidden=True)
@click.argument("system", required=False)
def table(system):
    """Print the top README's systems table, or SYSTEM's claims table (computed from the recorded reproductions)."""
    from paperzoo.core.errors import ConfigError
    from paperzoo.systems import BY_NAME, markdown_table, recorded_claims_table

    if system is None:
        click.echo(markdown_table())
        return
    if system not in BY_NAME:
        raise ConfigError(f"unknown system {system!r}; expected one of {', '.join(BY_NAME)}")
    text = recorded_claims_table(system)
    if text is None:
        raise ConfigError(f"{system} has no recorded reproduction; run `paperzoo reproduce {system} --record`")
    click.echo(text)


if __name__ == "__main__":
    main()
