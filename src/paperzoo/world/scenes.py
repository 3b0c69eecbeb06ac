"""Coloured-shapes scenes: small images of 1-3 objects with compositional captions.

Each scene is a dark, slightly noisy canvas holding a few non-overlapping objects. An
object has a shape (circle, square, triangle, diamond, cross), a colour, a size (small
~10 px or large ~20 px at 48 px, scaled with the image) and a texture (plain, striped,
dotted), and sits at a random position. The caption names the objects in a random
order and chains them with spatial relations:

    "a large red circle left of a small blue square above a small green cross"

reads obj0 rel(0, 1) obj1 rel(1, 2) obj2, where rel(i, j) says where object i is relative
to object j (a chain: the square is above the cross). There is no "and": a 3-object
caption without texture words is then exactly 16 words (4 + 2 + 4 + 2 + 4), the default
`max_tokens`; each non-plain texture adds one word, and `SceneConfig` refuses a
`max_tokens` too small for its longest possible caption.

Alongside the image the renderer returns the ground truth the evaluations need: per-object
pixel masks and boxes, attribute indices, and for every caption word the object it
describes (-1 for "a", "of" and relation words). `patch_targets` turns masks into the
token -> patch targets of a ViT's patch grid.

Everything is a pure function of (config, seed, split, index): scene k of a split is drawn
from `SeedSequence([seed, split_id, k])`, so training streams, evaluation sets and test
sets never share a scene and any scene can be regenerated on its own.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator, Sequence

import numpy as np
import torch

from paperzoo.core.cache import cache_dir
from paperzoo.core.errors import ConfigError, InputError
from paperzoo.world.batch import ArrayBatch, stream

# Bump when rendering or captions change, so cached scene sets are regenerated.
WORLD_VERSION = 2

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross")
# RGB in [0, 1]; slightly desaturated so that every pair stays far apart after jitter.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.92, 0.15, 0.12),
    "green": (0.15, 0.80, 0.20),
    "blue": (0.20, 0.35, 0.97),
    "yellow": (0.95, 0.88, 0.12),
    "magenta": (0.90, 0.18, 0.88),
    "cyan": (0.12, 0.85, 0.90),
}
# Object extent as a fraction of the image side: 10 px and 20 px at 48 px.
SIZES: dict[str, float] = {"small": 10 / 48, "large": 20 / 48}
TEXTURES: tuple[str, ...] = ("plain", "striped", "dotted")
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
# Named background tones (RGB in [0, 1]), dim and unsaturated so no object colour is close.
# With `SceneConfig.backgrounds` set, the canvas takes one of them and the caption ends in
# "on <name>", as real captions name the context ("a dog on the grass").
BACKGROUNDS: dict[str, tuple[float, float, float]] = {
    "black": (0.08, 0.08, 0.08),
    "grey": (0.42, 0.42, 0.42),
    "brown": (0.36, 0.22, 0.10),
}
SPLIT_IDS: dict[str, int] = {"train": 0, "eval": 1, "test": 2}
# A larger vocabulary of objects, for the varied-caption world (`captions.py`). Kept apart
# from the tuples above, which are the defaults of SceneConfig (the default world is pinned).
EXTRA_SHAPES: tuple[str, ...] = ("ring", "frame", "bar", "arch")  # hollow circle, hollow square, wide bar, half disc
EXTRA_COLOURS: dict[str, tuple[float, float, float]] = {
    "orange": (0.98, 0.55, 0.10),
    "purple": (0.55, 0.20, 0.80),
    "white": (0.93, 0.93, 0.93),
}
EXTRA_SIZES: dict[str, float] = {"medium": 15 / 48}
EXTRA_TEXTURES: tuple[str, ...] = ("checked",)
ALL_SHAPES: tuple[str, ...] = SHAPES + EXTRA_SHAPES
ALL_COLOURS: dict[str, tuple[float, float, float]] = {**COLOURS, **EXTRA_COLOURS}
ALL_SIZES: dict[str, float] = {**SIZES, **EXTRA_SIZES}
ALL_TEXTURES: tuple[str, ...] = TEXTURES + EXTRA_TEXTURES

PAD, UNK = "[pad]", "[unk]"
# Every possible attribute value, not only a config's, so ids are stable across configs.
# "and" is reserved (captions chain relations without it) so ids stay fixed if it is used.
VOCAB: tuple[str, ...] = (
    (PAD, UNK, "a", "and", "of", "left", "right", "above", "below")
    + tuple(SIZES) + TEXTURES + tuple(COLOURS) + SHAPES
    + ("on",) + tuple(BACKGROUNDS)  # appended later, so the earlier ids are unchanged
)
PAD_ID, UNK_ID = 0, 1
WORD_TO_ID: dict[str, int] = {w: i for i, w in enumerate(VOCAB)}

GAP = 2  # minimum empty pixels between two objects' boxes
BACKGROUND = 0.1  # mean value of the unnamed background, in [0, 1]
BACKGROUND_TOKEN = -2  # token_object of the word naming the background
MIN_EXTENT = 5  # below this many pixels the shapes stop being distinguishable


def size_extent(size: str, image_size: int) -> int:
    """Side in pixels of an object of this size in an `image_size` image."""
    return max(1, round(ALL_SIZES[size] * image_size))


ATTRIBUTES: tuple[str, ...] = ("size", "texture", "colour", "shape")  # caption word order per object


def max_caption_length(max_objects: int, textured: bool, caption_words: Sequence[str] = ATTRIBUTES, named_background: bool = False) -> int:
    """Longest caption: per object "a" + its named attributes, 2 words per relation, and
    "on <background>" when the background is named."""
    per_object = 1 + sum(1 for a in caption_words if a != "texture") + (1 if textured and "texture" in caption_words else 0)
    return max_objects * per_object + (max_objects - 1) * 2 + (2 if named_background else 0)


@dataclass(frozen=True)
class SceneConfig:
    image_size: int = 48
    min_objects: int = 1
    max_objects: int = 3
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    sizes: tuple[str, ...] = tuple(SIZES)  # small ~10 px, large ~20 px at 48 px
    textures: tuple[str, ...] = ("plain",)  # also "striped", "dotted"
    noise: float = 0.03  # std of Gaussian noise on the background, in [0, 1] units
    max_tokens: int = 16  # the longest 3-object caption without texture words
    # Which attributes a caption names per object, e.g. ("shape",) gives "a circle left of a square".
    caption_words: tuple[str, ...] = ATTRIBUTES
    # Named backgrounds to draw from, e.g. ("black", "grey", "brown"); empty: the unnamed dark canvas.
    backgrounds: tuple[str, ...] = ()
    # "fixed": "obj0 rel obj1 rel obj2" in fixed slots; "varied": templates, partial mention,
    # synonyms and distractors (`captions.py`; `captions.VARIED` is the named config).
    captions: str = "fixed"

    def __post_init__(self):
        for name, allowed in (("shapes", ALL_SHAPES), ("colours", ALL_COLOURS), ("sizes", ALL_SIZES), ("textures", ALL_TEXTURES)):
            values = getattr(self, name)
            if isinstance(values, str):
                raise ConfigError(f"SceneConfig.{name}: expected a tuple of names, got the string {values!r}")
            values = tuple(values)
            object.__setattr__(self, name, values)  # lists -> tuples, so configs hash and compare
            if not values:
                raise ConfigError(f"SceneConfig.{name}: must not be empty; allowed: {', '.join(allowed)}")
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ConfigError(f"SceneConfig.{name}: unknown {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
            if len(set(values)) != len(values):
                raise ConfigError(f"SceneConfig.{name}: repeated names in {values}")
        if isinstance(self.backgrounds, str):
            raise ConfigError(f"SceneConfig.backgrounds: expected a tuple of names, got the string {self.backgrounds!r}")
        object.__setattr__(self, "backgrounds", tuple(self.backgrounds))
        unknown = [b for b in self.backgrounds if b not in BACKGROUNDS]
        if unknown or len(set(self.backgrounds)) != len(self.backgrounds):
            raise ConfigError(f"SceneConfig.backgrounds: {self.backgrounds!r}; expected distinct names from {', '.join(BACKGROUNDS)} (or none)")
        object.__setattr__(self, "caption_words", tuple(self.caption_words))
        bad = [a for a in self.caption_words if a not in ATTRIBUTES]
        if bad or not self.caption_words:
            raise ConfigError(f"SceneConfig.caption_words: {self.caption_words!r}; expected a non-empty subset of {ATTRIBUTES}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ConfigError(f"SceneConfig: need 1 <= min_objects <= max_objects, got {self.min_objects} and {self.max_objects}")
        if self.noise < 0:
            raise ConfigError(f"SceneConfig.noise: must be >= 0, got {self.noise}")
        smallest = min(size_extent(s, self.image_size) for s in self.sizes)
        if smallest < MIN_EXTENT:
            raise ConfigError(
                f"SceneConfig.image_size: {self.image_size} makes the smallest objects {smallest} px; "
                f"need >= {MIN_EXTENT} px (image_size >= {math.ceil(MIN_EXTENT / min(ALL_SIZES[s] for s in self.sizes))})"
            )
        if _grid_cells(self) ** 2 < self.max_objects:
            raise ConfigError(
                f"SceneConfig.image_size: {self.image_size} px cannot hold max_objects={self.max_objects} "
                f"non-overlapping objects of size {self._largest!r}; use a larger image or fewer objects"
            )
        if self.captions not in ("fixed", "varied"):
            raise ConfigError(f"SceneConfig.captions: {self.captions!r}; expected 'fixed' or 'varied'")
        textured = any(t != "plain" for t in self.textures)
        if self.captions == "varied":
            from paperzoo.world.captions import max_varied_length

            need = max_varied_length(self.max_objects, textured, bool(self.backgrounds))
        else:
            need = max_caption_length(self.max_objects, textured, self.caption_words, bool(self.backgrounds))
        if self.max_tokens < need:
            raise ConfigError(f"SceneConfig.max_tokens: {self.max_tokens} is too short; captions of this config need up to {need}")

    @property
    def vocab(self) -> tuple[str, ...]:
        """The words its captions use: VOCAB, or `captions.VARIED_VOCAB` (VOCAB plus new words) for varied captions."""
        if self.captions == "varied":
            from paperzoo.world.captions import VARIED_VOCAB

            return VARIED_VOCAB
        return VOCAB

    @property
    def _largest(self) -> str:
        return max(self.sizes, key=ALL_SIZES.__getitem__)


def _grid_cells(config: SceneConfig) -> int:
    """Cells per side of a grid whose every cell holds the largest object plus the gap."""
    s = size_extent(config._largest, config.image_size)
    return (config.image_size + GAP) // (s + GAP)


# ---------------------------------------------------------------------------- scenes


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    size: str
    texture: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    objects: list[SceneObject]
    masks: np.ndarray  # (n_objects, H, W) bool, the pixels each object covers
    words: list[str]  # caption tokens
    token_object: list[int]  # per word: index of the object it describes, BACKGROUND_TOKEN for the background's name, else -1
    background: str | None = None  # the named background, or None for the unnamed canvas

    @property
    def caption(self) -> str:
        return " ".join(self.words)


def object_words(obj: SceneObject, caption_words: Sequence[str] = ATTRIBUTES) -> list[str]:
    """"a <size> [<texture>] <colour> <shape>", keeping the attributes in `caption_words`;
    the texture word only when it is not plain."""
    words = ["a"]
    for attribute in ATTRIBUTES:
        value = getattr(obj, attribute)
        if attribute in caption_words and not (attribute == "texture" and value == "plain"):
            words.append(value)
    return words


def relation_word(a: SceneObject, b: SceneObject) -> list[str]:
    """Where `a` is relative to `b`: the dominant axis of the centre offset decides.

    Image y grows downward, so a smaller y is "above". Ties go to left/right.
    """
    (ax, ay), (bx, by) = a.centre, b.centre
    if abs(bx - ax) >= abs(by - ay):
        return ["left", "of"] if ax < bx else ["right", "of"]
    return ["above"] if ay < by else ["below"]


def describe(
    objects: Sequence[SceneObject], order: Sequence[int], caption_words: Sequence[str] = ATTRIBUTES,
    background: str | None = None,
) -> tuple[list[str], list[int]]:
    """Caption words and per-word object index for `objects` named in `order`.

    obj[order[0]] rel obj[order[1]] rel obj[order[2]] ... ["on" background], each relation
    between consecutive objects. Evaluation builds hard negatives with it (swapped colours or
    relations).
    """
    words: list[str] = []
    token_object: list[int] = []
    for k, i in enumerate(order):
        if k > 0:
            rel = relation_word(objects[order[k - 1]], objects[i])
            words += rel
            token_object += [-1] * len(rel)
        obj_words = object_words(objects[i], caption_words)
        words += obj_words
        token_object += [-1] + [i] * (len(obj_words) - 1)  # the article describes no object
    if background is not None:
        words += ["on", background]
        token_object += [-1, BACKGROUND_TOKEN]
    return words, token_object


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Analytic inside-test; u, v are pixel-centre coordinates in [0, 1] across the box."""
    du, dv = np.abs(u - 0.5), np.abs(v - 0.5)
    if shape == "circle":
        return du**2 + dv**2 <= 0.25
    if shape == "square":
        return np.broadcast_to((du <= 0.5) & (dv <= 0.5), np.broadcast_shapes(u.shape, v.shape))
    if shape == "triangle":  # apex at the top centre, base along the bottom edge
        return du <= v / 2
    if shape == "diamond":
        return du + dv <= 0.5
    if shape == "cross":  # plus sign, arms a third of the extent wide
        return (du <= 1 / 6) | (dv <= 1 / 6)
    if shape == "ring":  # a circle's outer band, a fifth of the extent thick
        return (du**2 + dv**2 <= 0.25) & (du**2 + dv**2 >= 0.09)
    if shape == "frame":  # a square's border, a fifth of the extent thick
        return np.broadcast_to((du <= 0.5) & (dv <= 0.5), np.broadcast_shapes(u.shape, v.shape)) & ((du >= 0.3) | (dv >= 0.3))
    if shape == "bar":  # the full width, the middle 40 % of the height
        return np.broadcast_to(dv <= 0.2, np.broadcast_shapes(u.shape, v.shape))
    if shape == "arch":  # the upper half of a disc whose centre is on the box's bottom edge
        return du**2 + (1 - v) ** 2 <= 0.25
    raise InputError(f"shape: unknown {shape!r}; allowed: {', '.join(ALL_SHAPES)}")


