"""The conversational text world: fictional entities, chunked fact documents, multi-turn
dialogues with pronoun follow-ups and topic switches, and unanswerable turns (ChatQA §3.2).

ChatQA's stage 2 trains on document-grounded conversations (HumanAnnotatedConvQA, §3.2.1:
7k documents, about 5 user-agent turns each, plus 1.5k unanswerable turns) and on
contextual single-turn QA (SQuAD-like short spans, TAT-QA arithmetic, §3.2.3); its
retriever is fine-tuned on (dialogue, gold chunk) pairs (§4.1). This module generates a
small, checkable analogue of all of it.

World. 84 fictional entities of six kinds (river, city, island, company, scientist, band),
14 per kind, with fixed syllable names that are not English words. Each has an intro fact
and 6-9 more from its kind's templates (attribute -> value), 7-10 facts in all; values
come from small shared pools, so words recur across entities, and every entity has two
years (y1 < y2) and two counts (c1, c2), so arithmetic questions have answers:

    "how many years after kalon was founded was its great bridge built?"  ->  y2 - y1
    "how many markets and towers does kalon have in all?"                 ->  c1 + c2

The names are fixed; the facts are drawn per seed. Entities are split by the hash of the
shared held-out rule (`paperzoo.world.text.key_hash` of the name), ranked within each kind:
the 4 lowest of a kind's 14 are held out, so every kind has 10 train and 4 held-out
entities. "valid" and "test" use held-out entities only.

Documents. One per entity: its facts as sentences (each names the entity), cut into
2-sentence chunks with corpus-unique ids "e017/0", "e017/1", ... A value never occurs in
another sentence of its own document, so a deleted sentence takes its answer with it.

Dialogues (3-6 turns). Turn 1 names the entity ("first"); each later turn is, with
probability 0.15, a "topic_switch" (it names a second entity, and later pronouns refer to
that one; a second switch goes back), and otherwise a "follow_up" that refers to the current
entity by pronoun only ("it", "its", "they", "their", "she", "his", ...). Each turn carries
the gold standalone rewrite (the entity named), the answer (a span of its gold chunk), the
span and the gold chunk id. The context is the chunks of the dialogue's 1 or 2 documents.

Unanswerable turns, the paper's HumanAnnotatedConvQA way (§3.2.1): "we construct
unanswerable scenarios by deleting the text from the corresponding locations in the context",
and the response is the refusal sentence. With probability `unanswerable` a dialogue's last
turn (the one a stage-2 sample supervises) loses its supporting sentence from the context and
answers REFUSAL. The draw comes first in each dialogue's random stream, so the dialogues of
one seed are the same for every `unanswerable` (only the last turns differ) and the
unanswerable dialogues at share p are a subset of those at any larger share.

Text is lower case (except REFUSAL, the paper's sentence word for word) with ordinary
punctuation, which `tokenizer()` splits off as separate tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from paperzoo.core.errors import ConfigError
from paperzoo.world.text import SPECIALS, key_hash, split_words, word_tokenizer, world_rng

CONVERSATIONS_VERSION = 2  # 2: object pronouns after prepositions ("won by her")

# The paper's refusal (§3.2.1), word for word, with the final period the ChatRAG-Bench
# scripts compare against.
REFUSAL = "Sorry. I cannot find the answer based on the context."

SPLITS: dict[str, int] = {"train": 0, "valid": 1, "test": 2}
KINDS: tuple[str, ...] = ("river", "city", "island", "company", "scientist", "band")
TRAIN_PER_KIND, HELD_OUT_PER_KIND = 10, 4
MIN_TURNS, MAX_TURNS = 3, 6
TOPIC_SWITCH = 0.15  # the share of follow-up turns that switch to another entity
SENTENCES_PER_CHUNK = 2
ARITHMETIC_SHARE = 0.25  # the share of single-turn QA that is arithmetic (the TAT-QA analogue)
TURN_KINDS: tuple[str, ...] = ("first", "follow_up", "topic_switch")
PRONOUNS: frozenset[str] = frozenset({"it", "its", "they", "them", "their", "she", "her", "he", "him", "his"})
SWITCH_PREFIXES: tuple[str, ...] = ("", "and ", "now, ", "what about another one: ")

# Streams of the random key (seed, stream, split id, index).
_FACTS, _DIALOGUES, _UNANSWERABLE, _SINGLE = 1, 2, 3, 4

# 84 syllable names (consonant-vowel-consonant-vowel-consonant), none an English word
# (checked once against an English word list; fixed here so the world never depends on one).
NAMES: tuple[str, ...] = (
    "gitus", "gunos", "ritos", "dobas", "tukom", "gepul", "dekir", "zimol", "zoval", "nedos", "mazin", "kabon",
    "kezom", "nobun", "rabis", "mibul", "rokun", "sirom", "sutam", "mizel", "dilom", "mubar", "logum", "sapom",
    "finum", "sobil", "nuven", "digas", "pegir", "ralor", "melur", "penos", "nufon", "nimen", "nalos", "rimos",
    "muvar", "gefum", "matol", "lokel", "fukir", "nuges", "tovel", "volis", "lides", "zurim", "dubin", "pirul",
    "vazom", "zekul", "dasom", "pizar", "roges", "zison", "dufom", "kival", "fubel", "nevol", "vomir", "gatom",
    "pavis", "dolur", "sivun", "rufes", "tinus", "dagor", "lamir", "botes", "pobun", "nifus", "fokim", "kilom",
    "mipos", "kufis", "kebis", "vasim", "gibar", "sevun", "zerun", "temir", "pefun", "tirun", "fapir", "zapim",
)

# ---------------------------------------------------------------------------- value pools

REGIONS = ("north", "south", "east", "west", "centre")
COLOURS = ("red", "green", "blue", "grey", "white", "black", "brown", "golden", "silver", "yellow")
WEATHER = ("mild", "dry", "wet", "windy", "cold", "warm", "foggy")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
GOODS = ("salt", "tea", "silk", "wool", "grain", "copper", "timber", "paper", "spices", "coal")
MATERIALS = ("stone", "wood", "brick", "marble", "iron", "glass")
TREES = ("oak", "pine", "birch", "willow", "cedar", "olive", "palm")
FISH = ("trout", "pike", "eel", "salmon", "carp", "perch")
ANIMALS = ("goat", "deer", "fox", "boar", "seal", "hare", "owl", "wolf", "bear", "horse")
CROPS = ("rice", "wheat", "barley", "grapes", "apples", "olives", "beans", "potatoes")
PRODUCTS = ("shoes", "lamps", "clocks", "bicycles", "boats", "soap", "radios", "maps", "toys", "hats")
FIELDS = ("stars", "plants", "metals", "tides", "insects", "clouds", "birds", "rocks", "light", "sound")
TOOLS = ("telescope", "microscope", "compass", "lens", "scale", "prism", "hammer")
VEHICLES = ("boat", "train", "horse", "cart", "bicycle", "coach")
GENRES = ("folk", "jazz", "dance", "rock", "soul", "blues")
INSTRUMENTS = ("drums", "flute", "harp", "horn", "fiddle", "bells", "guitar", "piano")
BUILDINGS = ("barn", "church", "mill", "school", "theatre", "warehouse", "cellar")
HILLS = ("red", "green", "pine", "oak", "stone", "high", "misty", "black")
SEAS = ("cold", "calm", "stormy", "warm", "shallow", "grey", "northern", "southern")
OWNERS = ("a family", "the state", "a bank", "the city", "a guild", "two brothers")
TITLE_NOUNS = ("river", "door", "star", "road", "garden", "tower", "window", "bridge")
POOLS: dict[str, tuple[str, ...]] = {
    "region": REGIONS, "colour": COLOURS, "weather": WEATHER, "month": MONTHS, "day": DAYS, "goods": GOODS,
    "material": MATERIALS, "tree": TREES, "fish": FISH, "animal": ANIMALS, "crop": CROPS, "product": PRODUCTS,
    "field": FIELDS, "tool": TOOLS, "vehicle": VEHICLES, "genre": GENRES, "instrument": INSTRUMENTS,
    "building": BUILDINGS, "hills": HILLS, "sea": SEAS, "owner": OWNERS,
    "flag": tuple(f"{a} and {b}" for a in COLOURS for b in COLOURS if a != b),
    "logo": tuple(f"{c} {a}" for c in COLOURS for a in ANIMALS),
    "title": tuple(f"the {c} {n}" for c in COLOURS for n in TITLE_NOUNS),
}
# Numbers: y1 in 1700..1890 and y2 = y1 + 10..90 (steps of 10); counts 2..20.
FIRST_YEARS: tuple[int, ...] = tuple(range(1700, 1900, 10))
YEAR_GAPS: tuple[int, ...] = tuple(range(10, 100, 10))
COUNTS: tuple[int, ...] = tuple(range(2, 21))


# ---------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Attribute:
    """One fact template. `sentence` holds {e} (the name) and {v} (the value); each question
    is a follow-up form with pronoun slots ({it} subject, {them} object, {its} possessive,
    and {is}/{was}/{does}/{has} that agree with "they") and its standalone form with {e}."""

    name: str
    sentence: str
    pool: str  # a POOLS key, or "year1" / "year2" / "count"
    questions: tuple[tuple[str, str], ...]


def _q(*forms: str | tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """Question paraphrases: a plain string's standalone form replaces the pronoun slots by {e}."""
    out = []
    for f in forms:
        if isinstance(f, str):
            if "{its}" in f:
                raise ValueError(f"a possessive question needs an explicit standalone form: {f!r}")
            standalone = f.format(it="{e}", them="{e}", e="{e}", does="does", has="has", was="was", **{"is": "is"})
            out.append((f, standalone))
        else:
            out.append(f)
    return tuple(out)


