"""English instructions that a program checks exactly, where checking is easier than answering.

The instruction world (`instructions`) is token-level and made for a tiny model trained from
scratch. These tasks are for a real instruct model (SmolLM2-135M-Instruct and up), in plain
English, and each has a generation-verification gap: writing a 7-word sentence that contains
"river" and ends with "?" takes planning; counting the words of a given sentence does not.
Self-Rewarding LMs rests on that gap (the judge must tell answers apart better than the policy
writes them). Six families:

    sentence      Write a sentence of exactly 7 words that contains the word 'river' and ends with
                  a question mark.                            ->  Did you walk to the river yesterday?
    list          List four distinct fruits in alphabetical order, separated by commas. Do not
                  include banana.                             ->  apple, cherry, grape, mango
    letters       Name three animals whose names start with the letter B, separated by commas.
                                                              ->  bat, bear, bison
    json          Reply with only a JSON object with the keys "name" (a string) and "age" (a whole
                  number).                                    ->  {"name": "Alice", "age": 34}
    verify        Is 17 + 25 = 43? Answer yes or no.          ->  No.
    repeat        Repeat the word 'apple' exactly three times, separated by spaces.
                                                              ->  apple apple apple

Each task lists its constraints (the checker's; `constraints(task, reply)`), some of them
core, the task's basic elements (sentence: the word; list and letters: the category, and the
letter; json: a JSON object; verify: the right verdict; repeat: the word). A reply is read
generously: its lines one by one, the text after a colon ("Here they are: ant, bee"), a
numbered or bulleted list, a JSON object inside a code fence, the first yes/no; the reading
that meets the most constraints counts.

The rubric: Fig. 2's five additive criteria, mapped by us (the paper gives them in words for
open-ended prompts; this mapping is ours) to what a program decides for these tasks:

    1 relevant, some information   the reply is on topic: it attempts this task (the word, the
                                   category, a key, a verdict or the sum's numbers, or a
                                   sentence of the asked length)
    2 a substantial portion        and at least half of the constraints are met
    3 the basic elements, usefully and every core constraint is met, and all others but one
    4 direct and comprehensive     and every constraint is met (the answer is in the reply)
    5 impeccably tailored          and the reply is that answer alone: no preamble, no
                                   explanation, no code fence

The criteria are nested, as Fig. 2's wording is ("another point", "a third point"), so the
additive score is the highest level reached: 5 for the exact answer, 4 for the right answer
with extra text, 2-3 for near misses, 0-1 for a reply off the task. `check(task, reply)` is
the exact answer (score 5).

Tasks are pure functions of (seed, split, index) on the instruction world's splits and its
held-out rule (`instructions.SPLITS`, `instructions.HELD_OUT_FRACTION`, `text.is_held_out` of
the instruction's text); a task's family is drawn first and its parameters are redrawn until
the held-out status matches the split, so every split holds the six families equally often.
The held-out pools are small (distinct held-out instructions: letters about 30, repeat 56,
json 74, list 83, sentence 100, verify thousands), so a long held-out split repeats
instructions; `tasks_by_family` takes each instruction once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from paperzoo.core.errors import ConfigError
from paperzoo.world import text
from paperzoo.world.instructions import HELD_OUT_FRACTION, SPLITS

CHECKABLE_VERSION = 1

FAMILIES: tuple[str, ...] = ("sentence", "list", "letters", "json", "verify", "repeat")
_STREAM = 11  # this world's tag in the random key (seed, split, index, tag): its own streams

NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}

# ---------------------------------------------------------------------------- the lexicons the checker knows

LEXICONS: dict[str, frozenset[str]] = {
    "animals": frozenset("""ant antelope ape armadillo baboon badger bat bear beaver bee beetle bison boar buffalo butterfly
        camel canary cat caterpillar cheetah chicken chimpanzee chipmunk cobra cougar cow coyote crab crane crocodile crow
        deer dingo dog dolphin donkey dove dragonfly duck eagle eel elephant elk emu falcon ferret finch fish flamingo fly
        fox frog gazelle gecko gerbil gibbon giraffe gnu goat goldfish goose gorilla grasshopper hamster hare hawk hedgehog
        heron hippo hippopotamus horse hummingbird hyena ibis iguana impala jackal jaguar jellyfish kangaroo kingfisher
        kiwi koala ladybug lamb lemming lemur leopard lion lizard llama lobster lynx macaw magpie mammoth manatee meerkat
        mink mole mongoose monkey moose mosquito moth mouse mule narwhal newt nightingale octopus opossum orangutan orca
        ostrich otter owl ox oyster panda panther parrot peacock pelican penguin pheasant pig pigeon piranha platypus pony
        porcupine possum puffin puma python quail rabbit raccoon ram rat raven reindeer rhino rhinoceros robin salamander
        salmon scorpion seahorse seal shark sheep shrimp skunk sloth slug snail snake sparrow spider squid squirrel starfish
        stork swan tapir termite tiger toad tortoise toucan trout tuna turkey turtle vulture wallaby walrus wasp weasel whale
        wolf wolverine wombat woodpecker worm yak zebra""".split()),
    "fruits": frozenset("""apple apricot avocado banana blackberry blackcurrant blueberry cantaloupe cherry clementine coconut
        cranberry currant date durian elderberry fig gooseberry grape grapefruit guava honeydew jackfruit kiwi kumquat
        lemon lime lychee mandarin mango melon mulberry nectarine olive orange papaya peach pear persimmon pineapple plum
        pomegranate quince raisin raspberry redcurrant starfruit strawberry tangerine watermelon""".split()
                         + ["passion fruit", "dragon fruit", "star fruit", "kiwi fruit"]),
    "colours": frozenset("""amber aqua azure beige black blue bronze brown burgundy charcoal chartreuse copper coral cream
        crimson cyan emerald fuchsia gold gray green grey indigo ivory jade khaki lavender lemon lilac lime magenta maroon
        mauve mint mustard navy ochre olive orange peach pink plum purple red rose ruby rust saffron salmon sapphire scarlet
        sienna silver tan teal turquoise ultramarine vermilion violet white yellow""".split()
                          + ["navy blue", "sky blue", "light blue", "dark blue", "dark green", "light green"]),
    "countries": frozenset("""afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas
        bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia botswana brazil brunei bulgaria burundi
        cambodia cameroon canada chad chile china colombia congo croatia cuba cyprus denmark djibouti dominica ecuador egypt
        eritrea estonia ethiopia fiji finland france gabon gambia georgia germany ghana greece grenada guatemala guinea
        guyana haiti honduras hungary iceland india indonesia iran iraq ireland israel italy jamaica japan jordan kazakhstan
        kenya kiribati kuwait kyrgyzstan laos latvia lebanon lesotho liberia libya liechtenstein lithuania luxembourg
        madagascar malawi malaysia maldives mali malta mauritania mauritius mexico moldova monaco mongolia montenegro
        morocco mozambique myanmar namibia nauru nepal netherlands nicaragua niger nigeria norway oman pakistan palau panama
        paraguay peru philippines poland portugal qatar romania russia rwanda samoa senegal serbia seychelles singapore
        slovakia slovenia somalia spain sudan suriname sweden switzerland syria taiwan tajikistan tanzania thailand togo
        tonga tunisia turkey turkmenistan tuvalu uganda ukraine uruguay uzbekistan vanuatu venezuela vietnam yemen zambia
        zimbabwe usa uk""".split()
                            + ["new zealand", "north korea", "south korea", "south africa", "saudi arabia", "sri lanka",
                               "costa rica", "el salvador", "united kingdom", "united states", "united states of america",
                               "united arab emirates", "czech republic", "dominican republic", "great britain",
                               "ivory coast", "papua new guinea", "sierra leone", "south sudan", "east timor",
                               "burkina faso", "cape verde", "north macedonia", "bosnia and herzegovina", "vatican city"]),
}
CATEGORIES: tuple[str, ...] = tuple(LEXICONS)
# Members a model is likely to list first: the items a list task may exclude, the references' pool.
COMMON: dict[str, tuple[str, ...]] = {
    "animals": ("bear", "cat", "cow", "dog", "elephant", "fox", "giraffe", "horse", "lion", "monkey", "rabbit", "tiger",
                "wolf", "zebra"),
    "fruits": ("apple", "banana", "cherry", "grape", "kiwi", "lemon", "mango", "orange", "peach", "pear", "pineapple",
               "plum", "strawberry", "watermelon"),
    "colours": ("black", "blue", "brown", "green", "grey", "orange", "pink", "purple", "red", "white", "yellow"),
    "countries": ("brazil", "canada", "china", "egypt", "france", "germany", "india", "italy", "japan", "mexico", "spain"),
}
# One-word members by first letter; a letters task asks for a (category, letter) with at least
# four, drawn uniformly over those pairs (44), so no category's few letters dominate.
_BY_LETTER: dict[str, dict[str, tuple[str, ...]]] = {
    cat: {c: tuple(sorted(w for w in words if w[0] == c and " " not in w and w not in ("usa", "uk")))
          for c in "abcdefghijklmnopqrstuvwxyz"}
    for cat, words in LEXICONS.items()
}
LETTER_CHOICES: tuple[tuple[str, str], ...] = tuple(
    (cat, c) for cat, by in _BY_LETTER.items() for c, ws in by.items() if len(ws) >= 4)

# ---------------------------------------------------------------------------- the tasks


@dataclass(frozen=True)
class Task:
    """One instruction, its parameters (what the checker needs) and one reply that scores 5."""

    family: str
    prompt: str
    spec: tuple[tuple[str, object], ...]
    reference: str

    @property
    def args(self) -> dict:
        return dict(self.spec)


SENTENCE_WORDS: tuple[str, ...] = ("river", "garden", "window", "bridge", "forest", "library", "kitchen", "mountain",
                                   "ocean", "village", "station", "market", "castle", "lake", "island", "museum",
                                   "harbour", "valley", "meadow", "tower", "beach", "park", "cafe", "church", "temple",
                                   "pier", "farm", "field", "hill", "cave", "canyon", "desert", "pond", "waterfall",
                                   "lighthouse", "cottage", "palace", "square", "stadium", "school")
MARKS: dict[str, str] = {"?": "a question mark", ".": "a period", "!": "an exclamation mark"}
# Sentences with a noun slot; their length in words includes the slot. Questions end "?",
# statements "." or "!".
QUESTIONS: tuple[str, ...] = (
    "Have you seen the {w}", "Is the {w} far away", "Can we visit the {w} today", "Why is the {w} so quiet",
    "Did you walk to the {w} yesterday", "How far is the {w} from here", "Have you ever been to the {w} before",
    "Shall we meet near the {w} after lunch", "Do you remember the {w} we saw last summer",
    "Why did everyone go to the {w} this morning",
)
STATEMENTS: tuple[str, ...] = (
    "They rested by the {w}", "The {w} looked calm today", "We walked slowly to the {w}", "I saw the {w} this morning",
    "My friends and I visited the {w}", "She painted a picture of the {w}", "We spent the whole afternoon near the {w}",
    "Every summer my family goes to the {w}", "Nobody knew the way to the {w} at night",
    "The children played happily near the old {w} yesterday",
)
SENTENCE_LENGTHS: tuple[int, ...] = (5, 6, 7, 8, 9)

JSON_KEYS: dict[str, str] = {"name": "a string", "age": "a whole number", "city": "a string", "email": "a string",
                             "is_student": "true or false", "year": "a whole number", "price": "a number",
                             "country": "a string"}
_NAMES = ("Alice", "Ben", "Carla", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Leo")
_CITIES = ("Paris", "Lima", "Oslo", "Cairo", "Tokyo", "Berlin", "Madrid", "Toronto", "Nairobi", "Lisbon")

REPEAT_WORDS: tuple[str, ...] = ("apple", "river", "hello", "blue", "music", "seven", "garden", "happy", "paper", "window",
                                 "yellow", "tiger", "coffee", "winter", "dance", "silver", "ocean", "pencil", "thunder",
                                 "candle", "orange", "sunny", "rocket", "purple", "banana", "cloud", "dragon", "forest",
                                 "guitar", "honey", "island", "jungle", "kitten", "lemon", "marble", "number", "planet",
                                 "rabbit", "summer", "violin")


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _sentence_templates(mark: str, n: int) -> list[str]:
    pool = QUESTIONS if mark == "?" else STATEMENTS
    return [t for t in pool if len(t.split()) == n]


def _draw_sentence(rng):
    n, w, mark = int(_pick(rng, SENTENCE_LENGTHS)), _pick(rng, SENTENCE_WORDS), _pick(rng, tuple(MARKS))
    prompt = f"Write a sentence of exactly {n} words that contains the word '{w}' and ends with {MARKS[mark]}."
    return prompt, (("n", n), ("word", w), ("mark", mark)), _pick(rng, _sentence_templates(mark, n)).format(w=w) + mark


def _draw_list(rng):
    k, category = int(rng.integers(3, 7)), _pick(rng, CATEGORIES)
    reverse = bool(rng.random() < 0.5)
    exclude = _pick(rng, COMMON[category]) if rng.random() < 0.8 else None  # most prompts have one: spreads them
    order = "reverse alphabetical" if reverse else "alphabetical"
    prompt = f"List {NUMBER_WORDS[k]} distinct {category} in {order} order, separated by commas."
    if exclude:
        prompt += f" Do not include {exclude}."
    pool = [w for w in COMMON[category] if w != exclude]
    items = sorted((pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)), reverse=reverse)
    return prompt, (("k", k), ("category", category), ("reverse", reverse), ("exclude", exclude)), ", ".join(items)


def _draw_letters(rng):
    category, letter = _pick(rng, LETTER_CHOICES)
    k = int(rng.integers(2, min(4, len(_BY_LETTER[category][letter]) - 1) + 1))
    prompt = (f"Name {NUMBER_WORDS[k]} {category} whose names start with the letter {letter.upper()}, "
              "separated by commas.")
    pool = _BY_LETTER[category][letter]
    items = [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)]
    return prompt, (("k", k), ("category", category), ("letter", letter)), ", ".join(items)


def _json_value(key: str, rng):
    name = _pick(rng, _NAMES)
    return {"name": name, "age": int(rng.integers(18, 81)), "city": _pick(rng, _CITIES),
            "email": f"{name.lower()}@example.com", "is_student": bool(rng.random() < 0.5),
            "year": int(rng.integers(1990, 2025)), "price": float(rng.integers(100, 10000)) / 100,
            "country": _pick(rng, COMMON["countries"]).title()}[key]


def _draw_json(rng):
    names = list(JSON_KEYS)
    size = 2 if rng.random() < 0.25 else 3  # 56 ordered pairs of keys, 336 triples
    keys = tuple(names[int(i)] for i in rng.choice(len(names), size=size, replace=False))
    described = [f'"{k}" ({JSON_KEYS[k]})' for k in keys]
    listed = " and ".join(described) if len(described) == 2 else ", ".join(described[:-1]) + " and " + described[-1]
    prompt = f"Reply with only a JSON object with the keys {listed}."
    return prompt, (("keys", keys),), json.dumps({k: _json_value(k, rng) for k in keys})


def _draw_verify(rng):
    a, b = int(rng.integers(10, 100)), int(rng.integers(10, 100))
    op = "+" if rng.random() < 0.5 else "-"
    if op == "-" and b > a:
        a, b = b, a
    value = a + b if op == "+" else a - b
    true = bool(rng.random() < 0.5)
    claimed = value if true else value + int(_pick(rng, (-10, -2, -1, 1, 2, 10)))
    if claimed < 0:
        claimed, true = value, True
    prompt = f"Is {a} {op} {b} = {claimed}? Answer yes or no."
    return prompt, (("a", a), ("op", op), ("b", b), ("claimed", claimed), ("value", value)), "Yes." if true else "No."


def _draw_repeat(rng):
    w, k = _pick(rng, REPEAT_WORDS), int(rng.integers(2, 6))
    sep = "spaces" if rng.random() < 0.5 else "commas"
    prompt = f"Repeat the word '{w}' exactly {NUMBER_WORDS[k]} times, separated by {sep}."
    return prompt, (("word", w), ("k", k), ("sep", sep)), (" " if sep == "spaces" else ", ").join([w] * k)


_DRAW: dict[str, Callable] = {"sentence": _draw_sentence, "list": _draw_list, "letters": _draw_letters,
                              "json": _draw_json, "verify": _draw_verify, "repeat": _draw_repeat}


def draw_task(rng: np.random.Generator, family: str | None = None, held_out: bool | None = None) -> Task:
    """One task; `family` None draws it uniformly. With `held_out` set, the parameters are
    redrawn until the instruction's held-out status is that (every family has both kinds)."""
    family = family or FAMILIES[int(rng.integers(len(FAMILIES)))]
    if family not in FAMILIES:
        raise ConfigError(f"unknown checkable task family {family!r}; known: {', '.join(FAMILIES)}")
    while True:
        prompt, spec, reference = _DRAW[family](rng)
        if held_out is None or text.is_held_out(prompt, HELD_OUT_FRACTION) == held_out:
            return Task(family, prompt, spec, reference)


