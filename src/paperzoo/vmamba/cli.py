"""`paperzoo vmamba ...`: named configs, FLOPs and checkpoint checks (training and
reproduction are not implemented yet; see the README)."""

from pathlib import Path

import click

from paperzoo.core.cli import Group


@click.group(cls=Group)
def cli():
    """VMamba: visual state space model (arXiv 2401.10166). In progress."""


@cli.command()
@click.option("--resolution", type=int, default=224, show_default=True, help="Square input size for the FLOPs column.")
def configs(resolution):
    """List the named configs with parameter counts (exact, vs the paper) and FLOPs."""
    import torch

    from paperzoo.vmamba.config import PAPER_PARAMS, registry
    from paperzoo.vmamba.flops import flops
    from paperzoo.vmamba.model import VMamba

    click.echo(f"{'config':<16}{'params':>14}{'paper':>14}  GFLOPs@{resolution}")
    for name in registry.names():
        with torch.device("meta"):
            n = sum(p.numel() for p in VMamba(name).parameters())
        paper = PAPER_PARAMS.get(name)
        click.echo(f"{name:<16}{n:>14,}{(f'{paper:,}' if paper else '-'):>14}  {flops(name, resolution) / 1e9:.2f}")


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--config", "config_name", required=True, help="Named config the release file belongs to (e.g. vmamba-t).")
@click.option("--ema", is_flag=True, help="Load the 'model_ema' weights instead of 'model'.")
@click.option("--trust-checkpoint", is_flag=True, help="Allow pickled objects besides tensors (release files pickle their config).")
def check(checkpoint, config_name, ema, trust_checkpoint):
    """Load an official release checkpoint strictly and report what it holds."""
    from paperzoo.vmamba.checkpoint import load_official

    model = load_official(checkpoint, config_name, ema=ema, trust_pickle=trust_checkpoint)
    n = sum(p.numel() for p in model.parameters())
    click.echo(f"{checkpoint}: loads into {config_name} strictly ({n:,} parameters)")