@dataclass(frozen=True)
class Kind:
    """An entity kind: its pronouns ((subject, object, possessive) choices), the intro fact
    every entity has, the two years and two counts every entity has, optional facts, and
    its two arithmetic questions (standalone forms with {e})."""

    name: str
    pronouns: tuple[tuple[str, str, str], ...]
    intro: Attribute
    numeric: tuple[Attribute, Attribute, Attribute, Attribute]  # year1, year2, count1, count2
    optional: tuple[Attribute, ...]
    year_gap: tuple[str, ...]  # "how many years after ... " questions: y2 - y1
    count_sum: tuple[str, ...]  # "how many ... in all" questions: c1 + c2

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        return (self.intro, *self.numeric, *self.optional)


IT = (("it", "it", "its"),)
A = Attribute

KIND_SPECS: dict[str, Kind] = {
    "river": Kind(
        "river", IT,
        A("region", "{e} is a river in the {v} of the country.", "region", _q(
            "in which part of the country is {it}?", "where does {it} flow?", "where is {it}?")),
        (A("mapped", "{e} was first mapped in {v}.", "year1", _q(
            "when was {it} first mapped?", "in which year was {it} first mapped?")),
         A("dam", "the first dam on {e} was built in {v}.", "year2", _q(
             "when was the first dam on {them} built?",
             ("when was {its} first dam built?", "when was the first dam of {e} built?"))),
         A("bridges", "{v} bridges cross {e}.", "count", _q(
             "how many bridges cross {it}?", ("how many bridges does {it} have?", "how many bridges does {e} have?"))),
         A("towns", "there are {v} towns on the banks of {e}.", "count", _q(
             ("how many towns are on {its} banks?", "how many towns are on the banks of {e}?"),
             ("how many towns lie on {its} banks?", "how many towns lie on the banks of {e}?")))),
        (A("source", "{e} rises in the {v} hills.", "hills", _q(
            "where does {it} rise?", ("where is {its} source?", "where is the source of {e}?"),
            "in which hills does {it} begin?")),
         A("sea", "{e} flows into the {v} sea.", "sea", _q(
             "which sea does {it} flow into?", ("where does {its} water end up?", "where does the water of {e} end up?"))),
         A("water", "the water of {e} is {v}.", "colour", _q(
             ("what colour is {its} water?", "what colour is the water of {e}?"),
             ("what is the colour of {its} water?", "what is the colour of the water of {e}?"))),
         A("fish", "the main fish in {e} is the {v}.", "fish", _q(
             "what is the main fish in {them}?", "which fish lives in {them} most?")),
         A("trees", "{v} trees grow along the banks of {e}.", "tree", _q(
             "which trees grow along {it}?", ("what trees grow on {its} banks?", "what trees grow on the banks of {e}?"))),
         A("boats", "boats on {e} carry {v}.", "goods", _q(
             "what do boats on {them} carry?", "what goods are carried on {them}?"))),
        ("how many years after {e} was first mapped was its first dam built?",
         "how many years passed between the first map of {e} and its first dam?"),
        ("how many bridges and towns does {e} have in all?",
         "what is the number of bridges of {e} plus the number of towns on its banks?"),
    ),
    "city": Kind(
        "city", IT,
        A("region", "{e} is a city in the {v} of the country.", "region", _q(
            "in which part of the country is {it}?", "where is {it}?", "where is {it} found?")),
        (A("founded", "{e} was founded in {v}.", "year1", _q(
            "when was {it} founded?", "in which year was {it} founded?")),
         A("great_bridge", "the great bridge of {e} was built in {v}.", "year2", _q(
             ("when was {its} great bridge built?", "when was the great bridge of {e} built?"),
             ("in which year was {its} great bridge built?", "in which year was the great bridge of {e} built?"))),
         A("markets", "{e} has {v} markets.", "count", _q(
             "how many markets does {it} have?", "how many markets are there in {them}?")),
         A("towers", "there are {v} towers in {e}.", "count", _q(
             "how many towers are there in {them}?", "how many towers does {it} have?"))),
        (A("flag", "the flag of {e} is {v}.", "flag", _q(
            ("what colours is {its} flag?", "what colours is the flag of {e}?"),
            ("what does {its} flag look like?", "what does the flag of {e} look like?"))),
         A("trade", "the main trade of {e} is {v}.", "goods", _q(
             ("what is {its} main trade?", "what is the main trade of {e}?"), "what does {it} mostly trade in?")),
         A("houses", "the houses of {e} are built of {v}.", "material", _q(
             ("what are {its} houses built of?", "what are the houses of {e} built of?"),
             "what are the houses in {them} made of?")),
         A("weather", "the weather in {e} is {v}.", "weather", _q(
             "what is the weather like in {them}?", "how is the weather in {them}?")),
         A("festival", "the great festival of {e} is held in {v}.", "month", _q(
             ("when is {its} great festival held?", "when is the great festival of {e} held?"),
             ("in which month is {its} festival?", "in which month is the festival of {e}?"))),
         A("seal", "the tree on the seal of {e} is the {v}.", "tree", _q(
             ("which tree is on {its} seal?", "which tree is on the seal of {e}?"),
             ("what tree does {its} seal show?", "what tree does the seal of {e} show?")))),
        ("how many years after {e} was founded was its great bridge built?",
         "how many years passed between the founding of {e} and the building of its great bridge?"),
        ("how many markets and towers does {e} have in all?",
         "what is the number of markets in {e} plus the number of towers?"),
    ),
    "island": Kind(
        "island", IT,
        A("region", "{e} is an island off the {v} coast of the country.", "region", _q(
            "off which coast is {it}?", "where is {it}?", "on which side of the country is {it}?")),
        (A("settled", "{e} was first settled in {v}.", "year1", _q(
            "when was {it} first settled?", "in which year did people first settle on {them}?")),
         A("lighthouse", "the lighthouse on {e} was built in {v}.", "year2", _q(
             "when was the lighthouse on {them} built?",
             ("when was {its} lighthouse built?", "when was the lighthouse of {e} built?"))),
         A("villages", "there are {v} villages on {e}.", "count", _q(
             "how many villages are there on {them}?", "how many villages does {it} have?")),
         A("harbours", "{e} has {v} harbours.", "count", _q(
             "how many harbours does {it} have?", "how many harbours are there on {them}?"))),
        (A("crop", "the main crop of {e} is {v}.", "crop", _q(
            ("what is {its} main crop?", "what is the main crop of {e}?"), "what do farmers grow on {them}?")),
         A("sand", "the sand on the beaches of {e} is {v}.", "colour", _q(
             ("what colour is the sand on {its} beaches?", "what colour is the sand on the beaches of {e}?"),
             "what colour are the beaches of {them}?")),
         A("animal", "the largest wild animal on {e} is the {v}.", "animal", _q(
             "what is the largest wild animal on {them}?", "which wild animal on {them} is the largest?")),
         A("forest", "the hills of {e} are covered in {v} trees.", "tree", _q(
             ("what trees cover {its} hills?", "what trees cover the hills of {e}?"),
             ("which trees grow on {its} hills?", "which trees grow on the hills of {e}?"))),
         A("weather", "the weather on {e} is {v}.", "weather", _q(
             "what is the weather like on {them}?", "how is the weather on {them}?")),
         A("ferry", "the ferry to {e} leaves every {v}.", "day", _q(
             "when does the ferry to {them} leave?", "on which day does the ferry to {them} go?"))),
        ("how many years after {e} was first settled was its lighthouse built?",
         "how many years passed between the first settlers of {e} and the building of its lighthouse?"),
        ("how many villages and harbours does {e} have in all?",
         "what is the number of villages on {e} plus the number of harbours?"),
    ),
    "company": Kind(
        "company", IT,
        A("product", "{e} is a company that makes {v}.", "product", _q(
            "what does {it} make?", "what does {it} produce?", ("what are {its} products?", "what are the products of {e}?"))),
        (A("founded", "{e} was founded in {v}.", "year1", _q(
            "when was {it} founded?", "in which year was {it} founded?")),
         A("first_shop", "{e} opened its first shop in {v}.", "year2", _q(
             ("when did {it} open {its} first shop?", "when did {e} open its first shop?"),
             ("in which year did {it} open {its} first shop?", "in which year did {e} open its first shop?"))),
         A("factories", "{e} has {v} factories.", "count", _q(
             "how many factories does {it} have?", "how many factories are run by {them}?")),
         A("countries", "{e} sells its goods in {v} countries.", "count", _q(
             ("in how many countries does {it} sell {its} goods?", "in how many countries does {e} sell its goods?"),
             "how many countries does {it} sell in?"))),
        (A("office", "the head office of {e} is in the {v}.", "region", _q(
            ("where is {its} head office?", "where is the head office of {e}?"),
            ("in which part of the country is {its} head office?", "in which part of the country is the head office of {e}?"))),
         A("logo", "the logo of {e} is a {v}.", "logo", _q(
             ("what is {its} logo?", "what is the logo of {e}?"),
             ("what does {its} logo show?", "what does the logo of {e} show?"))),
         A("coats", "the workers of {e} wear {v} coats.", "colour", _q(
             ("what colour coats do {its} workers wear?", "what colour coats do the workers of {e} wear?"),
             "what colour are the coats worn at {them}?")),
         A("owner", "{e} is owned by {v}.", "owner", _q(
             "who owns {them}?", "who is the owner of {them}?")),
         A("imports", "{e} buys its {v} from abroad.", "goods", _q(
             ("what does {it} buy from abroad?", "what does {e} buy from abroad?"), "what is bought from abroad by {them}?")),
         A("payday", "{e} pays its workers every {v}.", "day", _q(
             ("when does {it} pay {its} workers?", "when does {e} pay its workers?"),
             ("on which day are {its} workers paid?", "on which day are the workers of {e} paid?")))),
        ("how many years after {e} was founded did it open its first shop?",
         "how many years passed between the founding of {e} and its first shop?"),
        ("how many factories and countries does {e} have in all?",
         "what is the number of factories of {e} plus the number of countries it sells in?"),
    ),
    "scientist": Kind(
        "scientist", (("she", "her", "her"), ("he", "him", "his")),
        A("field", "{e} was a scientist who studied {v}.", "field", _q(
            "what did {it} study?", ("what was {its} field?", "what was the field of {e}?"), "what did {it} work on?")),
        (A("born", "{e} was born in {v}.", "year1", _q(
            "when was {it} born?", "in which year was {it} born?")),
         A("discovery", "{e} made a great discovery in {v}.", "year2", _q(
             "when did {it} make a great discovery?", ("in which year did {it} make {its} great discovery?",
                                                       "in which year did {e} make a great discovery?"))),
         A("books", "{e} wrote {v} books.", "count", _q(
             "how many books did {it} write?", "how many books were written by {them}?")),
         A("students", "{e} taught {v} students.", "count", _q(
             "how many students did {it} teach?", ("how many students did {it} have?", "how many students did {e} have?")))),
        (A("home", "{e} lived in the {v} of the country.", "region", _q(
            "where did {it} live?", "in which part of the country did {it} live?")),
         A("tool", "the favourite tool of {e} was the {v}.", "tool", _q(
             ("what was {its} favourite tool?", "what was the favourite tool of {e}?"), "which tool did {it} like best?")),
         A("pet", "{e} kept a {v} as a pet.", "animal", _q(
             "what pet did {it} keep?", ("what animal was {its} pet?", "what animal was the pet of {e}?"))),
         A("medal", "{e} won the {v} medal.", "colour", _q(
             "which medal did {it} win?", "what medal was won by {them}?")),
         A("book_title", "the most famous book of {e} is called {v}.", "title", _q(
             ("what is {its} most famous book called?", "what is the most famous book of {e} called?"),
             ("what is the name of {its} most famous book?", "what is the name of the most famous book of {e}?"))),
         A("travel", "{e} always travelled by {v}.", "vehicle", _q(
             "how did {it} travel?", "how did {it} always travel?"))),
        ("how many years after {e} was born did a great discovery follow?",
         "how old was {e} when the great discovery was made?"),
        ("how many books and students did {e} have in all?",
         "what is the number of books by {e} plus the number of students?"),
    ),
    "band": Kind(
        "band", (("they", "them", "their"),),
        A("genre", "{e} is a band that plays {v} music.", "genre", _q(
            ("what kind of music {does} {it} play?", "what kind of music does {e} play?"),
            ("what music {does} {it} make?", "what music does {e} make?"))),
        (A("formed", "{e} formed in {v}.", "year1", _q(
            "when did {it} form?", "in which year did {it} form?")),
         A("abroad", "{e} played abroad for the first time in {v}.", "year2", _q(
             "when did {it} first play abroad?", "in which year did {it} play abroad for the first time?")),
         A("members", "{e} has {v} members.", "count", _q(
             "how many members {does} {it} have?", "how many people play in {them}?")),
         A("records", "{e} has made {v} records.", "count", _q(
             "how many records {has} {it} made?", "how many records did {it} make?"))),
        (A("home", "{e} comes from the {v} of the country.", "region", _q(
            ("where {does} {it} come from?", "where does {e} come from?"),
            ("which part of the country {is} {it} from?", "which part of the country is {e} from?"))),
         A("instrument", "the singer of {e} also plays the {v}.", "instrument", _q(
             ("what does {its} singer also play?", "what does the singer of {e} also play?"),
             ("which instrument does {its} singer play?", "which instrument does the singer of {e} play?"))),
         A("suits", "the members of {e} wear {v} suits on stage.", "colour", _q(
             ("what colour suits {does} {it} wear on stage?", "what colour suits does {e} wear on stage?"),
             ("what colour are {its} stage suits?", "what colour are the stage suits of {e}?"))),
         A("first_record", "the first record of {e} was called {v}.", "title", _q(
             ("what was {its} first record called?", "what was the first record of {e} called?"),
             ("what was the name of {its} first record?", "what was the name of the first record of {e}?"))),
         A("practice", "{e} practises in an old {v}.", "building", _q(
             "where {does} {it} practise?", "in what old building {does} {it} practise?")),
         A("bus", "{e} travels in a {v} bus.", "colour", _q(
             ("what colour is {its} bus?", "what colour is the bus of {e}?"),
             ("in what colour bus {does} {it} travel?", "in what colour bus does {e} travel?")))),
        ("how many years after {e} formed did the band first play abroad?",
         "how many years passed between the forming of {e} and its first concert abroad?"),
        ("how many members and records does {e} have in all?",
         "what is the number of members of {e} plus the number of records it made?"),
    ),
}
del A


