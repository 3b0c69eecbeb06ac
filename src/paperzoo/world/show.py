"""A picture of the scene world: a grid of scenes with their captions underneath."""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.world.scenes import SceneBatch, SceneConfig, make_scenes


def show_scenes(
    config: SceneConfig,
    seed: int,
    n: int,
    out_path: str | os.PathLike,
    split: str = "train",
    batch: SceneBatch | None = None,
    ncols: int | None = None,
) -> Path:
    """Draw scenes 0 .. n-1 of (config, seed, split), or the first n of `batch`, as a PNG grid.

    Each caption is wrapped under its image. The PNG is written atomically; returns its path.
    """
    # The object-oriented Agg API, so importing this never switches a user's pyplot backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if batch is None:
        batch = make_scenes(config, seed, n, split=split)
    n = min(n, len(batch))
    if n < 1:
        raise InputError(f"n: need at least one scene to draw, got {n}")
    ncols = ncols or min(n, 6)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(2.0 * ncols, 2.75 * nrows), dpi=100)
    FigureCanvasAgg(fig)
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(batch.images[i], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("\n".join(textwrap.wrap(batch.captions[i], 26)), fontsize=7.5, va="top")
    fig.tight_layout(pad=0.4, h_pad=0.6)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return out_path