def is_held_out(task: Task) -> bool:
    """True for the fixed fifth of all instructions reserved for evaluation splits (the
    instruction world's rule, on this task's English instruction)."""
    return text.is_held_out(task.prompt, HELD_OUT_FRACTION)


def tasks(split: str, seed: int, n: int, start: int = 0) -> list[Task]:
    """Tasks `start .. start+n-1` of `split` (the instruction world's split names; a pure
    function of (split, seed, index))."""
    if split not in SPLITS:
        raise ConfigError(f"unknown instruction split {split!r}; known: {', '.join(SPLITS)}")
    if n < 0 or start < 0:
        raise ConfigError(f"tasks: n={n} and start={start} must be >= 0")
    split_id, pool = SPLITS[split]
    return [draw_task(text.world_rng(seed, split_id, index, _STREAM), held_out=pool == "held_out")
            for index in range(start, start + n)]


def tasks_by_family(split: str, seed: int, per_family: int) -> list[Task]:
    """The first `per_family` tasks of each family in `split` with distinct instructions (a
    small evaluation set with every family equally represented and no prompt twice), grouped by
    family in FAMILIES order."""
    found: dict[str, list[Task]] = {f: [] for f in FAMILIES}
    seen: set[str] = set()
    index = 0
    while any(len(v) < per_family for v in found.values()):
        task = tasks(split, seed, 1, start=index)[0]
        if len(found[task.family]) < per_family and task.prompt not in seen:
            found[task.family].append(task)
            seen.add(task.prompt)
        index += 1
    return [t for f in FAMILIES for t in found[f]]


