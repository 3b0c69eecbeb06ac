"""The system's data on the styled-scene world: user inputs in §II-A's four paradigms, the
database's prompts, and the rule controller's lexicon.

A user input wraps a caption of the styled world ("a large red circle in outline style")
in one of the paper's four prompt types, with words the generators never saw:

    prompt        a large red circle in outline style
    instruction   generate an image of a large red circle in outline style
    inspiration   I want to see a large red circle in outline style
    hypothesis    If you show me a large red circle in outline style, I will smile

The styled world has only 5 shapes x 6 colours x 2 sizes x 4 styles = 240 captions, so
splitting scenes would leave every evaluation caption stored verbatim in the database. The
split is by (colour, shape) instead: a fixed 30% of the 30 pairs (by `world.text.is_held_out`)
are evaluation-only, the rest database-only. An evaluation prompt's nearest stored prompts
then share its style, subject and size words, never the whole caption (the card's pitfall:
"keep database prompts disjoint from evaluation prompts").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paperzoo.world.styles import STYLES, SUBJECTS, StyledBatch, StyledConfig, make_styled
from paperzoo.world.text import is_held_out

HELD_OUT = 0.3  # the share of (colour, shape) pairs kept for evaluation

PARADIGMS = ("prompt", "instruction", "inspiration", "hypothesis")
TEMPLATES: dict[str, tuple[str, ...]] = {
    "prompt": ("{c}",),
    "instruction": ("generate an image of {c}", "please draw a picture of {c}", "create an illustration of {c}"),
    "inspiration": ("I want to see {c}", "I would like to look at {c}", "I dream to see {c}"),
    "hypothesis": ("If you show me {c}, I will smile", "If I had {c}, I would be very happy",
                   "If you give me {c}, I will laugh very happily"),
}

# The rule controller's lexicon: the words that signal each subject and style category.
SUBJECT_WORDS: dict[str, tuple[str, ...]] = {
    "round": ("circle", "circles", "round", "ball", "disc"),
    "angular": ("square", "triangle", "diamond", "angular", "polygon", "squares", "triangles"),
    "crossed": ("cross", "crosses", "plus", "crossed"),
}
STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "flat": ("flat", "plain", "simple"),
    "outline": ("outline", "line art", "lineart", "contour"),
    "photo": ("photo", "photographic", "realistic", "film"),
    "pixel": ("pixel", "pixel art", "mosaic", "8-bit", "retro"),
}
assert set(SUBJECT_WORDS) == set(SUBJECTS) and set(STYLE_WORDS) == set(STYLES)


@dataclass
class Inputs:
    """User inputs and what each should have been parsed to and generated."""
    texts: list[str]  # the inputs as a user types them
    captions: list[str]  # the core prompt (the world caption)
    paradigms: list[str]
    domains: list[tuple[str, str]]  # (subject, style)
    images: np.ndarray  # (N, H, W, 3) uint8, the world's render of each caption (a reference)

    def __len__(self) -> int:
        return len(self.texts)


def evaluation_pair(colour: str, shape: str) -> bool:
    return is_held_out(f"diffusiongpt {colour} {shape}", HELD_OUT)


def _scenes(config: StyledConfig, seed: int, n: int, split: str, held_out: bool) -> StyledBatch:
    """The first `n` scenes of `split` whose (colour, shape) pair is (or is not) held out."""
    keep: list[int] = []
    start = 0
    while len(keep) < n:
        chunk = make_styled(config, seed, 4 * n, start=start, split=split)
        keep += [start + i for i, (c, s) in enumerate(zip(chunk.colours, chunk.shapes)) if evaluation_pair(c, s) == held_out]
        start += 4 * n
    keep = keep[:n]
    parts = [make_styled(config, seed, 1, start=i, split=split) for i in keep]
    return StyledBatch(np.stack([p.images[0] for p in parts]), *[[getattr(p, f)[0] for p in parts]
                       for f in ("captions", "subjects", "styles", "shapes", "colours", "sizes")])


def user_inputs(config: StyledConfig, seed: int, n: int, split: str = "test") -> Inputs:
    """`n` inputs on held-out (colour, shape) pairs, each in a paradigm cycled in order and a
    template drawn from the seed."""
    batch = _scenes(config, seed, n, split, held_out=True)
    rng = np.random.default_rng([seed, 17])
    texts, paradigms = [], []
    for i, caption in enumerate(batch.captions):
        paradigm = PARADIGMS[i % len(PARADIGMS)]
        options = TEMPLATES[paradigm]
        texts.append(options[int(rng.integers(len(options)))].format(c=caption))
        paradigms.append(paradigm)
    return Inputs(texts, batch.captions, paradigms, batch.domains, batch.images)


def database_prompts(config: StyledConfig, seed: int, n: int) -> list[str]:
    """The advantage database's prompts: `n` distinct captions of "train" scenes on the other
    pairs, in the order the scenes come (the world has 192 such captions; asking for more
    raises)."""
    pairs = [(c, s) for c in config.colours for s in {sh for shs in SUBJECTS.values() for sh in shs}
             if not evaluation_pair(c, s)]
    available = len(pairs) * len(config.sizes) * len(config.styles)
    if n > available:
        raise ValueError(f"database_prompts: {n} distinct captions asked for; the world has {available}")
    seen: dict[str, None] = {}
    chunk = 0
    while len(seen) < n:
        for caption in _scenes(config, seed + 7 * chunk, 4 * n, "train", held_out=False).captions:
            seen.setdefault(caption)
        chunk += 1
    return list(seen)[:n]
