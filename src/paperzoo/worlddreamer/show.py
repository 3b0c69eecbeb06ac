"""Looking at clips: an animated GIF and a frame strip PNG per clip, and reading a user's image or video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError


def _uint8(frames: Tensor) -> np.ndarray:
    """(N, 3, H, W) in [0, 1] -> (N, H, W, 3) uint8."""
    return np.clip(np.rint(frames.detach().cpu().float().numpy().transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8)


def save_video(frames: Tensor, out: str | Path, scale: int = 4, name: str = "video") -> tuple[Path, Path]:
    """Write OUT/<name>.gif (looping, 4 frames a second) and OUT/<name>-frames.png (the frames side by side)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x = _uint8(frames)
    big = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in x]
    gif, strip = out / f"{name}.gif", out / f"{name}-frames.png"
    with atomic_path(gif) as tmp:
        big[0].save(tmp, format="GIF", save_all=True, append_images=big[1:], duration=250, loop=0)
    with atomic_path(strip) as tmp:
        Image.fromarray(np.concatenate([np.asarray(b) for b in big], axis=1)).save(tmp, format="PNG")
    return gif, strip


def save_grid(rows: list[Tensor], path: str | Path, scale: int = 3) -> Path:
    """Several clips (each (N, 3, H, W)) as rows of frames in one PNG."""
    grid = np.concatenate([np.concatenate(list(_uint8(r)), axis=1) for r in rows], axis=0)
    img = Image.fromarray(grid)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(Path(path)) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)


def tile(rows: list[list[Tensor]], gap: int = 1) -> Tensor:
    """Clips (each (N, 3, H, W)) laid out as a grid, rows of columns, `gap` white pixels apart: one
    (N, 3, H', W') clip for `save_video`."""
    if not rows or not all(rows) or len({len(r) for r in rows}) != 1:
        raise InputError("tile: needs rows of the same, non-zero number of clips")
    n, c, h, w = rows[0][0].shape
    cols = len(rows[0])
    out = torch.ones(n, c, len(rows) * (h + gap) - gap, cols * (w + gap) - gap)
    for i, row in enumerate(rows):
        for j, clip in enumerate(row):
            out[:, :, i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = clip.detach().cpu().float()
    return out


def read_image(path: str | Path, size: int) -> Tensor:
    """A user's first frame, resized: (1, 1, 3, size, size) in [0, 1]."""
    try:
        with Image.open(path) as im:
            x = np.asarray(im.convert("RGB").resize((size, size), Image.BICUBIC))
    except (OSError, UnidentifiedImageError) as e:
        raise InputError(f"--image {path}: not a readable image ({e})") from None
    return torch.from_numpy(x).permute(2, 0, 1).float().div(255)[None, None]


def source_frames(path: str | Path, frames: int, size: int) -> Tensor:
    """A user's video (GIF or frame folder) as (1, N, 3, size, size); it must have exactly `frames` frames or more."""
    from paperzoo.worlddreamer.data import _read_frames

    images = _read_frames(Path(path))
    if len(images) < frames:
        raise InputError(f"--video {path}: {len(images)} frames; the model makes clips of {frames}")
    x = np.stack([np.asarray(im.convert("RGB").resize((size, size), Image.BICUBIC)) for im in images[:frames]])
    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255)[None]
