"""Styled scenes: one coloured shape from a subject group, drawn in one of four styles.

The scene world (`scenes`) draws objects on a dark canvas; this module groups its shapes
into *subjects* and adds a global *style*, so that a text-to-image model zoo can have
domain experts, as the checkpoints and LoRAs of a Stable Diffusion zoo specialise in
subjects ("person", "3d") and styles ("anime", "cinematic"). A domain is a (subject, style)
pair; there are 3 x 4 = 12.

    subjects  round: circle    angular: square, triangle, diamond    crossed: cross
    styles    flat     the scene renderer as it is
              outline  only the object's boundary keeps its colour (a 1-px contour)
              photo    a lit background gradient, a shaded object and film grain
              pixel    a mosaic: the image averaged over (image_size / 8)-px blocks

The caption is the scene caption with the style appended:

    "a large red circle in outline style"

Its words are the scene vocabulary plus "in", "style" and the style names (`STYLE_VOCAB`);
the scene world's own VOCAB is left as it is, so models built on it are unchanged.

A styled scene is a pure function of (config, seed, split, index) like a scene: index k of a
split is drawn from `SeedSequence([seed, split_id, k, STREAM])`, a stream of its own, so the
styled world shares no random draws with the plain scene world.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.world.scenes import BACKGROUND, COLOURS, SIZES, VOCAB, SceneConfig, WordTokenizer, _check_split, render_scene

STYLES: tuple[str, ...] = ("flat", "outline", "photo", "pixel")
SUBJECTS: dict[str, tuple[str, ...]] = {
    "round": ("circle",),
    "angular": ("square", "triangle", "diamond"),
    "crossed": ("cross",),
}
STYLE_VOCAB: tuple[str, ...] = VOCAB + ("in", "style") + STYLES
STREAM = 7  # the styled world's own random stream tag (see the module docstring)
MAX_TOKENS = 8  # "a large red circle in outline style" is 7 words; one spare


def domains(subjects: Sequence[str] = tuple(SUBJECTS), styles: Sequence[str] = STYLES) -> list[tuple[str, str]]:
    """Every (subject, style) pair, subjects outermost."""
    return [(subject, style) for subject in subjects for style in styles]


def domain_name(subject: str, style: str) -> str:
    return f"{subject}-{style}"


def subject_of(shape: str) -> str:
    for subject, shapes in SUBJECTS.items():
        if shape in shapes:
            return subject
    raise InputError(f"shape: {shape!r} belongs to no subject; subjects: {SUBJECTS}")


@dataclass(frozen=True)
class StyledConfig:
    image_size: int = 32
    subjects: tuple[str, ...] = tuple(SUBJECTS)
    styles: tuple[str, ...] = STYLES
    colours: tuple[str, ...] = tuple(COLOURS)
    sizes: tuple[str, ...] = tuple(SIZES)
    noise: float = 0.03

    def __post_init__(self):
        for name, allowed in (("subjects", tuple(SUBJECTS)), ("styles", STYLES), ("colours", tuple(COLOURS)), ("sizes", tuple(SIZES))):
            values = getattr(self, name)
            if isinstance(values, str) or not values:
                raise ConfigError(f"StyledConfig.{name}: expected a non-empty tuple of names from {allowed}, got {values!r}")
            object.__setattr__(self, name, tuple(values))
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ConfigError(f"StyledConfig.{name}: unknown {unknown}; allowed: {', '.join(allowed)}")
        if self.image_size % 8:
            raise ConfigError(f"StyledConfig.image_size: {self.image_size} must be a multiple of 8 (the pixel style's blocks)")
        self.scene_config(self.subjects[0])  # the scene world validates the size

    def scene_config(self, subject: str) -> SceneConfig:
        """The scene world's config for one object of `subject`."""
        return SceneConfig(image_size=self.image_size, min_objects=1, max_objects=1, shapes=SUBJECTS[subject],
                           colours=self.colours, sizes=self.sizes, noise=self.noise, max_tokens=MAX_TOKENS)