def _agree(template: str, subject: str, object_: str, possessive: str) -> str:
    """A follow-up form with its pronoun slots filled ("they" takes plural verbs)."""
    plural = subject == "they"
    return template.format(
        it=subject, them=object_, its=possessive, e="{e}",
        does="do" if plural else "does", has="have" if plural else "has", was="were" if plural else "was",
        **{"is": "are" if plural else "is"},
    )


# ---------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Entity:
    """A fictional entity (fixed for every seed): `id` is its document id."""

    id: str  # "e017"
    name: str  # "kabon"
    kind: str  # one of KINDS
    pronouns: tuple[str, str, str]  # (subject, object, possessive), e.g. ("she", "her", "her")
    held_out: bool


@dataclass(frozen=True)
class Chunk:
    id: str  # unique in the corpus: "<document id>/<position>", e.g. "e017/2"
    doc: str
    text: str


@dataclass(frozen=True)
class Document:
    id: str
    entity: str  # the entity's name
    chunks: tuple[Chunk, ...]

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.chunks)


@dataclass(frozen=True)
class Turn:
    question: str  # the user's text (follow-ups use pronouns)
    rewrite: str  # the gold standalone question (the entity named)
    answer: str  # the reply: the span, or REFUSAL
    span: str  # the answer span as it appears in the gold chunk ("" if unanswerable)
    gold_chunk: str | None  # the Chunk.id supporting the answer; None when unanswerable
    answerable: bool
    kind: str  # "first" | "follow_up" | "topic_switch"
    entity: str = ""  # the entity the turn is about (its document id)
    attribute: str = ""  # the fact asked for