# ---------------------------------------------------------------------------- reading a reply


@dataclass(frozen=True)
class Assessment:
    """What the checker reads in a reply: each constraint met or not (in order), the core
    ones, whether the reply attempts the task at all, and whether the best reading is the
    whole reply (nothing extraneous)."""

    met: tuple[tuple[str, bool], ...]
    core: tuple[str, ...]
    relevant: bool
    alone: bool


def _lines(reply: str) -> list[str]:
    return [line.strip() for line in reply.strip().splitlines() if line.strip()]


def _unquote(line: str) -> str:
    line = line.strip().strip("*").strip()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'`":
        return line[1:-1].strip()
    return line


def _best(readings: list[tuple[dict[str, bool], bool]], core: tuple[str, ...]) -> tuple[dict[str, bool], bool]:
    """The reading meeting the most constraints (then the core ones, then the whole reply)."""
    return max(readings, key=lambda r: (sum(r[0].values()), all(r[0][c] for c in core), r[1]))


def _assess_sentence(task: Task, reply: str) -> Assessment:
    n, w, mark = task.args["n"], task.args["word"], task.args["mark"]
    lines = _lines(reply)
    readings = []
    for line in lines:
        line = _unquote(line)
        words = [t for t in line.split() if re.search(r"[A-Za-z0-9]", t)]
        bare = [re.sub(r"[^a-z0-9']", "", t.lower()).removesuffix("'s") for t in words]
        met = {"words": len(words) == n, "contains": w in bare, "ending": line.endswith(mark),
               "one_sentence": bool(words) and re.search(r"[.!?]+[\"')\]]*\s+\S", line) is None}
        readings.append((met, len(lines) == 1))
    if not readings:
        readings = [({"words": False, "contains": False, "ending": False, "one_sentence": False}, True)]
    met, alone = _best(readings, ("contains",))
    relevant = any(r["contains"] or r["words"] for r, _ in readings)
    return Assessment(tuple(met.items()), ("contains",), relevant, alone and all(met.values()))


