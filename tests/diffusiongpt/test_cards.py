"""Model cards in the official schema: round trip, the official keys, and one clear error per bad file."""

import json

import pytest

from paperzoo.core.errors import InputError
from paperzoo.diffusiongpt.cards import ModelCard, load_cards, save_cards
from paperzoo.diffusiongpt.zoo import cards as zoo_cards

OFFICIAL_LIKE = {  # the fields of an entry of the official model_data_sd15.json (values ours)
    "model_name": "FilmStock2.safetensors", "model_type": "lora", "tag": ["film", "universal", "photo"],
    "version": "v2.0", "trigger_words": ["FilmStock2"], "base_model": "SD 1.5",
    "resources_used": ["realisticMix", "FilmStock2"], "example_prompts": ["a portrait on film, <lora:FilmStock2:0.6>"],
    "negtive_prompts": ["cartoon, anime"],
}


def test_an_official_entry_loads_and_round_trips(tmp_path):
    (tmp_path / "cards.json").write_text(json.dumps([OFFICIAL_LIKE, {**OFFICIAL_LIKE, "model_name": "b.safetensors",
                                                                      "model_type": "checkpoint merge", "mystery": 1}]))
    cards = load_cards(tmp_path / "cards.json")
    assert cards[0].key == "FilmStock2" and cards[0].negative_prompt == "cartoon, anime"
    assert cards[0].example_prompt.startswith("a portrait") and cards[1].extra == {"mystery": 1}
    save_cards(cards, tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == json.loads((tmp_path / "cards.json").read_text())


def test_none_example_and_negative_mean_none():
    card = ModelCard("x", "checkpoint", ["a"])
    assert card.example_prompt is None and card.negative_prompt == ""


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[]", "non-empty JSON list"),
    ('["a string"]', "must be a JSON object"),
    (json.dumps([{"model_name": "a", "tag": []}]), "lacks model_type"),
    (json.dumps([{**OFFICIAL_LIKE, "model_type": "vae"}]), "model_type 'vae'"),
    (json.dumps([{**OFFICIAL_LIKE, "tag": "film"}]), "tag must be a list of strings"),
    (json.dumps([OFFICIAL_LIKE, OFFICIAL_LIKE]), "appears twice"),
])
def test_bad_card_files_get_one_clear_error(tmp_path, content, message):
    (tmp_path / "cards.json").write_text(content)
    with pytest.raises(InputError, match=message) as err:
        load_cards(tmp_path / "cards.json")
    assert "cards.json" in str(err.value)


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        load_cards("/no/such/cards.json")


def test_the_world_zoo_cards():
    cards = zoo_cards()
    assert [c.model_type for c in cards].count("lora") == 6 and cards[0].model_type == "checkpoint"
    assert all(c.tag for c in cards) and len({c.key for c in cards}) == 8
    assert all(c.example_prompt and " style" in c.example_prompt for c in cards if c.model_type == "lora")
