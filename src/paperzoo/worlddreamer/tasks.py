"""The tasks (§3.3, Figs. 5-9): one model, one decoder; a task is only its starting mask and prompts.

- text-to-video:        every token masked; the caption.
- image-to-video:       frame 0's tokens given, frames 1..N-1 masked; optionally a caption.
- video inpainting / editing: a region masked in every frame; the caption says what fills it.
- action-to-video:      frame 0 given plus an action per frame (our world: object 0's velocity).
- unconditional:        every token masked; no prompt.

`TASKS` names them for the CLI; `ACTIONS` names constant action sequences ("left" moves
object 0 left by `ACTION_SPEED` pixels a frame), and an unknown name is an InputError.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from paperzoo.core.errors import InputError
from paperzoo.worlddreamer.prompts import Prompts

TASKS = ("text-to-video", "image-to-video", "inpainting", "action-to-video", "unconditional")
ACTION_SPEED = 2.0  # pixels per frame at 32 px
ACTIONS: dict[str, tuple[float, float]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1), "still": (0, 0)}


def check_task(task: str) -> str:
    if task not in TASKS:
        raise InputError(f"task: unknown {task!r}; allowed: {', '.join(TASKS)}")
    return task


def named_actions(name: str, frames: int, speed: float = ACTION_SPEED) -> Tensor:
    """(N, 2) actions of a named constant motion; actions[0] = 0 as in the world (no motion into frame 0)."""
    if name not in ACTIONS:
        raise InputError(f"action: unknown {name!r}; allowed: {', '.join(ACTIONS)}")
    a = torch.tensor(ACTIONS[name], dtype=torch.float32) * speed
    out = a.repeat(frames, 1)
    out[0] = 0
    return out


def start_ids(task: str, b: int, frames: int, grid: int, mask_id: int, given: Tensor | None = None,
              region: Tensor | None = None, context: int = 1) -> Tensor:
    """The starting tokens (B, N, h, w) of a task: [MASK] where the model generates.

    given: (B, N, h, w) tokens of a source video (inpainting) or (B, h, w) / (B, N, h, w) whose
    frame 0 is the given image (image- and action-to-video). region: (h, w) or (B, h, w) bool,
    the area to repaint in every frame (inpainting). context: how many leading frames of `given`
    image-/action-to-video keep (1: the paper's single image; 2 or more: video prediction, where
    the motion is observable).
    """
    check_task(task)
    ids = torch.full((b, frames, grid, grid), mask_id, dtype=torch.int64)
    if task in ("image-to-video", "action-to-video"):
        if given is None:
            raise InputError(f"{task}: needs the first frame's tokens")
        if not 1 <= context < frames:
            raise InputError(f"{task}: context must keep 1 .. {frames - 1} frames, got {context}")
        first = given[:, None] if given.ndim == 3 else given[:, :context]
        if first.shape[1] < context or tuple(first.shape[2:]) != (grid, grid) or len(first) != b:
            raise InputError(f"{task}: the first {context} frame(s) must be {grid}x{grid} tokens per clip, got {tuple(given.shape)}")
        ids[:, :context] = first
    elif task == "inpainting":
        if given is None or region is None:
            raise InputError("inpainting: needs the source video's tokens and the region to repaint")
        if tuple(given.shape) != (b, frames, grid, grid):
            raise InputError(f"inpainting: the source video must be ({b}, {frames}, {grid}, {grid}) tokens, got {tuple(given.shape)}")
        region = region.bool()
        region = region.expand(b, grid, grid) if region.ndim == 2 else region
        ids = torch.where(region[:, None], ids, given)
    return ids


def task_prompts(task: str, text_ids: Tensor | None, text_mask: Tensor | None, actions: Tensor | None) -> Prompts:
    """The prompts a task conditions on: text for text-to-video / image-to-video (when given) /
    inpainting, actions for action-to-video, nothing for unconditional."""
    check_task(task)
    if task == "unconditional":
        return Prompts()
    if task == "action-to-video":
        if actions is None:
            raise InputError("action-to-video: needs an action per frame")
        return Prompts(actions=actions, action_mask=torch.ones(len(actions), dtype=torch.bool))
    if task in ("text-to-video", "inpainting") and text_ids is None:
        raise InputError(f"{task}: needs a text prompt")
    return Prompts(text_ids, text_mask)


def region_box(grid: int, box: Sequence[int]) -> Tensor:
    """(h, w) bool region from a token box x0, y0, x1, y1 (exclusive)."""
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= grid and 0 <= y0 < y1 <= grid):
        raise InputError(f"region: box {tuple(box)} is not inside the {grid}x{grid} token grid")
    out = torch.zeros(grid, grid, dtype=torch.bool)
    out[y0:y1, x0:x1] = True
    return out