_ITEM_PREFIX = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022])\s*")


def _item(piece: str) -> str:
    s = _ITEM_PREFIX.sub("", piece.strip().lower())
    s = re.sub(r"^(?:and|or)\s+", "", s)
    s = s.strip(" \t\"'`*.!;:")
    s = re.sub(r"^the\s+", "", s)
    return re.sub(r"\s+", " ", s)


def lexicon_member(item: str, category: str) -> str | None:
    """The lexicon entry `item` names (case-, article- and plural-insensitive), or None."""
    lexicon = LEXICONS[category]
    s = _item(item)
    for stem in (s, s[:-3] + "y" if s.endswith("ies") else None, s[:-2] if s.endswith("es") else None,
                 s[:-1] if s.endswith("s") else None):
        if stem and stem in lexicon:
            return stem
    return None


def _split_items(line: str) -> list[str]:
    pieces = re.split(r"\s*,\s*|\s+and\s+", line)
    return [p for p in (_item(p) for p in pieces) if p]


def _list_readings(reply: str) -> list[tuple[list[str], bool, bool]]:
    """(items, comma separated, whole reply) for each way of reading a list out of the reply."""
    lines = _lines(reply)
    readings = []
    for line in lines:
        readings.append((_split_items(line), True, len(lines) == 1))
        if ":" in line:
            readings.append((_split_items(line.rsplit(":", 1)[1]), True, False))
    bullets = [line for line in lines if _ITEM_PREFIX.match(line)]
    if len(bullets) >= 2:
        readings.append(([_item(b) for b in bullets], False, False))
    return readings or [([], True, True)]


