"""Moving-shapes videos: short clips of 1-3 coloured shapes that bounce, orbit or drift.

The video world of WorldDreamer (and CustomVideo): the objects of `scenes`, painted by the
same renderer (`paint_scene`), now moving. Each object has a shape, a distinct colour, a
size and one of three motions:

- bounce: a fast straight line that reflects off the walls;
- orbit:  a circle around a fixed centre, clockwise or not;
- drift:  a slow straight line that stays inside the frame.

The caption names each object and its motion, in object order,

    "a red circle orbits and a blue square bounces"

and the per-frame action is the velocity of object 0, the object "driven" in action-to-video:
actions[t] = centre_t - centre_{t-1} in pixels (actions[0] = 0), as nuScenes' ego actions
are the ego car's own motion. Alongside the frames a clip returns the ground truth the
evaluations need: every object's centre in every frame (the trajectory), its motion, and
colours distinct within a clip, so `track_colours` can recover trajectories from generated
frames by colour alone.

The canvas is clean by default (`noise=0`), unlike the scenes' noisy one: measured on
2026-12-07, a 1024-code VQ tokenizer trained on frames with noise 0.02 spent its codes on
the noise (the most common code held 0.5% of the tokens; unigram entropy 6.75 nats, near
uniform), so the masked-token model had mostly unpredictable noise to predict.

A pure function of (config, seed, split, index), drawn from its own random stream, so two
runs see identical clips and evaluation clips never appear in training.
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
from paperzoo.world.scenes import (
    ALL_COLOURS, ALL_SHAPES, ALL_SIZES, COLOURS, PAD, PAD_ID, SHAPES, SPLIT_IDS, UNK, UNK_ID, SceneConfig, SceneObject,
    paint_scene, size_extent,
)

VIDEOS_VERSION = 1

MOTIONS: tuple[str, ...] = ("bounce", "orbit", "drift")
MOTION_VERBS: dict[str, str] = {"bounce": "bounces", "orbit": "orbits", "drift": "drifts"}
# Every possible word, not only a config's, so ids are stable across configs.
VIDEO_VOCAB: tuple[str, ...] = (PAD, UNK, "a", "and") + tuple(ALL_COLOURS) + ALL_SHAPES + tuple(MOTION_VERBS.values())
_WORD_ID = {w: i for i, w in enumerate(VIDEO_VOCAB)}
_DOMAIN = 0x5EED_71DE  # separates the video streams from the scene streams of the same seed

# Speeds in pixels per frame at 32 px, scaled with the image side.
BOUNCE_SPEED, DRIFT_SPEED = (1.5, 2.5), (0.5, 0.9)
ORBIT_RADIUS, ORBIT_STEP = (4.0, 7.0), (0.6, 0.9)  # radius in px at 32 px; radians per frame


@dataclass(frozen=True)
class VideoConfig:
    image_size: int = 32
    frames: int = 8
    min_objects: int = 1
    max_objects: int = 3
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    sizes: tuple[str, ...] = ("small", "medium")  # 7 px and 10 px at 32 px
    motions: tuple[str, ...] = MOTIONS
    noise: float = 0.0  # std of Gaussian noise on the background (fresh in every frame); see the docstring

    def __post_init__(self):
        for name, allowed in (("shapes", ALL_SHAPES), ("colours", ALL_COLOURS), ("sizes", ALL_SIZES), ("motions", MOTIONS)):
            values = getattr(self, name)
            if isinstance(values, str):
                raise ConfigError(f"VideoConfig.{name}: expected a tuple of names, got the string {values!r}")
            values = tuple(values)
            object.__setattr__(self, name, values)
            unknown = [v for v in values if v not in allowed]
            if not values or unknown or len(set(values)) != len(values):
                raise ConfigError(f"VideoConfig.{name}: {values!r}; expected distinct names from {', '.join(allowed)}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ConfigError(f"VideoConfig: need 1 <= min_objects <= max_objects, got {self.min_objects} and {self.max_objects}")
        if self.max_objects > len(self.colours):
            raise ConfigError(f"VideoConfig.max_objects: {self.max_objects} objects need as many distinct colours; "
                              f"the config has {len(self.colours)}")
        if self.frames < 2:
            raise ConfigError(f"VideoConfig.frames: need at least 2, got {self.frames}")
        if self.noise < 0:
            raise ConfigError(f"VideoConfig.noise: must be >= 0, got {self.noise}")
        largest = max(size_extent(s, self.image_size) for s in self.sizes)
        room = self.image_size - largest - 2 * ORBIT_RADIUS[1] * self.scale
        if room < 0 or min(size_extent(s, self.image_size) for s in self.sizes) < 3:
            raise ConfigError(f"VideoConfig.image_size: {self.image_size} px is too small for sizes {self.sizes} to move in")

    @property
    def scale(self) -> float:
        """Pixels at this size per pixel at 32 px."""
        return self.image_size / 32

    @property
    def max_tokens(self) -> int:
        """The longest caption: 4 words per object and an "and" between objects."""
        return 5 * self.max_objects - 1

    @property
    def scene_config(self) -> SceneConfig:
        """The renderer's view of this config (canvas size and noise)."""
        return SceneConfig(image_size=self.image_size, min_objects=1, max_objects=1, shapes=self.shapes,
                           colours=self.colours, sizes=self.sizes, noise=self.noise)