def _texture_factor(texture: str, s: int) -> np.ndarray | float:
    """Per-pixel brightness multiplier over an (s, s) box: 1 where the texture leaves colour."""
    y, x = np.arange(s)[:, None], np.arange(s)[None, :]
    if texture == "plain":
        return 1.0
    if texture == "striped":  # 2-px bands, every other one at half brightness
        return np.where((y // 2) % 2 == 1, 0.5, 1.0)
    if texture == "dotted":  # 2x2 dots on a 4-px grid
        return np.where(((y % 4) >= 2) & ((x % 4) >= 2), 0.4, 1.0)
    if texture == "checked":  # 2-px checkerboard, every other square at half brightness
        return np.where(((y // 2) + (x // 2)) % 2 == 1, 0.5, 1.0)
    raise InputError(f"texture: unknown {texture!r}; allowed: {', '.join(ALL_TEXTURES)}")


def _place(extents: list[int], config: SceneConfig, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Non-overlapping boxes (with GAP px between) fully inside the image.

    Rejection sampling, restarting the whole layout when one object finds no room; after
    many restarts a random grid layout, which the config validation guarantees exists.
    """
    size = config.image_size
    for _ in range(20):
        boxes: list[tuple[int, int, int, int]] = []
        for s in extents:
            for _ in range(50):
                x0, y0 = (int(c) for c in rng.integers(0, size - s + 1, size=2))
                box = (x0, y0, x0 + s, y0 + s)
                if all(_apart(box, b) for b in boxes):
                    boxes.append(box)
                    break
            else:
                break
        if len(boxes) == len(extents):
            return boxes
    cells = _grid_cells(config)
    pitch = (size + GAP) // cells
    boxes = []
    for cell, s in zip(rng.choice(cells * cells, size=len(extents), replace=False), extents):
        cy, cx = divmod(int(cell), cells)
        x0 = cx * pitch + int(rng.integers(0, pitch - GAP - s + 1))
        y0 = cy * pitch + int(rng.integers(0, pitch - GAP - s + 1))
        boxes.append((x0, y0, x0 + s, y0 + s))
    return boxes


def _apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[2] + GAP <= b[0] or b[2] + GAP <= a[0] or a[3] + GAP <= b[1] or b[3] + GAP <= a[1]


def paint_scene(
    objects: Sequence[SceneObject], config: SceneConfig, rng: np.random.Generator, background: str | None = None,
    rgb: Sequence[Sequence[float]] | None = None, brightness: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw `objects` (later ones over earlier ones) on the canvas: (H, W, 3) uint8 image and
    (n, H, W) bool masks. `rng` draws each object's brightness (unless `brightness` gives it:
    the frames of one video keep theirs), then the background noise; `rgb` overrides the objects'
    named colours (CMMD's semantic distortions use it). Boxes may reach past the image edge;
    what falls outside is cut."""
    size, n = config.image_size, len(objects)
    brightness = rng.uniform(0.85, 1.0, size=n) if brightness is None else np.asarray(brightness, dtype=np.float64)
    tone = np.asarray(BACKGROUNDS[background] if background else (BACKGROUND,) * 3, dtype=np.float32)
    image = tone + config.noise * rng.standard_normal((size, size, 3), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=bool)
    for i, obj in enumerate(objects):
        x0, y0, x1, y1 = obj.box
        s = x1 - x0
        c = (np.arange(s, dtype=np.float32) + 0.5) / s  # pixel centres across the box
        inside = _inside(obj.shape, c[None, :], c[:, None])
        colour = np.asarray(rgb[i] if rgb is not None else ALL_COLOURS[obj.colour], dtype=np.float32) * brightness[i]
        factor = np.broadcast_to(np.asarray(_texture_factor(obj.texture, s), dtype=np.float32), (s, s))
        fill = factor[..., None] * colour  # (s, s, 3)
        # the part of the box inside the image
        ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
        if ix0 >= ix1 or iy0 >= iy1:
            continue
        cut = (slice(iy0 - y0, iy1 - y0), slice(ix0 - x0, ix1 - x0))
        region, keep = image[iy0:iy1, ix0:ix1], inside[cut]
        region[keep] = fill[cut][keep]
        masks[i, iy0:iy1, ix0:ix1] = keep
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), masks


def render_scene(config: SceneConfig, rng: np.random.Generator) -> Scene:
    """Draw one scene from `rng`: attributes uniform, positions non-overlapping, order random."""
    size = config.image_size
    # Drawn only when backgrounds are named, so unnamed-canvas scenes stay as they were.
    background = config.backgrounds[int(rng.integers(len(config.backgrounds)))] if config.backgrounds else None
    n = int(rng.integers(config.min_objects, config.max_objects + 1))
    picks = [
        (config.shapes[a], config.colours[b], config.sizes[c], config.textures[d])
        for a, b, c, d in zip(*(rng.integers(0, len(v), size=n) for v in (config.shapes, config.colours, config.sizes, config.textures)))
    ]
    boxes = _place([size_extent(p[2], size) for p in picks], config, rng)
    objects = [SceneObject(*p, box=b) for p, b in zip(picks, boxes)]
    image, masks = paint_scene(objects, config, rng, background)
    order = [int(i) for i in rng.permutation(n)]
    if config.captions == "varied":
        from paperzoo.world.captions import varied_caption

        words, token_object = varied_caption(objects, config, rng, background)
    else:
        words, token_object = describe(objects, order, config.caption_words, background)
    return Scene(image=image, objects=objects, masks=masks, words=words, token_object=token_object, background=background)


def _check_split(split: str) -> int:
    if split not in SPLIT_IDS:
        raise InputError(f"split: unknown {split!r}; allowed: {', '.join(SPLIT_IDS)}")
    return SPLIT_IDS[split]


def scene(config: SceneConfig, seed: int, index: int, split: str = "train") -> Scene:
    """Scene `index` of `split`: a pure function of its arguments."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _check_split(split), int(index)]))
    return render_scene(config, rng)


# ---------------------------------------------------------------------------- tokens


def tokenize(words: Sequence[str], max_tokens: int, vocab: Sequence[str] = VOCAB) -> tuple[np.ndarray, np.ndarray]:
    """Word ids padded with PAD_ID to `max_tokens`, and the real-token mask.

    Words outside `vocab` (VOCAB or an extension of it) map to UNK_ID. A caption longer than `max_tokens` raises, never
    silently truncates: a cut caption would drop the words the evaluations ask about.
    Returns ids (max_tokens,) int64 and mask (max_tokens,) bool.
    """
    if len(words) > max_tokens:
        raise InputError(f"caption: {len(words)} words exceed max_tokens={max_tokens}: {' '.join(words)!r}")
    ids = np.full(max_tokens, PAD_ID, dtype=np.int64)
    ids_of = WORD_TO_ID if vocab is VOCAB else {w: i for i, w in enumerate(vocab)}
    ids[: len(words)] = [ids_of.get(w, UNK_ID) for w in words]
    mask = np.zeros(max_tokens, dtype=bool)
    mask[: len(words)] = True
    return ids, mask


class WordTokenizer:
    """Whitespace word tokenizer over the fixed world VOCAB; unknown words -> UNK_ID."""

    def __init__(self, vocab: Sequence[str] = VOCAB):
        self.vocab = tuple(vocab)
        self._ids = {w: i for i, w in enumerate(self.vocab)}
        self.pad_id, self.unk_id = self._ids[PAD], self._ids[UNK]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, caption: str) -> list[int]:
        return [self._ids.get(w, self.unk_id) for w in caption.split()]

    def decode(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> str:
        """Words of `ids`, pads dropped."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return " ".join(self.vocab[i] for i in ids if i != self.pad_id)

    def __call__(self, captions: Sequence[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (N, max_tokens) int64 and mask (N, max_tokens) bool; raises on a too-long caption."""
        ids = torch.full((len(captions), max_tokens), self.pad_id, dtype=torch.int64)
        for n, caption in enumerate(captions):
            row = self.encode(caption)
            if len(row) > max_tokens:
                raise InputError(f"caption {n}: {len(row)} words exceed max_tokens={max_tokens}: {caption!r}")
            ids[n, : len(row)] = torch.tensor(row, dtype=torch.int64)
        return ids, ids != self.pad_id


# ---------------------------------------------------------------------------- batches

_ARRAYS = ("images", "masks", "boxes", "attributes", "n_objects", "token_ids", "token_mask", "token_object", "background")


@dataclass
class SceneBatch(ArrayBatch):
    """N scenes as arrays, padded to max_objects objects and max_tokens words."""

    ARRAYS: ClassVar[tuple[str, ...]] = _ARRAYS
    KIND: ClassVar[str] = "scene batch"

    images: np.ndarray  # (N, H, W, 3) uint8
    masks: np.ndarray  # (N, O, H, W) bool, absent objects all False
    boxes: np.ndarray  # (N, O, 4) int32 x0, y0, x1, y1; absent rows -1
    attributes: np.ndarray  # (N, O, 4) int16: index into config.shapes, colours, sizes, textures; absent -1
    n_objects: np.ndarray  # (N,) int64
    token_ids: np.ndarray  # (N, L) int64, PAD_ID padded
    token_mask: np.ndarray  # (N, L) bool, True on real tokens
    token_object: np.ndarray  # (N, L) int64, -1 on non-object words and pads, BACKGROUND_TOKEN on the background's name
    background: np.ndarray  # (N,) int64: index into config.backgrounds, -1 when unnamed
    captions: list[str] = field(default_factory=list)

    def images_float(self) -> torch.Tensor:
        """(N, 3, H, W) float32 in [0, 1]."""
        return torch.from_numpy(self.images).permute(0, 3, 1, 2).float().div_(255).contiguous()

    @classmethod
    def from_scenes(cls, scenes: Sequence[Scene], config: SceneConfig) -> SceneBatch:
        n, o, size, length = len(scenes), config.max_objects, config.image_size, config.max_tokens
        batch = cls(
            images=np.zeros((n, size, size, 3), np.uint8),
            masks=np.zeros((n, o, size, size), bool),
            boxes=np.full((n, o, 4), -1, np.int32),
            attributes=np.full((n, o, 4), -1, np.int16),
            n_objects=np.zeros(n, np.int64),
            token_ids=np.full((n, length), PAD_ID, np.int64),
            token_mask=np.zeros((n, length), bool),
            token_object=np.full((n, length), -1, np.int64),
            background=np.full(n, -1, np.int64),
            captions=[s.caption for s in scenes],
        )
        lookups = [{v: i for i, v in enumerate(vals)} for vals in (config.shapes, config.colours, config.sizes, config.textures)]
        for b, s in enumerate(scenes):
            k = len(s.objects)
            if k > o:
                raise InputError(f"scenes[{b}]: {k} objects exceed config.max_objects={o}")
            batch.images[b] = s.image
            batch.masks[b, :k] = s.masks
            batch.n_objects[b] = k
            for j, obj in enumerate(s.objects):
                batch.boxes[b, j] = obj.box
                try:
                    batch.attributes[b, j] = [lk[v] for lk, v in zip(lookups, (obj.shape, obj.colour, obj.size, obj.texture))]
                except KeyError as e:
                    raise InputError(f"scenes[{b}].objects[{j}]: attribute {e} is not in the config") from None
            batch.token_ids[b], batch.token_mask[b] = tokenize(s.words, length, config.vocab)
            batch.token_object[b, : len(s.token_object)] = s.token_object
            if s.background is not None:
                if s.background not in config.backgrounds:
                    raise InputError(f"scenes[{b}].background: {s.background!r} is not in the config")
                batch.background[b] = config.backgrounds.index(s.background)
        return batch


def make_scenes(config: SceneConfig, seed: int, n: int, start: int = 0, split: str = "train") -> SceneBatch:
    """Scenes start .. start + n - 1 of `split`."""
    return SceneBatch.from_scenes([scene(config, seed, i, split) for i in range(start, start + n)], config)


def _cache_key(config: SceneConfig, seed: int, n: int, split: str) -> str:
    blob = json.dumps([asdict(config), int(seed), int(n), split, WORLD_VERSION], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def scenes_cache_path(config: SceneConfig, seed: int, n: int, split: str = "eval") -> Path:
    return cache_dir("world", "scenes") / f"{_cache_key(config, seed, n, split)}.npz"


def load_scenes(config: SceneConfig, seed: int, n: int, split: str = "eval") -> SceneBatch:
    """`make_scenes(config, seed, n, split=split)`, cached under $PAPERZOO_CACHE/world/scenes.

    A missing, corrupt or mismatched cache file is regenerated and rewritten.
    """
    _check_split(split)
    return SceneBatch.cached(scenes_cache_path(config, seed, n, split), n, lambda: make_scenes(config, seed, n, split=split),
                             lambda b: b.images.shape[1:3] == (config.image_size,) * 2)


def scene_stream(config: SceneConfig, seed: int, batch_size: int, split: str = "train", start_batch: int = 0) -> Iterator[SceneBatch]:
    """Endless batches; batch k holds scenes k * batch_size ... (k + 1) * batch_size - 1.

    Deterministic in (config, seed, split), so a run resumes exactly with `start_batch`.
    """
    _check_split(split)
    return stream(lambda b, start: make_scenes(config, seed, b, start=start, split=split), batch_size, start_batch)


def patch_targets(masks: np.ndarray, patch: int, min_coverage: float = 0.25) -> np.ndarray:
    """Which patches each object covers by at least `min_coverage` of the patch's pixels.

    masks (N, O, H, W) bool -> (N, O, P) bool, patches row-major over the (H/patch, W/patch)
    grid (the order a ViT flattens them in). Ground truth for token -> patch localisation.
    """
    masks = np.asarray(masks)
    if masks.ndim != 4:
        raise InputError(f"masks: expected (N, O, H, W), got shape {masks.shape}")
    n, o, h, w = masks.shape
    if patch < 1 or h % patch or w % patch:
        raise InputError(f"patch: {patch} must divide the mask size {h}x{w}")
    cover = masks.reshape(n, o, h // patch, patch, w // patch, patch).mean(axis=(3, 5), dtype=np.float32)
    return (cover >= min_coverage).reshape(n, o, -1)