def _assess_items(task: Task, reply: str) -> Assessment:
    args = task.args
    category, k = args["category"], args["k"]
    readings, any_member = [], False
    for items, commas, whole in _list_readings(reply):
        members = [lexicon_member(i, category) for i in items]
        any_member |= any(m is not None for m in members)
        names = [m or i for m, i in zip(members, items)]
        met = {"count": len(items) == k, "category": bool(items) and all(m is not None for m in members)}
        if task.family == "letters":
            met["letter"] = bool(items) and all(i.startswith(args["letter"]) for i in items)
        met["distinct"] = len(items) >= 2 and len(set(names)) == len(names)
        if task.family == "list":
            met["order"] = len(items) >= 2 and items == sorted(items, reverse=args["reverse"])
            if args["exclude"]:
                met["excludes"] = bool(items) and args["exclude"] not in names
        met["commas"] = commas
        readings.append((met, whole))
    core = ("category", "letter") if task.family == "letters" else ("category",)
    met, whole = _best(readings, core)
    return Assessment(tuple(met.items()), core, any_member, whole and all(met.values()))


def _first_object(reply: str) -> dict | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", reply):
        try:
            obj, _ = decoder.raw_decode(reply, match.start())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _json_type_ok(value, kind: str) -> bool:
    if kind == "a string":
        return isinstance(value, str) and bool(value.strip())
    if kind == "a whole number":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "a number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, bool)  # "true or false"


