"""`paperzoo world ...`: look at the synthetic world."""

from pathlib import Path

import click

from paperzoo.core.cli import Group, seed_option


@click.group(cls=Group)
def world():
    """The procedural synthetic world every small-scale run trains on."""


@world.group(cls=Group)
def show():
    """Draw samples of a part of the world as a PNG."""


@show.command("scenes")
@click.option("--out", type=click.Path(path_type=Path), default=Path("scenes.png"), show_default=True, help="PNG to write.")
@click.option("-n", "--count", type=click.IntRange(1, 256), default=16, show_default=True, help="How many scenes.")
@click.option("--split", type=click.Choice(["train", "eval", "test"]), default="train", show_default=True)
@click.option("--textures/--no-textures", default=False, help="Also draw striped and dotted objects.")
@seed_option
def scenes(out: Path, count: int, split: str, textures: bool, seed: int):
    """A grid of coloured-shape scenes with their captions."""
    from paperzoo.world.scenes import SceneConfig, TEXTURES, max_caption_length
    from paperzoo.world.show import show_scenes

    config = SceneConfig(textures=TEXTURES, max_tokens=max_caption_length(3, True)) if textures else SceneConfig()
    path = show_scenes(config, seed, count, out, split=split)
    click.echo(f"wrote {path}")