@dataclass
class Clip:
    frames: np.ndarray  # (N, H, W, 3) uint8
    objects: list[SceneObject]  # attributes, and the box in frame 0
    motions: list[str]  # per object
    centres: np.ndarray  # (n_objects, N, 2) float32 x, y of each object's box centre, pixels
    actions: np.ndarray  # (N, 2) float32: object 0's velocity into frame t, pixels per frame; actions[0] = 0
    words: list[str]

    @property
    def caption(self) -> str:
        return " ".join(self.words)


def _trajectory(motion: str, extent: int, config: VideoConfig, rng: np.random.Generator) -> np.ndarray:
    """(N, 2) box centres of one object, kept inside the frame: extent/2 <= centre <= size - extent/2."""
    n, k = config.frames, config.scale
    lo, hi = extent / 2, config.image_size - extent / 2
    if motion == "orbit":
        radius = rng.uniform(*ORBIT_RADIUS) * k
        step = rng.uniform(*ORBIT_STEP) * rng.choice([-1.0, 1.0])
        phase = rng.uniform(0, 2 * math.pi)
        centre = rng.uniform(lo + radius, hi - radius, size=2)
        angle = phase + step * np.arange(n)
        return np.stack([centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)], axis=1)
    angle = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(*(BOUNCE_SPEED if motion == "bounce" else DRIFT_SPEED)) * k
    v = speed * np.array([math.cos(angle), math.sin(angle)])
    if motion == "drift":  # a start from which the whole straight path stays inside
        span = v * (n - 1)
        start = rng.uniform(lo + np.maximum(0, -span), hi - np.maximum(0, span))
        return start + v * np.arange(n)[:, None]
    p = rng.uniform(lo, hi, size=2)
    out = [p.copy()]
    for _ in range(n - 1):  # bounce: a step, then mirror what passed a wall back inside
        p = p + v
        for a in range(2):
            if p[a] < lo:
                p[a], v[a] = 2 * lo - p[a], -v[a]
            elif p[a] > hi:
                p[a], v[a] = 2 * hi - p[a], -v[a]
        out.append(p.copy())
    return np.stack(out)


def _box(centre: np.ndarray, extent: int) -> tuple[int, int, int, int]:
    x0, y0 = (int(round(c - extent / 2)) for c in centre)
    return x0, y0, x0 + extent, y0 + extent


def caption_words(objects: Sequence[SceneObject], motions: Sequence[str]) -> list[str]:
    """"a <colour> <shape> <verb>" per object, joined by "and", in object order."""
    words: list[str] = []
    for i, (obj, motion) in enumerate(zip(objects, motions)):
        words += (["and"] if i else []) + ["a", obj.colour, obj.shape, MOTION_VERBS[motion]]
    return words