def _assess_json(task: Task, reply: str) -> Assessment:
    keys = task.args["keys"]
    obj = _first_object(reply)
    present = [k for k in keys if obj is not None and k in obj]
    met = {"object": obj is not None, "keys": obj is not None and len(present) == len(keys),
           "no_other_keys": obj is not None and set(obj) <= set(keys),
           "types": bool(present) and all(_json_type_ok(obj[k], JSON_KEYS[k]) for k in present)}
    try:
        alone = json.loads(reply.strip()) == obj
    except ValueError:
        alone = False
    relevant = obj is not None or any(re.search(rf"\b{re.escape(k)}\b", reply, re.IGNORECASE) for k in keys)
    return Assessment(tuple(met.items()), ("object",), relevant, alone and all(met.values()))


def _assess_verify(task: Task, reply: str) -> Assessment:
    args = task.args
    truth = "yes" if args["claimed"] == args["value"] else "no"
    verdicts = re.findall(r"\b(yes|no)\b", reply.lower())
    met = {"verdict": bool(verdicts), "one_verdict": len(set(verdicts)) == 1, "correct": bool(verdicts) and verdicts[0] == truth}
    numbers = set(re.findall(r"\d+", reply))
    relevant = bool(verdicts) or bool(numbers & {str(args["a"]), str(args["b"]), str(args["claimed"])})
    alone = re.fullmatch(r"\s*(yes|no)\s*[.!]?\s*", reply, re.IGNORECASE) is not None
    return Assessment(tuple(met.items()), ("correct",), relevant, alone and all(met.values()))


def _assess_repeat(task: Task, reply: str) -> Assessment:
    w, k, sep = task.args["word"], task.args["k"], task.args["sep"]
    lines = _lines(reply)
    readings = []
    for line in lines:
        for part, whole in [(line, len(lines) == 1)] + ([(line.rsplit(":", 1)[1], False)] if ":" in line else []):
            body = _unquote(part).rstrip(".!").strip()
            words = re.findall(r"[a-z']+", body.lower())
            if sep == "spaces":
                sep_ok = not re.search(r"[,;]", body) and len(body.split()) == len(words)
            else:
                sep_ok = len(words) < 2 or len(re.findall(r"\s*,\s*", body)) == len(words) - 1
            met = {"contains": w in words, "only_the_word": bool(words) and set(words) == {w}, "count": len(words) == k,
                   "separator": bool(words) and sep_ok}
            readings.append((met, whole))
    if not readings:
        readings = [({"contains": False, "only_the_word": False, "count": False, "separator": False}, True)]
    met, whole = _best(readings, ("contains",))
    relevant = w in re.findall(r"[a-z']+", reply.lower())
    return Assessment(tuple(met.items()), ("contains",), relevant, whole and all(met.values()))


_ASSESS: dict[str, Callable[[Task, str], Assessment]] = {
    "sentence": _assess_sentence, "list": _assess_items, "letters": _assess_items, "json": _assess_json,
    "verify": _assess_verify, "repeat": _assess_repeat}


def assess(task: Task, reply: str) -> Assessment:
    """The checker's reading of `reply` (see Assessment)."""
    return _ASSESS[task.family](task, reply)


def constraints(task: Task, reply: str) -> dict[str, bool]:
    """Each of the task's constraints, met or not by the best reading of `reply`."""
    return dict(assess(task, reply).met)


# ---------------------------------------------------------------------------- the rubric