@dataclass(frozen=True)
class Dialogue:
    id: str
    context: tuple[Chunk, ...]  # the dialogue's documents' chunks (an unanswerable last turn's sentence deleted)
    turns: tuple[Turn, ...]
    documents: tuple[str, ...] = ()  # the document ids, in the order the dialogue reaches them

    @property
    def unanswerable(self) -> bool:
        return not self.turns[-1].answerable


@dataclass(frozen=True)
class SingleTurnQA:
    """Contextual single-turn QA: `kind` "span" (SQuAD analogue: a short span of one
    chunk) or "arithmetic" (TAT-QA analogue: a number computed from two facts)."""

    context: tuple[Chunk, ...]  # one document's chunks
    question: str
    answer: str
    kind: str  # "span" | "arithmetic"
    support: tuple[str, ...] = ()  # the chunk ids holding the facts used


@dataclass(frozen=True)
class _Fact:
    attribute: Attribute
    value: str
    sentence: str
    chunk: str  # the id of the chunk holding the sentence


@dataclass(frozen=True)
class _Sheet:
    """One entity's facts and document under one seed."""

    entity: Entity
    kind: Kind
    facts: dict[str, _Fact]  # attribute name -> fact, in document order
    document: Document


@lru_cache(maxsize=None)
def entities() -> tuple[Entity, ...]:
    """All 84 entities, e000 .. e083: name i has kind i mod 6; within each kind, the
    HELD_OUT_PER_KIND names lowest under the shared hash (`text.key_hash`, the hash of the
    held-out rule) are held out, so every kind has 10 train and 4 held-out entities."""
    out = []
    for i, name in enumerate(NAMES):
        kind = KINDS[i % len(KINDS)]
        ranked = sorted(NAMES[i % len(KINDS)::len(KINDS)], key=key_hash)
        held = name in ranked[:HELD_OUT_PER_KIND]
        spec = KIND_SPECS[kind]
        out.append(Entity(f"e{i:03d}", name, kind, spec.pronouns[key_hash(name) % len(spec.pronouns)], held))
    return tuple(out)


