"""`paperzoo diffusiongpt generate | zoo | build-db` on the smoke world zoo (seconds to train)."""

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from paperzoo.cli import main


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("dgpt-cache"))


def run(cache, *args):
    result = CliRunner().invoke(main, ["diffusiongpt", *args], env={"PAPERZOO_CACHE": cache})
    return result


def test_generate_prints_the_routing_trace_and_writes_the_image(cache, tmp_path):
    out = tmp_path / "img.png"
    result = run(cache, "generate", "I want to see a large red circle in outline style", "--zoo", "smoke",
                 "--out", str(out), "--scale", "4", "--device", "cpu")
    assert result.exit_code == 0, result.output
    for field in ("parsed:       a large red circle in outline style", "tree path:    round > outline", "database hit:",
                  "model:", f"wrote {out}"):
        assert field in result.output
    assert Image.open(out).size == (128, 128)
    result = run(cache, "generate", "a small blue cross in pixel style", "--zoo", "smoke", "--out", str(out), "--json",
                 "--selector", "count", "--no-extension")
    trace = json.loads(result.stdout)
    assert trace["tree_path"] == ["crossed", "pixel"] and trace["model"]


def test_zoo_lists_cards_and_tree_and_draws_the_grid(cache, tmp_path):
    result = run(cache, "zoo", "--zoo", "smoke", "--grid", str(tmp_path / "grid.png"))
    assert result.exit_code == 0, result.output
    assert "roundLines_v1" in result.output and "checkpoint merge" in result.output and "- round" in result.output
    assert Image.open(tmp_path / "grid.png").size == (12 * 32 * 3, 8 * 32 * 3)  # 12 domains x 8 models
    cards = json.loads(run(cache, "zoo", "--zoo", "smoke", "--json").stdout)
    assert {c["model_type"] for c in cards} == {"checkpoint", "lora", "checkpoint merge"} and "negtive_prompts" in cards[0]


def test_build_db_copies_the_official_schema(cache, tmp_path):
    result = run(cache, "build-db", "--zoo", "smoke", "--out", str(tmp_path / "db"))
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "db" / "prompt2scores.json").read_text())
    first = next(iter(scores.values()))
    assert len(first) == 8 and all("image_reward" in v for v in first.values())
    again = run(cache, "build-db", "--zoo", "smoke", "--out", str(tmp_path / "db"))
    assert again.exit_code != 0 and "exists" in again.output


@pytest.mark.parametrize("args, message", [
    (["generate", "   "], "PROMPT is empty"),
    (["generate", "a red circle", "--scale", "0"], "--scale 0"),
    (["generate", "a red circle", "--controller", "/no/such/folder"], "neither a named real model"),
])
def test_bad_input_gets_one_clear_error(cache, args, message):
    result = run(cache, *args[:2], "--zoo", "smoke", *args[2:])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
