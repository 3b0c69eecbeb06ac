"""Image folders -> float arrays, with the official CMMD preprocessing (`io_util.py`).

    file list:  *.png, *.jpg, *.jpeg (any letter case), sorted by name; `max_count` keeps
                the first N of that order
    each image: centre crop to a square of side min(w, h) at ((w - l) // 2, (h - l) // 2),
                PIL bicubic resize (antialiased) to the embedder's input size, / 255

Where the official loader fails or silently changes data, this one is explicit:

- greyscale (and palette, 16-bit, CMYK) images become RGB by PIL's conversion (grey is
  tiled to three channels, as the official code does);
- RGBA images are composited over a white background (the official code raises);
- every image is kept: the official `drop_remainder=True` drops the last
  len % batch_size images; `drop_remainder=` reproduces that for parity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from paperzoo.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def list_images(folder: str | Path, max_count: int | None = None, drop_remainder: int | None = None) -> list[Path]:
    """The sorted image files of `folder` (not recursive), the first `max_count` of them.

    `drop_remainder=B` also drops the last len % B files, as the official loader does.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no images (expected files ending in {', '.join(IMAGE_SUFFIXES)}, any case)")
    if max_count is not None:
        if max_count < 1:
            raise InputError(f"max_count: must be >= 1, got {max_count}")
        files = files[:max_count]
    if drop_remainder:
        files = files[: len(files) - len(files) % drop_remainder]
        if not files:
            raise InputError(f"{folder}: fewer images than one batch of {drop_remainder}; nothing left after drop_remainder")
    return files


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any PIL image; alpha is composited over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def centre_crop(image: Image.Image) -> Image.Image:
    """The largest centred square, at the official offsets ((w - l) // 2, (h - l) // 2)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side))


def preprocess(image: Image.Image, size: int) -> np.ndarray:
    """Centre crop, PIL bicubic resize to (size, size), scale to [0, 1]: (size, size, 3) float32."""
    image = centre_crop(to_rgb(image)).resize((size, size), Image.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def load_image(path: str | Path, size: int) -> np.ndarray:
    """One image file, preprocessed; an unreadable file raises InputError naming it."""
    try:
        with Image.open(path) as image:
            image.load()
            return preprocess(image, size)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({type(e).__name__}: {e})") from e


def load_images(paths: Sequence[str | Path], size: int) -> np.ndarray:
    """(N, size, size, 3) float32 in [0, 1]."""
    return np.stack([load_image(p, size) for p in paths]) if paths else np.zeros((0, size, size, 3), np.float32)


def batches(items: Sequence, batch_size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), batch_size):
        yield items[start:start + batch_size]


def to_uint8_image(array: np.ndarray) -> Image.Image:
    """(H, W, 3) float in [0, 1] or uint8 -> a PIL RGB image."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(array, "RGB")
