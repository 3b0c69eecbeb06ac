"""Real video data from local folders: a JSONL index of clips with captions (and optional actions).

Each line of `index.jsonl` (paths relative to its folder):

    {"video": "clips/0001.gif", "caption": "a car turns left at a junction", "actions": [[yaw, speed], ...]}

`video` is an animated GIF or a folder of frame images (sorted by name; PNG or JPEG). N frames
are taken every `stride` frames from the start (nuScenes in the paper: every 6th frame), each
resized to the tokenizer's resolution (the paper: 256x256, then 192x320 to finetune).
`actions`, when present, has one row per *source* frame and is subsampled with the frames.

`tokenize_folder` turns a folder into the `ClipTokens` the STPT trains on, with the text
prompts left as captions for a T5 or the tiny word encoder to tokenize.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from paperzoo.core.errors import InputError

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class VideoRecord:
    frames: np.ndarray  # (N, H, W, 3) uint8
    caption: str
    actions: np.ndarray | None  # (N, action_dim) float32


def _read_frames(path: Path) -> list[Image.Image]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
        if not files:
            raise InputError(f"{path}: a frame folder with no {'/'.join(FRAME_SUFFIXES)} images")
        return [Image.open(p) for p in files]
    try:
        with Image.open(path) as im:
            return [f.convert("RGB") for f in ImageSequence.Iterator(im)]
    except (OSError, UnidentifiedImageError) as e:
        raise InputError(f"{path}: not a readable video (an animated GIF or a folder of frames): {e}") from None


def load_record(folder: Path, row: dict, line: int, frames: int, size: tuple[int, int], stride: int = 1) -> VideoRecord:
    """One clip of `frames` frames (every `stride`-th) resized to size = (H, W)."""
    where = f"{folder / 'index.jsonl'} line {line}"
    if not isinstance(row, dict) or "video" not in row or not isinstance(row.get("caption", ""), str):
        raise InputError(f"{where}: expected {{\"video\": path, \"caption\": text[, \"actions\": [[...], ...]]}}")
    images = _read_frames(folder / row["video"])
    need = (frames - 1) * stride + 1
    if len(images) < need:
        raise InputError(f"{where}: {row['video']} has {len(images)} frames; {frames} frames every {stride} need {need}")
    h, w = size
    picked = [np.asarray(images[i * stride].convert("RGB").resize((w, h), Image.BICUBIC)) for i in range(frames)]
    actions = None
    if row.get("actions") is not None:
        a = np.asarray(row["actions"], dtype=np.float32)
        if a.ndim != 2 or len(a) < need:
            raise InputError(f"{where}: actions must be one row per source frame (>= {need} rows), got shape {a.shape}")
        actions = a[: need : stride]
    return VideoRecord(np.stack(picked), row.get("caption", ""), actions)


def read_index(folder: str | Path) -> list[dict]:
    folder = Path(folder)
    index = folder / "index.jsonl"
    if not index.is_file():
        raise InputError(f"{folder}: no index.jsonl (one JSON object per line: video, caption[, actions])")
    rows = []
    for n, line in enumerate(index.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InputError(f"{index} line {n}: not JSON ({e})") from None
    if not rows:
        raise InputError(f"{index}: no clips listed")
    return rows


def load_folder(folder: str | Path, frames: int, size: tuple[int, int], stride: int = 1) -> list[VideoRecord]:
    folder = Path(folder)
    return [load_record(folder, row, n, frames, size, stride) for n, row in enumerate(read_index(folder), 1)]