@dataclass
class StyledScene:
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool, the object's pixels before styling
    subject: str
    style: str
    shape: str
    colour: str
    size: str

    @property
    def caption(self) -> str:
        return f"a {self.size} {self.colour} {self.shape} in {self.style} style"

    @property
    def domain(self) -> tuple[str, str]:
        return self.subject, self.style


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with a 4-neighbour outside it (the image edge counts as outside)."""
    padded = np.pad(mask, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def apply_style(image: np.ndarray, mask: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """`image` (H, W, 3) uint8 with the object `mask` redrawn in `style` (module docstring)."""
    x = image.astype(np.float32) / 255
    size = x.shape[0]
    if style == "flat":
        return image
    if style == "outline":
        background = BACKGROUND + 0.03 * rng.standard_normal(x.shape, dtype=np.float32)
        keep = _boundary(mask)
        x = np.where(keep[..., None], x, np.where(mask[..., None], background, x))
    elif style == "photo":
        top, bottom = rng.uniform(0.35, 0.6), rng.uniform(0.05, 0.2)
        rows = np.linspace(top, bottom, size, dtype=np.float32)[:, None, None]
        tint = rng.uniform(0.8, 1.0, size=3).astype(np.float32)
        sky = rows * tint
        light = np.linspace(1.15, 0.7, size, dtype=np.float32)[None, :, None]  # lit from the left
        x = np.where(mask[..., None], x * light, sky)
        x = x + 0.06 * rng.standard_normal(x.shape, dtype=np.float32)
    elif style == "pixel":
        b = size // 8
        blocks = x.reshape(size // b, b, size // b, b, 3).mean(axis=(1, 3))
        x = np.repeat(np.repeat(blocks, b, axis=0), b, axis=1)
    else:
        raise InputError(f"style: unknown {style!r}; allowed: {', '.join(STYLES)}")
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def styled_scene(config: StyledConfig, seed: int, index: int, split: str = "train",
                 subject: str | None = None, style: str | None = None) -> StyledScene:
    """Styled scene `index` of `split`: a pure function of its arguments. `subject` and
    `style` fix the domain (else both are drawn uniformly from the config's)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _check_split(split), int(index), STREAM]))
    drawn_subject = config.subjects[int(rng.integers(len(config.subjects)))]
    drawn_style = config.styles[int(rng.integers(len(config.styles)))]
    subject, style = subject or drawn_subject, style or drawn_style
    if subject not in SUBJECTS:
        raise InputError(f"subject: unknown {subject!r}; allowed: {', '.join(SUBJECTS)}")
    scene = render_scene(config.scene_config(subject), rng)
    obj = scene.objects[0]
    image = apply_style(scene.image, scene.masks[0], style, rng)
    return StyledScene(image=image, mask=scene.masks[0], subject=subject, style=style,
                       shape=obj.shape, colour=obj.colour, size=obj.size)


@dataclass
class StyledBatch:
    images: np.ndarray  # (N, H, W, 3) uint8
    captions: list[str]
    subjects: list[str]
    styles: list[str]
    shapes: list[str]
    colours: list[str]
    sizes: list[str]

    def __len__(self) -> int:
        return len(self.captions)

    @property
    def domains(self) -> list[tuple[str, str]]:
        return list(zip(self.subjects, self.styles))

    def images_float(self):
        """(N, 3, H, W) float32 tensor in [-1, 1], the diffusion models' range."""
        import torch

        return torch.from_numpy(self.images).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def make_styled(config: StyledConfig, seed: int, n: int, start: int = 0, split: str = "train",
                subject: str | None = None, style: str | None = None) -> StyledBatch:
    """Styled scenes start .. start + n - 1 of `split` (optionally all from one domain)."""
    scenes = [styled_scene(config, seed, start + k, split, subject, style) for k in range(n)]
    return StyledBatch(
        images=np.stack([s.image for s in scenes]) if scenes else np.zeros((0, config.image_size, config.image_size, 3), np.uint8),
        captions=[s.caption for s in scenes], subjects=[s.subject for s in scenes], styles=[s.style for s in scenes],
        shapes=[s.shape for s in scenes], colours=[s.colour for s in scenes], sizes=[s.size for s in scenes],
    )


def style_tokenizer() -> WordTokenizer:
    """The word tokenizer over STYLE_VOCAB (unknown words -> [unk])."""
    return WordTokenizer(STYLE_VOCAB)