def criteria(task: Task, reply: str) -> tuple[bool, bool, bool, bool, bool]:
    """Which of the five Fig. 2 criteria `reply` meets, by this module's mapping (nested)."""
    a = assess(task, reply)
    met = dict(a.met)
    count, total = sum(met.values()), len(met)
    relevant = bool(reply.strip()) and a.relevant
    substantial = relevant and count >= math.ceil(total / 2)
    basic = substantial and all(met[c] for c in a.core) and count >= total - 1
    complete = basic and count == total
    return relevant, substantial, basic, complete, complete and a.alone


def rubric_score(task: Task, reply: str) -> int:
    """The additive score in 0..5: one point per Fig. 2 criterion met."""
    return sum(criteria(task, reply))


def check(task: Task, reply: str) -> bool:
    """The exact answer: every constraint met, and nothing else in the reply (score 5)."""
    return criteria(task, reply)[4]


def requirement(task: Task, name: str) -> str:
    """Constraint `name` of `task` in a few words (what a judge's justification names)."""
    a = task.args
    k = NUMBER_WORDS.get(a.get("k"), str(a.get("k")))
    phrases = {
        "sentence": {"words": f"exactly {a.get('n')} words", "contains": f"the word '{a.get('word')}'",
                     "ending": f"ending with {MARKS.get(a.get('mark'), '')}", "one_sentence": "a single sentence"},
        "list": {"count": f"{k} items", "category": f"only {a.get('category')}", "distinct": "no repeats",
                 "order": f"{'reverse ' if a.get('reverse') else ''}alphabetical order",
                 "excludes": f"no {a.get('exclude')}", "commas": "commas between items"},
        "letters": {"count": f"{k} items", "category": f"only {a.get('category')}",
                    "letter": f"each starting with {str(a.get('letter')).upper()}", "distinct": "no repeats",
                    "commas": "commas between items"},
        "json": {"object": "a JSON object", "keys": "every key asked for", "no_other_keys": "no other keys",
                 "types": "values of the right types"},
        "verify": {"verdict": "a yes or no", "one_verdict": "one verdict only", "correct": "the right verdict"},
        "repeat": {"contains": f"the word '{a.get('word')}'", "only_the_word": "no other words",
                   "count": f"{k} repetitions", "separator": f"separated by {a.get('sep')}"},
    }[task.family]
    if name not in phrases:
        raise ConfigError(f"{task.family} tasks have no constraint {name!r}; known: {', '.join(phrases)}")
    return phrases[name]


# ---------------------------------------------------------------------------- responses for judging

_PREAMBLES = ("Sure! Here is my answer:", "Of course. Here you go:", "Here is the answer you asked for:")
_OFF_TOPIC = ("I like turtles.", "42", "Hello! How can I help you today?", "The weather is nice.", "Sorry, I don't know.",
              "Bananas are yellow.", "")


def _other_category(category: str) -> str:
    return CATEGORIES[(CATEGORIES.index(category) + 1) % len(CATEGORIES)]