def _check_split(split: str) -> int:
    if split not in SPLITS:
        raise ConfigError(f"unknown conversations split {split!r}; known: {', '.join(SPLITS)}")
    return SPLITS[split]


def split_entities(split: str) -> tuple[Entity, ...]:
    """The entities a split draws from: train entities for "train", held-out ones for "valid"/"test"."""
    return _split_entities(_check_split(split) != SPLITS["train"])


@lru_cache(maxsize=2)
def _split_entities(held: bool) -> tuple[Entity, ...]:
    return tuple(e for e in entities() if e.held_out == held)


def _value(pool: str, rng: np.random.Generator, year1: int | None) -> str:
    if pool == "year1":
        return str(FIRST_YEARS[int(rng.integers(len(FIRST_YEARS)))])
    if pool == "year2":
        return str(year1 + YEAR_GAPS[int(rng.integers(len(YEAR_GAPS)))])
    if pool == "count":
        return str(COUNTS[int(rng.integers(len(COUNTS)))])
    values = POOLS[pool]
    return values[int(rng.integers(len(values)))]


def _contains(words: list[str], part: list[str]) -> bool:
    """Word-level containment (so "12" is not found inside "1912")."""
    n = len(part)
    return any(words[i:i + n] == part for i in range(len(words) - n + 1))


