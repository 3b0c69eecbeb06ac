"""Varied captions for the scene world: the pairing of words with objects changes from caption
to caption.

The default captions put every word in a fixed slot ("a large red circle left of a small
blue square"): the k-th word of a caption of a given length almost always describes the same
object of the naming order (`slot_determinism` 0.98; a relation of one or two words shifts
the later slots), so a word's slot says which object it belongs to as well as the word itself
does. A model whose fine-grained loss is symmetric under permuting a caption's tokens
(SPARC's L_f) can then let function words in fixed slots own the objects (see the SPARC
README). At paper scale what breaks this is the data: a word recurs in many different
captions at many positions. `varied_caption` brings that to the world:

- several templates per relation, with the objects in varied order:
      "a red circle left of a blue square"           X REL Y
      "left of a blue square is a red circle"        REL Y is X
      "there is a blue square , and a red circle to its left"
      "a blue square right of a red circle"          Y INV X
  and for three objects "X REL Y and REL Z", "there is X , with Y to its left and Z above it"
  or the old chain "X REL Y REL Z";
- captions that name only some of the objects (`PARTIAL`), attribute words dropped
  (`DROP`, the shape noun always kept);
- synonyms ("disc" for circle, "big" for large, "to the left of", "under", ...; `SYNONYMS`);
- distractor phrases before or after ("here we see ...", "... in this picture").

`SceneConfig(captions="varied")` draws them (`VARIED` is the named config, which also uses the
larger object vocabulary of `scenes.EXTRA_*`); the default world keeps its fixed captions.
`CANONICAL` maps each synonym back to the attribute value it names, for the evaluations.
Every random choice comes from the scene's own generator, after the fixed world's draws, so
a scene's objects and pixels are those of the same (config, seed, index) with fixed captions.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from paperzoo.world.scenes import (
    ALL_COLOURS, ALL_SHAPES, ALL_SIZES, ALL_TEXTURES, ATTRIBUTES, BACKGROUND_TOKEN, VOCAB, SceneConfig, SceneObject,
    relation_word,
)

PARTIAL = 0.3  # probability that a caption names a random proper subset of the objects
DROP = 0.3  # probability that each of an object's size, texture and colour words is left out
SYNONYM = 0.4  # probability that a word with synonyms is replaced by one of them
DISTRACTOR = 0.4  # probability of a distractor phrase (before or after, evenly)

SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("disc",), "square": ("box",), "cross": ("plus",), "diamond": ("rhombus",), "ring": ("hoop",),
    "small": ("little", "tiny"), "large": ("big",),
}
CANONICAL: dict[str, str] = {syn: word for word, syns in SYNONYMS.items() for syn in syns}
# Where X is relative to Y, as the words between them ("X left of Y" / "X to the left of Y").
RELATION_PHRASES: dict[str, tuple[tuple[str, ...], ...]] = {
    "left": (("left", "of"), ("to", "the", "left", "of")),
    "right": (("right", "of"), ("to", "the", "right", "of")),
    "above": (("above",), ("over",)),
    "below": (("below",), ("under",), ("beneath",)),
}
# "there is Y , and X <to its left>": X's place relative to Y, said of Y.
POSSESSIVE_PHRASES: dict[str, tuple[tuple[str, ...], ...]] = {
    "left": (("to", "its", "left"),), "right": (("to", "its", "right"),),
    "above": (("above", "it"), ("over", "it")), "below": (("below", "it"), ("under", "it")),
}
PREFIXES: tuple[tuple[str, ...], ...] = (("here", "we", "see"), ("a", "picture", "of"), ("in", "this", "image"),
                                         ("a", "simple", "drawing", "of"))
SUFFIXES: tuple[tuple[str, ...], ...] = (("in", "this", "picture"), ("on", "a", "dark", "background"), ("seen", "from", "above"))

_WORDS = ([*ALL_SHAPES, *ALL_COLOURS, *ALL_SIZES, *ALL_TEXTURES]
          + [w for syns in SYNONYMS.values() for w in syns]
          + [w for phrases in (*RELATION_PHRASES.values(), *POSSESSIVE_PHRASES.values()) for p in phrases for w in p]
          + [w for p in (*PREFIXES, *SUFFIXES) for w in p]
          + ["is", "there", ",", "with"])
# The fixed world's VOCAB with the new words appended: every old word keeps its id.
VARIED_VOCAB: tuple[str, ...] = VOCAB + tuple(dict.fromkeys(w for w in _WORDS if w not in VOCAB))


def _pick(options: Sequence, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def _word(word: str, rng: np.random.Generator) -> str:
    if word in SYNONYMS and rng.random() < SYNONYM:
        return _pick(SYNONYMS[word], rng)
    return word


def _object_phrase(obj: SceneObject, caption_words: Sequence[str], rng: np.random.Generator) -> list[str]:
    """"a [size] [texture] [colour] shape": each attribute word dropped with probability DROP."""
    words = ["a"]
    for attribute in ATTRIBUTES:
        value = getattr(obj, attribute)
        if attribute not in caption_words or (attribute == "texture" and value == "plain"):
            continue
        if attribute != "shape" and rng.random() < DROP:
            continue
        words.append(_word(value, rng))
    return words


class _Caption:
    """Words and, per word, the object it describes (-1 for none)."""

    def __init__(self):
        self.words: list[str] = []
        self.token_object: list[int] = []

    def say(self, *words: str) -> "_Caption":
        self.words += words
        self.token_object += [-1] * len(words)
        return self

    def name(self, index: int, phrase: list[str]) -> "_Caption":
        self.words += phrase
        self.token_object += [-1] + [index] * (len(phrase) - 1)  # the article describes no object
        return self


def _relation(objects: Sequence[SceneObject], i: int, j: int, rng: np.random.Generator) -> tuple[str, ...]:
    rel = relation_word(objects[i], objects[j])[0]
    return _pick(RELATION_PHRASES[rel], rng)


def _possessive(objects: Sequence[SceneObject], i: int, j: int, rng: np.random.Generator) -> tuple[str, ...]:
    rel = relation_word(objects[i], objects[j])[0]
    return _pick(POSSESSIVE_PHRASES[rel], rng)


def varied_caption(objects: Sequence[SceneObject], config: SceneConfig, rng: np.random.Generator,
                   background: str | None = None) -> tuple[list[str], list[int]]:
    """A varied caption of `objects`: words and per-word object index (as `scenes.describe`)."""
    n = len(objects)
    order = [int(i) for i in rng.permutation(n)]
    if n > 1 and rng.random() < PARTIAL:
        order = order[: int(rng.integers(1, n))]
    phrases = {i: _object_phrase(objects[i], config.caption_words, rng) for i in order}
    c = _Caption()
    if len(order) == 1:
        c.name(order[0], phrases[order[0]])
    elif len(order) == 2:
        x, y = order
        template = int(rng.integers(4))
        if template == 0:  # X REL Y
            c.name(x, phrases[x]).say(*_relation(objects, x, y, rng)).name(y, phrases[y])
        elif template == 1:  # REL Y is X
            c.say(*_relation(objects, x, y, rng)).name(y, phrases[y]).say("is").name(x, phrases[x])
        elif template == 2:  # there is Y , and X to its REL
            c.say("there", "is").name(y, phrases[y]).say(",", "and").name(x, phrases[x]).say(*_possessive(objects, x, y, rng))
        else:  # Y INV X
            c.name(y, phrases[y]).say(*_relation(objects, y, x, rng)).name(x, phrases[x])
    else:
        x, y, z = order
        template = int(rng.integers(3))
        if template == 0:  # X REL Y and REL Z
            c.name(x, phrases[x]).say(*_relation(objects, x, y, rng)).name(y, phrases[y])
            c.say("and", *_relation(objects, x, z, rng)).name(z, phrases[z])
        elif template == 1:  # there is X , with Y to its REL and Z to its REL
            c.say("there", "is").name(x, phrases[x]).say(",", "with").name(y, phrases[y]).say(*_possessive(objects, y, x, rng))
            c.say("and").name(z, phrases[z]).say(*_possessive(objects, z, x, rng))
        else:  # X REL Y REL Z: the fixed world's chain
            c.name(x, phrases[x]).say(*_relation(objects, x, y, rng)).name(y, phrases[y])
            c.say(*_relation(objects, y, z, rng)).name(z, phrases[z])
    if rng.random() < DISTRACTOR:  # before ("here we see ..."; not before "there is") or after
        if c.words[0] != "there" and rng.integers(2):
            prefix = list(_pick(PREFIXES, rng))
            c.words, c.token_object = prefix + c.words, [-1] * len(prefix) + c.token_object
        else:
            c.say(*_pick(SUFFIXES, rng))
    if background is not None:
        c.say("on")
        c.words.append(background)
        c.token_object.append(BACKGROUND_TOKEN)
    return c.words, c.token_object


def max_varied_length(max_objects: int, textured: bool, named_background: bool = False) -> int:
    """Longest varied caption: the longest template at full object phrases, 4-word relations
    and the longest distractor."""
    phrase = 4 + (1 if textured else 0)  # "a" size [texture] colour shape
    rel, poss = 4, 3
    distractor = max(len(p) for p in (*PREFIXES, *SUFFIXES))
    longest = {1: phrase,
               2: max(2 * phrase + rel, 2 * phrase + rel + 1, 2 + phrase + 2 + phrase + poss),
               3: max(3 * phrase + 2 * rel + 1, 2 + phrase + 2 + phrase + poss + 1 + phrase + poss, 3 * phrase + 2 * rel)}
    return max(longest[k] for k in range(1, min(max_objects, 3) + 1)) + distractor + (2 if named_background else 0)


def canonical(word: str) -> str:
    """The attribute value a caption word names ("disc" -> "circle"); other words unchanged."""
    return CANONICAL.get(word, word)


# The named varied world: every shape, colour, size and texture, varied captions.
VARIED = SceneConfig(shapes=ALL_SHAPES, colours=tuple(ALL_COLOURS), sizes=tuple(ALL_SIZES), textures=ALL_TEXTURES,
                     captions="varied", max_tokens=max_varied_length(3, textured=True))


def slot_determinism(token_object: np.ndarray, token_mask: np.ndarray) -> float:
    """How far a word's slot says what the word is bound to: over every word of a batch, the
    share whose binding (none, or the naming rank of its object: first-named 0, next 1, ...)
    is the most common binding at its (caption length, position). 1.0 for captions in fixed
    slots; the default world measures 0.98 (a relation of one or two words shifts the later
    slots) and VARIED 0.69 (2,000 training scenes, seed 0; tests/world/test_captions.py)."""
    counts: dict[tuple[int, int], dict[int, int]] = {}
    for objs, mask in zip(np.asarray(token_object), np.asarray(token_mask)):
        length = int(mask.sum())
        rank: dict[int, int] = {}
        for pos, o in enumerate(objs[:length]):
            r = rank.setdefault(int(o), len(rank)) if o >= 0 else -1
            slot = counts.setdefault((length, pos), {})
            slot[r] = slot.get(r, 0) + 1
    total = sum(sum(c.values()) for c in counts.values())
    return sum(max(c.values()) for c in counts.values()) / total if total else float("nan")
