"""Pictures: the zoo as a grid of models x domains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from paperzoo.core.atomic import atomic_path
from paperzoo.diffusion.sampling import to_uint8
from paperzoo.world.styles import domains


def zoo_grid(zoo, path: str | Path, seed: int = 0, scale: int = 3) -> Path:
    """One row per zoo model, one column per domain ("a large red <shape> in <style> style"),
    every model drawing from the same noise per column."""
    shapes = {"round": "circle", "angular": "square", "crossed": "cross"}
    prompts = [f"a large red {shapes[subject]} in {style} style" for subject, style in domains()]
    noise = torch.randn(len(prompts), 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    rows = [np.concatenate(list(to_uint8(zoo.generate(k, prompts, noise))), axis=1) for k in zoo.keys()]
    grid = np.concatenate(rows, axis=0)
    grid = np.repeat(np.repeat(grid, scale, 0), scale, 1)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return path