def render_clip(config: VideoConfig, rng: np.random.Generator) -> Clip:
    """Draw one clip from `rng`: attributes uniform (colours distinct), motions uniform."""
    n = int(rng.integers(config.min_objects, config.max_objects + 1))
    shapes = [config.shapes[i] for i in rng.integers(len(config.shapes), size=n)]
    colours = [config.colours[i] for i in rng.permutation(len(config.colours))[:n]]
    sizes = [config.sizes[i] for i in rng.integers(len(config.sizes), size=n)]
    motions = [config.motions[i] for i in rng.integers(len(config.motions), size=n)]
    extents = [size_extent(s, config.image_size) for s in sizes]
    centres = np.stack([_trajectory(m, e, config, rng) for m, e in zip(motions, extents)]).astype(np.float32)
    brightness = rng.uniform(0.85, 1.0, size=n)
    scene_config = config.scene_config
    frames = np.zeros((config.frames, config.image_size, config.image_size, 3), np.uint8)
    for t in range(config.frames):
        objects = [SceneObject(shapes[i], colours[i], sizes[i], "plain", _box(centres[i, t], extents[i])) for i in range(n)]
        frames[t], _ = paint_scene(objects, scene_config, rng, brightness=brightness)
    first = [SceneObject(shapes[i], colours[i], sizes[i], "plain", _box(centres[i, 0], extents[i])) for i in range(n)]
    actions = np.zeros((config.frames, 2), np.float32)
    actions[1:] = np.diff(centres[0], axis=0)
    return Clip(frames=frames, objects=first, motions=motions, centres=centres, actions=actions,
                words=caption_words(first, motions))


def _check_split(split: str) -> int:
    if split not in SPLIT_IDS:
        raise InputError(f"split: unknown {split!r}; allowed: {', '.join(SPLIT_IDS)}")
    return SPLIT_IDS[split]


def clip(config: VideoConfig, seed: int, index: int, split: str = "train") -> Clip:
    """Clip `index` of `split`: a pure function of its arguments."""
    rng = np.random.default_rng(np.random.SeedSequence([_DOMAIN, int(seed), _check_split(split), int(index)]))
    return render_clip(config, rng)


# ---------------------------------------------------------------------------- tracking


def track_colours(frames: np.ndarray, colours: Sequence[str], min_pixels: int = 3) -> np.ndarray:
    """Each named colour's centroid in each frame: the trajectories of generated frames.

    A pixel belongs to colour c when it is bright (its largest channel above 0.35 in [0, 1])
    and c is its nearest colour by the angle between RGB vectors (brightness-free). A colour
    covering fewer than `min_pixels` pixels in a frame is absent there (NaN).
    frames (N, H, W, 3) uint8 -> (len(colours), N, 2) float32 x, y in pixels (pixel centres).
    """
    x = frames.astype(np.float32) / 255
    palette = np.asarray([ALL_COLOURS[c] for c in colours], np.float32)
    palette /= np.linalg.norm(palette, axis=1, keepdims=True)
    bright = x.max(-1) > 0.35
    unit = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-6)
    nearest = np.argmax(unit @ palette.T, axis=-1)  # (N, H, W)
    h, w = frames.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    out = np.full((len(colours), len(frames), 2), np.nan, np.float32)
    for c in range(len(colours)):
        sel = bright & (nearest == c)
        count = sel.sum(axis=(1, 2))
        ok = count >= min_pixels
        safe = np.maximum(count, 1)
        out[c, ok, 0] = ((sel * xs).sum(axis=(1, 2)) / safe)[ok]
        out[c, ok, 1] = ((sel * ys).sum(axis=(1, 2)) / safe)[ok]
    return out


# ---------------------------------------------------------------------------- batches

_ARRAYS = ("frames", "centres", "n_objects", "attributes", "actions", "token_ids", "token_mask")
ATTRIBUTE_NAMES = ("shape", "colour", "size", "motion")


