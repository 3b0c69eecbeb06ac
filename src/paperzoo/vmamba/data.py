"""ImageNet-style data for real-scale training, without torchvision (card §6).

    root/train/<class>/*.JPEG, root/val/<class>/*.JPEG     (val sorted into class folders)

Training transform (the Swin recipe VMamba follows, App. E): RandomResizedCrop (scale
0.08-1, ratio 3/4-4/3, bicubic), horizontal flip, RandAugment (2 ops, magnitude 9 with
std 0.5), normalisation, random erasing (p 0.25); in the batch, mixup (0.8) / cutmix (1.0)
with label smoothing 0.1. Evaluation: bicubic resize of the short side to size / 0.875,
centre crop (TEST.CROP). Everything is PIL and torch, seeded by the caller's generator.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps
from torch import Tensor

from paperzoo.core.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SUFFIXES = (".jpeg", ".jpg", ".png")


class ImageFolder(torch.utils.data.Dataset):
    """Class-per-folder images; classes sorted by folder name (ImageNet wnids sort to the usual ids)."""

    def __init__(self, root: str | Path, transform: Callable[[Image.Image], Tensor] | None = None):
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"{root}: not a folder (expected root/<class>/<image>)")
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not self.classes:
            raise InputError(f"{root}: no class folders (expected root/<class>/<image>)")
        self.samples = [(p, i) for i, c in enumerate(self.classes) for p in sorted((root / c).iterdir())
                        if p.suffix.lower() in SUFFIXES]
        if not self.samples:
            raise InputError(f"{root}: the class folders hold no images ({', '.join(SUFFIXES)})")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        try:
            with Image.open(path) as im:
                image = im.convert("RGB")
        except OSError as e:
            raise InputError(f"{path}: not a readable image ({e})") from e
        return (self.transform(image) if self.transform else image), label


def to_tensor(image: Image.Image) -> Tensor:
    """PIL RGB -> (3, H, W) float in [0, 1], then ImageNet-normalised."""
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def eval_transform(size: int = 224, crop_pct: float = 0.875) -> Callable[[Image.Image], Tensor]:
    def apply(image: Image.Image) -> Tensor:
        short = math.floor(size / crop_pct)
        w, h = image.size
        scale = short / min(w, h)
        image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
        w, h = image.size
        left, top = (w - size) // 2, (h - size) // 2
        return to_tensor(image.crop((left, top, left + size, top + size)))

    return apply


def random_resized_crop(image: Image.Image, size: int, rng: random.Random, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> Image.Image:
    w, h = image.size
    area = w * h
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
            return image.resize((size, size), Image.BICUBIC, box=(left, top, left + cw, top + ch))
    side = min(w, h)  # fallback: centre crop
    left, top = (w - side) // 2, (h - side) // 2
    return image.resize((size, size), Image.BICUBIC, box=(left, top, left + side, top + side))


# RandAugment (Cubuk et al. 2020) with timm's "inc" magnitudes: each op's strength grows with m / 10.
def _signed(v: float, rng: random.Random) -> float:
    return -v if rng.random() < 0.5 else v


FILL = (128, 128, 128)
OPS: dict[str, Callable[[Image.Image, float, random.Random], Image.Image]] = {
    "AutoContrast": lambda im, m, r: ImageOps.autocontrast(im),
    "Equalize": lambda im, m, r: ImageOps.equalize(im),
    "Invert": lambda im, m, r: ImageOps.invert(im),
    "Rotate": lambda im, m, r: im.rotate(_signed(30 * m, r), resample=Image.BILINEAR, fillcolor=FILL),
    "Posterize": lambda im, m, r: ImageOps.posterize(im, max(1, 8 - int(4 * m))),
    "Solarize": lambda im, m, r: ImageOps.solarize(im, int(256 - 256 * m)),
    "SolarizeAdd": lambda im, m, r: Image.fromarray(np.where(np.asarray(im) < 128, np.clip(np.asarray(im).astype(int) + int(110 * m), 0, 255),
                                                             np.asarray(im)).astype(np.uint8)),
    "Color": lambda im, m, r: ImageEnhance.Color(im).enhance(1 + _signed(0.9 * m, r)),
    "Contrast": lambda im, m, r: ImageEnhance.Contrast(im).enhance(1 + _signed(0.9 * m, r)),
    "Brightness": lambda im, m, r: ImageEnhance.Brightness(im).enhance(1 + _signed(0.9 * m, r)),
    "Sharpness": lambda im, m, r: ImageEnhance.Sharpness(im).enhance(1 + _signed(0.9 * m, r)),
    "ShearX": lambda im, m, r: im.transform(im.size, Image.AFFINE, (1, _signed(0.3 * m, r), 0, 0, 1, 0), Image.BILINEAR, fillcolor=FILL),
    "ShearY": lambda im, m, r: im.transform(im.size, Image.AFFINE, (1, 0, 0, _signed(0.3 * m, r), 1, 0), Image.BILINEAR, fillcolor=FILL),
    "TranslateX": lambda im, m, r: im.transform(im.size, Image.AFFINE, (1, 0, _signed(0.45 * m * im.size[0], r), 0, 1, 0),
                                                fillcolor=FILL),
    "TranslateY": lambda im, m, r: im.transform(im.size, Image.AFFINE, (1, 0, 0, 0, 1, _signed(0.45 * m * im.size[1], r)),
                                                fillcolor=FILL),
}


def rand_augment(image: Image.Image, rng: random.Random, ops: int = 2, magnitude: float = 9, std: float = 0.5) -> Image.Image:
    """`ops` random operations, each at magnitude ~ N(magnitude, std) clipped to [0, 10]."""
    for name in rng.choices(list(OPS), k=ops):
        m = min(10.0, max(0.0, rng.gauss(magnitude, std))) / 10.0
        image = OPS[name](image, m, rng)
    return image


def random_erasing(x: Tensor, rng: random.Random, p: float = 0.25, scale=(0.02, 1 / 3), ratio=(0.3, 3.3)) -> Tensor:
    """Erase one random rectangle with per-pixel normal noise (timm's mode "pixel")."""
    if rng.random() >= p:
        return x
    _, h, w = x.shape
    for _ in range(10):
        target = h * w * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        eh, ew = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if eh < h and ew < w:
            top, left = rng.randint(0, h - eh), rng.randint(0, w - ew)
            x = x.clone()
            gen = torch.Generator().manual_seed(rng.getrandbits(31))
            x[:, top:top + eh, left:left + ew] = torch.randn(x.shape[0], eh, ew, generator=gen)
            return x
    return x


def train_transform(size: int = 224, seed: int = 0, randaug: bool = True, erase: float = 0.25) -> Callable[[Image.Image], Tensor]:
    rng = random.Random(seed)

    def apply(image: Image.Image) -> Tensor:
        image = random_resized_crop(image, size, rng)
        if rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        if randaug:
            image = rand_augment(image, rng)
        return random_erasing(to_tensor(image), rng, erase)

    return apply


def mixup_cutmix(images: Tensor, labels: Tensor, num_classes: int, generator: torch.Generator, mixup: float = 0.8,
                 cutmix: float = 1.0, switch_prob: float = 0.5, smoothing: float = 0.1) -> tuple[Tensor, Tensor]:
    """Batch-level mixup or cutmix (one of them per batch, as timm's Mixup), with smoothed
    one-hot targets: returns images and soft targets (B, num_classes)."""
    off = smoothing / num_classes
    onehot = torch.full((len(labels), num_classes), off, device=images.device)
    onehot.scatter_(1, labels[:, None], 1.0 - smoothing + off)
    use_cutmix = float(torch.rand((), generator=generator)) < switch_prob
    alpha = cutmix if use_cutmix else mixup
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha > 0 else 1.0
    flipped = images.flip(0)
    if use_cutmix:
        h, w = images.shape[-2:]
        cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = int(torch.randint(h, (), generator=generator)), int(torch.randint(w, (), generator=generator))
        y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
        x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
        images = images.clone()
        images[..., y0:y1, x0:x1] = flipped[..., y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the area actually kept
    else:
        images = images * lam + flipped * (1 - lam)
    return images, onehot * lam + onehot.flip(0) * (1 - lam)
