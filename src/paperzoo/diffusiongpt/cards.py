"""Model cards in the official schema (`model_data_sd15.json` of the official code).

One JSON list of objects, one per model:

    model_name       "FilmVelvia2.safetensors" (the zoo key; the extension is dropped for look-ups)
    model_type       "lora" | "checkpoint" | "checkpoint merge" | "checkpoint trained"
    tag              ["film", "universal", "person", ...]   what the tree is built from
    version          "v2.0"
    trigger_words    ["FilmVelvia2"]
    base_model       "SD 1.5"
    resources_used   [the LoRA's base model, ...]  (often a name outside the zoo, resolved fuzzily)
    example_prompts  [...]   prompt extension follows the first; "None" when there is none
    negtive_prompts  [...]   (sic) the first is the negative prompt

plus paperzoo's optional `path` (where the weights are: a world-zoo folder, a diffusers folder,
or a single .safetensors file). Unknown keys are kept as they are.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError

MODEL_TYPES = ("lora", "checkpoint", "checkpoint merge", "checkpoint trained")
REQUIRED = ("model_name", "model_type", "tag")


@dataclass
class ModelCard:
    model_name: str
    model_type: str
    tag: list[str]
    version: str = "v1.0"
    trigger_words: list[str] = field(default_factory=list)
    base_model: str = ""
    resources_used: list[str] = field(default_factory=list)
    example_prompts: list[str] = field(default_factory=lambda: ["None"])
    negtive_prompts: list[str] = field(default_factory=lambda: ["None"])  # (sic), the official key
    path: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The look-up name: `model_name` without its file extension (the official code's split('.'))."""
        return self.model_name.split(".")[0]

    @property
    def example_prompt(self) -> str | None:
        first = self.example_prompts[0] if self.example_prompts else "None"
        return None if first == "None" else first

    @property
    def negative_prompt(self) -> str:
        first = self.negtive_prompts[0] if self.negtive_prompts else "None"
        return "" if first == "None" else first

    def to_json(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "extra"}
        if data["path"] is None:
            del data["path"]
        return {**data, **self.extra}


def card_from_json(data: object, where: str) -> ModelCard:
    """One card; `where` names the file and index for the error message."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: a model card must be a JSON object, got {type(data).__name__}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise InputError(f"{where}: model card lacks {', '.join(missing)}")
    if data["model_type"] not in MODEL_TYPES:
        raise InputError(f"{where}: model_type {data['model_type']!r}; expected one of {', '.join(MODEL_TYPES)}")
    for key in ("tag", "trigger_words", "resources_used", "example_prompts", "negtive_prompts"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: {key} must be a list of strings, got {value!r}")
    if not isinstance(data["model_name"], str) or not data["model_name"].strip():
        raise InputError(f"{where}: model_name must be a non-empty string")
    known = {f for f in ModelCard.__dataclass_fields__ if f != "extra"}
    return ModelCard(**{k: v for k, v in data.items() if k in known},
                     extra={k: v for k, v in data.items() if k not in known})


def load_cards(path: str | Path) -> list[ModelCard]:
    """The cards of a JSON file (a list of card objects); one clear error for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model cards {path}: no such file")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"model cards {path}: not valid JSON ({err})") from None
    if not isinstance(data, list) or not data:
        raise InputError(f"model cards {path}: expected a non-empty JSON list of model cards")
    cards = [card_from_json(item, f"model cards {path}, entry {i}") for i, item in enumerate(data)]
    seen: set[str] = set()
    for card in cards:
        if card.key in seen:
            raise InputError(f"model cards {path}: model {card.key!r} appears twice")
        seen.add(card.key)
    return cards


def save_cards(cards: Sequence[ModelCard], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps([c.to_json() for c in cards], indent=1) + "\n")
    return path


class CardZoo:
    """What every zoo shares: its cards, looked up by key (`model_name` without the extension).
    A zoo subclass adds `generate(key, prompts, noise, negative_prompts, generator)`."""

    def __init__(self, card_file: str | Path):
        self.card_file = Path(card_file)
        self.cards = load_cards(self.card_file)
        self.by_key = {c.key: c for c in self.cards}

    def keys(self) -> list[str]:
        return list(self.by_key)

    def card(self, key: str) -> ModelCard:
        if key not in self.by_key:
            raise InputError(f"model {key!r} is not in the zoo {self.card_file}; models: {', '.join(self.by_key)}")
        return self.by_key[key]

    def checkpoint_keys(self) -> list[str]:
        """The models a LoRA can sit on (every card that is not a LoRA)."""
        return [c.key for c in self.cards if c.model_type != "lora"]
