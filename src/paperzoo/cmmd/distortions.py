"""Distortions of increasing strength (levels 0-5), for the §6.2-style test (card §5).

Pixel-space families act on any image; "semantic" acts on scene-world scenes and stands in
for the paper's distortions of a generator's latent space: it changes what is drawn (hue,
position, shape), not how the pixels are degraded.

    blur      PIL Gaussian blur, radius       0, 0.5, 1, 1.5, 2, 3
    noise     Gaussian pixel noise, sigma     0, 0.03, 0.06, 0.1, 0.15, 0.2   (images in [0, 1])
    jpeg      JPEG quality (4:4:4 chroma)     95, 50, 30, 20, 10, 5
    semantic  with s = level / 5: hue rotated by N(0, (60 s)^2) degrees, boxes moved by
              N(0, (0.15 s side)^2) px, each shape swapped for another with probability s / 2
"""

from __future__ import annotations

import colorsys
import io
from dataclasses import replace

import numpy as np
from PIL import Image, ImageFilter

from paperzoo.core.errors import InputError
from paperzoo.cmmd.images import to_uint8_image
from paperzoo.world.scenes import COLOURS, SceneBatch, SceneConfig, paint_scene

LEVELS = 6
BLUR_RADIUS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
NOISE_SIGMA = (0.0, 0.03, 0.06, 0.1, 0.15, 0.2)
JPEG_QUALITY = (95, 50, 30, 20, 10, 5)
FAMILIES = ("blur", "noise", "jpeg", "semantic")


def _check_level(level: int) -> int:
    if not 0 <= int(level) < LEVELS:
        raise InputError(f"level: must be in 0..{LEVELS - 1}, got {level}")
    return int(level)


def blur(images: np.ndarray, level: int) -> np.ndarray:
    """images (N, H, W, 3) uint8 -> blurred uint8."""
    radius = BLUR_RADIUS[_check_level(level)]
    if radius == 0:
        return images.copy()
    return np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(radius))) for im in images])


def noise(images: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    sigma = NOISE_SIGMA[_check_level(level)]
    x = images.astype(np.float32) / 255.0 + sigma * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def jpeg(images: np.ndarray, level: int) -> np.ndarray:
    quality = JPEG_QUALITY[_check_level(level)]
    out = []
    for im in images:
        buffer = io.BytesIO()
        to_uint8_image(im).save(buffer, format="JPEG", quality=quality, subsampling=0)  # 4:4:4: quality is the only knob
        buffer.seek(0)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    return np.stack(out)


def _rotate_hue(rgb: tuple[float, float, float], degrees: float) -> tuple[float, float, float]:
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    return colorsys.hsv_to_rgb((h + degrees / 360.0) % 1.0, s, v)


def semantic(batch: SceneBatch, config: SceneConfig, level: int, rng: np.random.Generator) -> np.ndarray:
    """Redraw each scene of `batch` with jittered hue, position and shape: (N, H, W, 3) uint8."""
    from paperzoo.sparc.evaluate import objects_of

    strength = _check_level(level) / (LEVELS - 1)
    if strength == 0:
        return batch.images.copy()  # level 0 is the undistorted set, as in every family
    out = np.zeros_like(batch.images)
    for i in range(len(batch)):
        objects, rgb = [], []
        for obj in objects_of(batch, i, config):
            side = obj.box[2] - obj.box[0]
            dx, dy = np.rint(rng.normal(0.0, 0.15 * strength * side, size=2)).astype(int)
            x0, y0, x1, y1 = obj.box
            shape = obj.shape
            if rng.random() < strength / 2:
                shape = str(rng.choice([s for s in config.shapes if s != obj.shape] or [obj.shape]))
            objects.append(replace(obj, shape=shape, box=(x0 + dx, y0 + dy, x1 + dx, y1 + dy)))
            rgb.append(_rotate_hue(COLOURS[obj.colour], rng.normal(0.0, 60.0 * strength)))
        background = config.backgrounds[batch.background[i]] if batch.background[i] >= 0 else None
        out[i], _ = paint_scene(objects, config, rng, background, rgb)
    return out


def distort(family: str, level: int, images: np.ndarray, seed: int = 0, batch: SceneBatch | None = None,
            config: SceneConfig | None = None) -> np.ndarray:
    """Apply `family` at `level` to uint8 images (N, H, W, 3); "semantic" needs the scenes' `batch` and `config`."""
    rng = np.random.default_rng([seed, FAMILIES.index(family) if family in FAMILIES else 0, int(level)])
    if family == "blur":
        return blur(images, level)
    if family == "noise":
        return noise(images, level, rng)
    if family == "jpeg":
        return jpeg(images, level)
    if family == "semantic":
        if batch is None or config is None:
            raise InputError("semantic distortions redraw scenes: pass the scene batch and its config")
        return semantic(batch, config, level, rng)
    raise InputError(f"family: unknown {family!r}; allowed: {', '.join(FAMILIES)}")