def chunk_sentences(sentences: Sequence[str], per_chunk: int = SENTENCES_PER_CHUNK) -> list[str]:
    """Consecutive sentences joined `per_chunk` at a time (the last chunk may be shorter)."""
    if per_chunk < 1:
        raise ConfigError(f"per_chunk must be >= 1, got {per_chunk}")
    return [" ".join(sentences[i:i + per_chunk]) for i in range(0, len(sentences), per_chunk)]


def _sheet(entity: Entity, seed: int) -> _Sheet:
    """An entity's facts under `seed`: the intro, the four numeric facts and 2-5 optional
    ones, shuffled after the intro; values redrawn until none occurs in another sentence."""
    kind = KIND_SPECS[entity.kind]
    rng = world_rng(seed, _FACTS, int(entity.id[1:]))
    n_optional = int(rng.integers(2, 6))  # 7-10 facts in all
    chosen = [kind.optional[int(i)] for i in sorted(rng.choice(len(kind.optional), n_optional, replace=False))]
    body = [*kind.numeric, *chosen]
    order = [body[int(i)] for i in rng.permutation(len(body))]
    attrs = [kind.intro, *order]
    values: dict[str, str] = {}
    year1: int | None = None
    for attr in kind.attributes:  # intro, years (y1 before y2), counts, then optional: a fixed draw order
        if attr not in attrs:
            continue
        for _ in range(100):
            v = _value(attr.pool, rng, year1)
            sentence_words = {a.name: split_words(a.sentence.format(e=entity.name, v=values[a.name]))
                              for a in attrs if a.name in values}
            mine = split_words(attr.sentence.format(e=entity.name, v=v))
            clash = any(_contains(w, split_words(v)) for w in sentence_words.values()) or any(
                _contains(mine, split_words(values[a])) for a in values)
            if not clash:
                break
        else:
            raise AssertionError(f"no clash-free value for {entity.name}.{attr.name}")
        values[attr.name] = v
        if attr.pool == "year1":
            year1 = int(v)
    sentences = [a.sentence.format(e=entity.name, v=values[a.name]) for a in attrs]
    texts = chunk_sentences(sentences)
    chunks = tuple(Chunk(f"{entity.id}/{i}", entity.id, t) for i, t in enumerate(texts))
    facts = {a.name: _Fact(a, values[a.name], s, chunks[i // SENTENCES_PER_CHUNK].id)
             for i, (a, s) in enumerate(zip(attrs, sentences))}
    return _Sheet(entity, kind, facts, Document(entity.id, entity.name, chunks))


@lru_cache(maxsize=16)
def _sheets(seed: int) -> dict[str, _Sheet]:
    return {e.id: _sheet(e, seed) for e in entities()}


def corpus(split: str, seed: int) -> list[Document]:
    """The documents of a split's entities (train, or held-out for valid/test), in id order."""
    sheets = _sheets(int(seed))
    return [sheets[e.id].document for e in split_entities(split)]


def document(entity_id: str, seed: int) -> Document:
    """One entity's document (any split)."""
    sheets = _sheets(int(seed))
    if entity_id not in sheets:
        raise ConfigError(f"unknown entity {entity_id!r}; known: e000 .. e{len(sheets) - 1:03d}")
    return sheets[entity_id].document


def facts(entity_id: str, seed: int) -> dict[str, str]:
    """One entity's facts under `seed`, attribute -> value, in document order."""
    document(entity_id, seed)  # validates the id
    return {name: f.value for name, f in _sheets(int(seed))[entity_id].facts.items()}


# ---------------------------------------------------------------------------- dialogues


def _ask(sheet: _Sheet, attr_name: str, rng: np.random.Generator, kind: str) -> Turn:
    fact = sheet.facts[attr_name]
    follow, standalone = fact.attribute.questions[int(rng.integers(len(fact.attribute.questions)))]
    rewrite = standalone.format(e=sheet.entity.name)
    if kind == "follow_up":
        question = _agree(follow, *sheet.entity.pronouns)
    elif kind == "topic_switch":
        question = SWITCH_PREFIXES[int(rng.integers(len(SWITCH_PREFIXES)))] + rewrite
    else:
        question = rewrite
    return Turn(question, rewrite, fact.value, fact.value, fact.chunk, True, kind, sheet.entity.id, attr_name)


def _delete_sentence(context: tuple[Chunk, ...], fact: _Fact) -> tuple[Chunk, ...]:
    """The context with `fact`'s sentence removed (a chunk left empty is dropped)."""
    out = []
    for c in context:
        if c.id == fact.chunk:
            text = c.text.replace(fact.sentence, "").replace("  ", " ").strip()
            if text:
                out.append(Chunk(c.id, c.doc, text))
        else:
            out.append(c)
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def _words_of(text: str) -> list[str]:
    return split_words(text)


def _context_words(context: tuple[Chunk, ...]) -> list[list[str]]:
    return [_words_of(c.text) for c in context]


def dialogue(split: str, seed: int, index: int, unanswerable: float = 0.0) -> Dialogue:
    """Dialogue `index` of `split` (a pure function of (split, seed, index, unanswerable))."""
    split_id = _check_split(split)
    if not 0.0 <= unanswerable <= 1.0:
        raise ConfigError(f"unanswerable must be a probability in [0, 1], got {unanswerable}")
    sheets = _sheets(int(seed))
    pool = split_entities(split)
    rng = world_rng(seed, _DIALOGUES, split_id, index)
    make_unanswerable = rng.random() < unanswerable
    n_turns = int(rng.integers(MIN_TURNS, MAX_TURNS + 1))
    a, b = (pool[int(i)] for i in rng.choice(len(pool), 2, replace=False))
    current, other = sheets[a.id], sheets[b.id]
    asked: dict[str, list[str]] = {a.id: [], b.id: []}
    turns: list[Turn] = []
    docs = [a.id]
    for t in range(n_turns):
        kind = "first" if t == 0 else ("topic_switch" if rng.random() < TOPIC_SWITCH else "follow_up")
        if kind == "topic_switch":
            current, other = other, current
            if current.entity.id not in docs:
                docs.append(current.entity.id)
        left = [n for n in current.facts if n not in asked[current.entity.id]]
        name = left[int(rng.integers(len(left)))]
        asked[current.entity.id].append(name)
        turns.append(_ask(current, name, rng, kind))
    context = tuple(c for d in docs for c in sheets[d].document.chunks)
    if make_unanswerable:
        turns[-1], context = _unanswerable_last(turns, context, sheets, asked, world_rng(seed, _UNANSWERABLE, split_id, index))
    return Dialogue(f"{split}/{seed}/{index}", context, tuple(turns), tuple(docs))


def _unanswerable_last(turns: list[Turn], context: tuple[Chunk, ...], sheets: dict[str, _Sheet],
                       asked: dict[str, list[str]], rng: np.random.Generator) -> tuple[Turn, tuple[Chunk, ...]]:
    """The last turn made unanswerable: its supporting sentence deleted from the context.
    Where its answer also occurs elsewhere in the context (a shared value of the other
    document), the last question is redrawn among the entity's unasked facts whose value does not."""
    last = turns[-1]
    sheet = sheets[last.entity]
    earlier = {t.attribute for t in turns[:-1] if t.entity == last.entity}
    candidates = [last.attribute] + [n for n in sheet.facts if n not in earlier and n != last.attribute]
    for j, name in enumerate(candidates):
        fact = sheet.facts[name]
        trimmed = _delete_sentence(context, fact)
        if not any(_contains(w, _words_of(fact.value)) for w in _context_words(trimmed)):
            turn = last if j == 0 else _ask(sheet, name, rng, last.kind)
            return Turn(turn.question, turn.rewrite, REFUSAL, "", None, False, turn.kind, turn.entity, name), trimmed
    return last, context  # no fact of this entity can be removed cleanly (never seen; kept answerable)


def dialogues(split: str, seed: int, n: int, start: int = 0, unanswerable: float = 0.0) -> list[Dialogue]:
    """Dialogues `start .. start+n-1` of `split`. With `unanswerable` = p, each dialogue's
    last turn is unanswerable with probability p (an evaluation set with a fixed share:
    e.g. `dialogues("test", seed, 500, unanswerable=0.3)`)."""
    if n < 0 or start < 0:
        raise ConfigError(f"dialogues: n={n} and start={start} must be >= 0")
    return [dialogue(split, seed, i, unanswerable) for i in range(start, start + n)]


# ---------------------------------------------------------------------------- single-turn QA


def single_turn(split: str, seed: int, n: int, start: int = 0, arithmetic: float = ARITHMETIC_SHARE) -> list[SingleTurnQA]:
    """Contextual single-turn QA `start .. start+n-1`: one document as context and a standalone
    question; `arithmetic` of them ask for y2 - y1 or c1 + c2 (the answer computed)."""
    split_id = _check_split(split)
    if n < 0 or start < 0:
        raise ConfigError(f"single_turn: n={n} and start={start} must be >= 0")
    if not 0.0 <= arithmetic <= 1.0:
        raise ConfigError(f"arithmetic must be a probability in [0, 1], got {arithmetic}")
    sheets = _sheets(int(seed))
    pool = split_entities(split)
    out = []
    for index in range(start, start + n):
        rng = world_rng(seed, _SINGLE, split_id, index)
        sheet = sheets[pool[int(rng.integers(len(pool)))].id]
        context = sheet.document.chunks
        if rng.random() < arithmetic:
            y1, y2, c1, c2 = (sheet.facts[a.name] for a in sheet.kind.numeric)
            if rng.random() < 0.5:
                templates, answer, used = sheet.kind.year_gap, int(y2.value) - int(y1.value), (y1, y2)
            else:
                templates, answer, used = sheet.kind.count_sum, int(c1.value) + int(c2.value), (c1, c2)
            question = templates[int(rng.integers(len(templates)))].format(e=sheet.entity.name)
            support = tuple(dict.fromkeys(f.chunk for f in used))
            out.append(SingleTurnQA(context, question, str(answer), "arithmetic", support))
        else:
            names = list(sheet.facts)
            turn = _ask(sheet, names[int(rng.integers(len(names)))], rng, "first")
            out.append(SingleTurnQA(context, turn.rewrite, turn.answer, "span", (turn.gold_chunk,)))
    return out


# ---------------------------------------------------------------------------- vocabulary


def _template_texts() -> list[str]:
    texts = [REFUSAL, *SWITCH_PREFIXES]
    for spec in KIND_SPECS.values():
        for attr in spec.attributes:
            texts.append(attr.sentence.format(e="", v=""))
            for follow, standalone in attr.questions:
                texts.append(standalone.format(e=""))
                for pronouns in spec.pronouns:
                    texts.append(_agree(follow, *pronouns).format(e=""))
        texts += [q.format(e="") for q in (*spec.year_gap, *spec.count_sum)]
    return texts


@lru_cache(maxsize=None)
def words() -> tuple[str, ...]:
    """Every word world text can contain (punctuation marks as separate items), sorted: the
    template words, the pool values, the names and every number (years, counts, and the
    arithmetic answers y2 - y1 and c1 + c2). Lower case, except REFUSAL's "Sorry" and "I"."""
    found: set[str] = set(NAMES)
    for text in _template_texts():
        found.update(split_words(text))
    for values in POOLS.values():
        for v in values:
            found.update(split_words(v))
    numbers = {*FIRST_YEARS, *(y + g for y in FIRST_YEARS for g in YEAR_GAPS), *YEAR_GAPS, *COUNTS,
               *(a + b for a in COUNTS for b in COUNTS)}
    found.update(str(x) for x in numbers)
    return tuple(sorted(found))


def tokenizer(extra_words: Sequence[str] = (), model_max_length: int = 384):
    """A WordLevel `transformers` tokenizer over SPECIALS + words() + extra_words, splitting
    punctuation from words ("context." -> "context", "."). `extra_words` may be words or
    whole texts (e.g. a prompt template): each is split the way the tokenizer splits text."""
    extra = [w for text in extra_words for w in split_words(text)]
    return word_tokenizer([*words(), *extra], split="punctuation", model_max_length=model_max_length)


def check_templates() -> None:
    """The template rules (tests run this): every follow-up form has a pronoun slot and no
    name, every standalone form names {e}, and no pool value occurs in another fact's
    template words; the vocabulary holds no special token."""
    if any(s in words() for s in SPECIALS):
        raise AssertionError("a world word is a special token")
    for spec in KIND_SPECS.values():
        for attr in spec.attributes:
            if "{e}" not in attr.sentence or "{v}" not in attr.sentence:
                raise AssertionError(f"{spec.name}.{attr.name}: a fact sentence needs {{e}} and {{v}}")
            for follow, standalone in attr.questions:
                if "{e}" in follow or not any(s in follow for s in ("{it}", "{them}", "{its}")):
                    raise AssertionError(f"{spec.name}.{attr.name}: bad follow-up form {follow!r}")
                if "{e}" not in standalone:
                    raise AssertionError(f"{spec.name}.{attr.name}: bad standalone form {standalone!r}")
            # A value must never be forced into another sentence of its document by the
            # template words alone (the value redraw of `_sheet` could not remove it).
            for other in spec.attributes:
                if other is attr or attr.pool not in POOLS:
                    continue
                fixed = split_words(other.sentence.format(e="", v=""))
                for v in POOLS[attr.pool]:
                    if _contains(fixed, split_words(v)):
                        raise AssertionError(f"{spec.name}.{attr.name} value {v!r} occurs in the template of {other.name}")