@dataclass
class ClipBatch(ArrayBatch):
    """B clips as arrays, padded to max_objects objects and max_tokens words."""

    ARRAYS: ClassVar[tuple[str, ...]] = _ARRAYS
    KIND: ClassVar[str] = "clip batch"

    frames: np.ndarray  # (B, N, H, W, 3) uint8
    centres: np.ndarray  # (B, O, N, 2) float32, NaN for absent objects
    n_objects: np.ndarray  # (B,) int64
    attributes: np.ndarray  # (B, O, 4) int16: index into config.shapes, colours, sizes, motions; absent -1
    actions: np.ndarray  # (B, N, 2) float32
    token_ids: np.ndarray  # (B, L) int64 into VIDEO_VOCAB, PAD_ID padded
    token_mask: np.ndarray  # (B, L) bool
    captions: list[str] = field(default_factory=list)

    def frames_float(self) -> torch.Tensor:
        """(B, N, 3, H, W) float32 in [0, 1]."""
        return torch.from_numpy(self.frames).permute(0, 1, 4, 2, 3).float().div_(255).contiguous()

    @classmethod
    def from_clips(cls, clips: Sequence[Clip], config: VideoConfig) -> ClipBatch:
        b, o, n, s, length = len(clips), config.max_objects, config.frames, config.image_size, config.max_tokens
        batch = cls(
            frames=np.zeros((b, n, s, s, 3), np.uint8), centres=np.full((b, o, n, 2), np.nan, np.float32),
            n_objects=np.zeros(b, np.int64), attributes=np.full((b, o, 4), -1, np.int16),
            actions=np.zeros((b, n, 2), np.float32), token_ids=np.full((b, length), PAD_ID, np.int64),
            token_mask=np.zeros((b, length), bool), captions=[c.caption for c in clips],
        )
        for i, c in enumerate(clips):
            k = len(c.objects)
            batch.frames[i], batch.centres[i, :k], batch.n_objects[i], batch.actions[i] = c.frames, c.centres, k, c.actions
            for j, (obj, motion) in enumerate(zip(c.objects, c.motions)):
                batch.attributes[i, j] = (config.shapes.index(obj.shape), config.colours.index(obj.colour),
                                          config.sizes.index(obj.size), config.motions.index(motion))
            batch.token_ids[i], batch.token_mask[i] = tokenize_caption(c.words, length)
        return batch


def tokenize_caption(words: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids into VIDEO_VOCAB padded to `max_tokens` (unknown words -> UNK_ID), and the real-token mask."""
    if len(words) > max_tokens:
        raise InputError(f"caption: {len(words)} words exceed max_tokens={max_tokens}: {' '.join(words)!r}")
    ids = np.full(max_tokens, PAD_ID, np.int64)
    ids[: len(words)] = [_WORD_ID.get(w, UNK_ID) for w in words]
    mask = np.zeros(max_tokens, bool)
    mask[: len(words)] = True
    return ids, mask


def make_clips(config: VideoConfig, seed: int, n: int, start: int = 0, split: str = "train") -> ClipBatch:
    """Clips start .. start + n - 1 of `split`."""
    return ClipBatch.from_clips([clip(config, seed, i, split) for i in range(start, start + n)], config)


def clips_cache_path(config: VideoConfig, seed: int, n: int, split: str = "eval") -> Path:
    blob = json.dumps([asdict(config), int(seed), int(n), split, VIDEOS_VERSION], sort_keys=True)
    return cache_dir("world", "videos") / f"{hashlib.sha256(blob.encode()).hexdigest()[:24]}.npz"


def load_clips(config: VideoConfig, seed: int, n: int, split: str = "eval") -> ClipBatch:
    """`make_clips(config, seed, n, split=split)`, cached under $PAPERZOO_CACHE/world/videos;
    a missing, corrupt or mismatched cache file is regenerated."""
    _check_split(split)
    return ClipBatch.cached(clips_cache_path(config, seed, n, split), n, lambda: make_clips(config, seed, n, split=split),
                            lambda b: b.frames.shape[1:4] == (config.frames, config.image_size, config.image_size))


def clip_stream(config: VideoConfig, seed: int, batch_size: int, split: str = "train", start_batch: int = 0) -> Iterator[ClipBatch]:
    """Endless batches; batch k holds clips k * batch_size ... (k + 1) * batch_size - 1 (resumable)."""
    _check_split(split)
    return stream(lambda b, start: make_clips(config, seed, b, start=start, split=split), batch_size, start_batch)