def _near_misses(task: Task, rng: np.random.Generator) -> dict[str, Callable[[], str]]:
    """The family's ways of getting an answer almost right (each keeps the task's topic)."""
    args, ref = task.args, task.reference
    if task.family == "sentence":
        n, w, mark = args["n"], args["word"], args["mark"]

        def other_length():
            m = int(_pick(rng, [x for x in SENTENCE_LENGTHS if x != n]))
            return _pick(rng, _sentence_templates(mark, m)).format(w=w) + mark

        return {"wrong_length": other_length,
                "wrong_mark": lambda: ref[:-1] + _pick(rng, [m for m in MARKS if m != mark]),
                "missing_word": lambda: ref.replace(w, _pick(rng, [x for x in SENTENCE_WORDS if x != w])),
                "two_sentences": lambda: ref + " " + _pick(rng, ("It was lovely.", "I will go again.", "What a day!"))}
    if task.family in ("list", "letters"):
        items = ref.split(", ")
        lexicon = LEXICONS[task.args["category"]]
        outsiders = sorted(LEXICONS[_other_category(args["category"])] - lexicon)

        def swap(i: int, new: str) -> str:
            out = list(items)
            out[i] = new
            return ", ".join(out)

        misses = {"duplicate": lambda: swap(int(rng.integers(1, len(items))), items[0]),
                  "too_few": lambda: ", ".join(items[:-1]),
                  "intruder": lambda: swap(int(rng.integers(len(items))), _pick(rng, outsiders)),
                  "numbered": lambda: "\n".join(f"{i + 1}. {x.capitalize()}" for i, x in enumerate(items))}
        if task.family == "list":
            misses["unordered"] = lambda: ", ".join(items[::-1])
            if args["exclude"]:
                misses["excluded"] = lambda: ", ".join(sorted(items[:-1] + [args["exclude"]], reverse=args["reverse"]))
        else:
            others = sorted(w for w in lexicon if " " not in w and not w.startswith(args["letter"]))
            misses["wrong_letter"] = lambda: swap(int(rng.integers(len(items))), _pick(rng, others))
        return misses
    if task.family == "json":
        obj = json.loads(ref)
        keys = list(obj)

        def without():
            dropped = keys[int(rng.integers(len(keys)))]
            return json.dumps({k: v for k, v in obj.items() if k != dropped})

        def wrong_type():
            k = keys[int(rng.integers(len(keys)))]
            bad = {"a string": 7, "a whole number": "twenty", "a number": "cheap", "true or false": "yes"}[JSON_KEYS[k]]
            return json.dumps({**obj, k: bad})

        return {"missing_key": without, "extra_key": lambda: json.dumps({**obj, "id": int(rng.integers(1, 100))}),
                "wrong_type": wrong_type, "single_quotes": lambda: ref.replace('"', "'"),
                "prose": lambda: " and ".join(f"the {k} is {v}" for k, v in obj.items()).capitalize() + "."}
    if task.family == "verify":
        a, op, b, claimed, value = args["a"], args["op"], args["b"], args["claimed"], args["value"]
        right, wrong = ("Yes", "No") if claimed == value else ("No", "Yes")
        return {"wrong_verdict": lambda: wrong + ".",
                "wrong_with_reason": lambda: f"{wrong}, {a} {op} {b} = {claimed if wrong == 'Yes' else value + 1}.",
                "both": lambda: f"{right} and {wrong.lower()}.",
                "no_verdict": lambda: f"{a} {op} {b} is a calculation."}
    w, k, sep = args["word"], args["k"], args["sep"]
    joiner = " " if sep == "spaces" else ", "
    other = _pick(rng, [x for x in REPEAT_WORDS if x != w])
    return {"too_few": lambda: joiner.join([w] * (k - 1)), "too_many": lambda: joiner.join([w] * (k + 1)),
            "wrong_separator": lambda: (", " if sep == "spaces" else " ").join([w] * k),
            "another_word": lambda: joiner.join([w] * (k - 1) + [other])}


def _verbose(task: Task, rng: np.random.Generator) -> str:
    """The exact answer with extra text around it (rubric 4)."""
    args = task.args
    if task.family == "json":
        return f"```json\n{task.reference}\n```\nThis object has the keys you asked for."
    if task.family == "verify":
        a, op, b, value = args["a"], args["op"], args["b"], args["value"]
        return f"Yes, {a} {op} {b} = {value}." if args["claimed"] == value else f"No, {a} {op} {b} = {value}."
    return f"{_pick(rng, _PREAMBLES)}\n{task.reference}"


def near_miss_kinds(task: Task) -> tuple[str, ...]:
    """The names of the family's near misses for this task."""
    return tuple(_near_misses(task, np.random.default_rng(0)))


def respond(task: Task, kind: str, rng: np.random.Generator) -> str:
    """One response of `kind`: "reference" (score 5), "verbose" (4), a near miss of the family
    (2-3), "off_topic" (0-1; a reply about something else) or "empty" (0)."""
    if kind == "reference":
        return task.reference
    if kind == "verbose":
        return _verbose(task, rng)
    if kind == "empty":
        return ""
    if kind == "off_topic":
        for j in rng.permutation(len(_OFF_TOPIC)):
            if rubric_score(task, _OFF_TOPIC[int(j)]) <= 1:
                return _OFF_TOPIC[int(j)]
        return ""
    misses = _near_misses(task, rng)
    if kind not in misses:
        raise ConfigError(f"unknown response kind {kind!r} for a {task.family} task; known: reference, verbose, "
                          f"off_topic, empty, {', '.join(misses)}")
    return misses[kind]()


def responses_for_judging(task: Task, rng: np.random.Generator, n_min: int = 2, n_max: int = 4) -> list[str]:
    """2-4 distinct responses to one instruction, for measuring a judge: half the time the
    reference (5); then near misses (2-3, the most likely), the reference with extra text (4),
    off-topic replies (0-1) and the empty reply, so their rubric scores spread over 0..5."""
    k = int(rng.integers(n_min, n_max + 1))
    seen: list[str] = [task.reference] if rng.random() < 0.5 else []
    kinds = ["verbose", "off_topic", "empty", *near_miss_kinds(task)]
    weights = np.array([1.5, 1.0, 0.25] + [1.0] * (len(kinds) - 3))
    for _ in range(50):
        if len(seen) == k:
            break
        out = respond(task, kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))], rng)
        if out not in seen:
            seen.append(out)
    return seen
