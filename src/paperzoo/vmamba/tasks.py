"""Classification tasks on the scene world for the small-scale VMamba experiments (card §5).

- "same-colour" (global): a 64 px scene with two large objects placed far apart (centres at
  least 0.45 of the image side apart) and up to two small distractors; the label says
  whether the two large objects have the same colour (balanced). A model that only pools
  local features at the end cannot answer it: pooled per-colour evidence does not say
  whether one colour covers both large objects without comparing them first.
- "shape" (local sanity task): one object; the label is its shape (5 classes).
- "colour" (the easiest local task, for CI's learning test): one object; the label is its
  colour (6 classes).

Deterministic in (task, seed, split, index), like every world dataset; splits never share
a scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from paperzoo.core.errors import InputError
from paperzoo.world.scenes import COLOURS, SHAPES, SPLIT_IDS, SceneConfig, SceneObject, _place, paint_scene, size_extent

TASKS = {"same-colour": 2, "shape": len(SHAPES), "colour": len(COLOURS)}  # name -> number of classes
MIN_APART = 0.45  # of the image side, between the two large objects' centres


@dataclass(frozen=True)
class TaskBatch:
    images: torch.Tensor  # (N, 3, S, S) float in [0, 1]
    labels: torch.Tensor  # (N,) int64


def num_classes(task: str) -> int:
    if task not in TASKS:
        raise InputError(f"task: unknown {task!r}; allowed: {', '.join(TASKS)}")
    return TASKS[task]


def _world(image_size: int) -> SceneConfig:
    return SceneConfig(image_size=image_size, max_objects=4, max_tokens=30)


def task_scene(task: str, seed: int, index: int, split: str = "train", image_size: int = 64) -> tuple[np.ndarray, int]:
    """One (image (S, S, 3) uint8, label) pair."""
    num_classes(task)
    if split not in SPLIT_IDS:
        raise InputError(f"split: unknown {split!r}; allowed: {', '.join(SPLIT_IDS)}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SPLIT_IDS[split], int(index), list(TASKS).index(task), 7]))
    world = _world(image_size)
    colours = list(COLOURS)
    if task in ("shape", "colour"):
        shape, size = SHAPES[int(rng.integers(len(SHAPES)))], ("small", "large")[int(rng.integers(2))]
        box = _place([size_extent(size, image_size)], world, rng)[0]
        colour = int(rng.integers(len(colours)))
        image, _ = paint_scene([SceneObject(shape, colours[colour], size, "plain", box)], world, rng)
        return image, SHAPES.index(shape) if task == "shape" else colour
    same = bool(rng.integers(2))
    first = int(rng.integers(len(colours)))
    second = first if same else int((first + 1 + rng.integers(len(colours) - 1)) % len(colours))
    n_small = int(rng.integers(3))
    large, small = size_extent("large", image_size), size_extent("small", image_size)
    for _ in range(100):
        boxes = _place([large, large] + [small] * n_small, world, rng)
        (ax, ay), (bx, by) = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes[:2]]
        if np.hypot(ax - bx, ay - by) >= MIN_APART * image_size:
            break
    objects = [SceneObject(SHAPES[int(rng.integers(len(SHAPES)))], colours[c], "large", "plain", boxes[i])
               for i, c in enumerate((first, second))]
    objects += [SceneObject(SHAPES[int(rng.integers(len(SHAPES)))], colours[int(rng.integers(len(colours)))], "small", "plain", b)
                for b in boxes[2:]]
    image, _ = paint_scene(objects, world, rng)
    return image, int(same)


def task_batch(task: str, seed: int, n: int, start: int = 0, split: str = "train", image_size: int = 64) -> TaskBatch:
    pairs = [task_scene(task, seed, i, split, image_size) for i in range(start, start + n)]
    images = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).float().div_(255)
    return TaskBatch(images.contiguous(), torch.tensor([p[1] for p in pairs], dtype=torch.int64))
