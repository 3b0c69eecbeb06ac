"""The pipeline end to end on a smoke-sized zoo: routing traces, the selection variants, the
fallbacks, the database, and generation."""

import numpy as np
import pytest
import torch

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.diffusiongpt.data import STYLE_WORDS, SUBJECT_WORDS
from paperzoo.diffusiongpt.database import AdvantageDatabase, HashedTfidf, linear_scan_top, prompt_key
from paperzoo.diffusiongpt.llm import RuleLLM
from paperzoo.diffusiongpt.pipeline import DiffusionGPT, Routing
from paperzoo.diffusiongpt.tree import build_tree, load_tree, save_tree
from paperzoo.diffusiongpt.zoo import BASE, UNIVERSAL, train_zoo


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return train_zoo(tmp_path_factory.mktemp("zoo"), "smoke", progress=False)


def _database(favourites: dict[str, list[str]], keys):
    """Stored prompts, each with the listed models ranked first (reward 1, 0.9, ...) and the rest at 0."""
    prompts = list(favourites)
    scores = {prompt_key(p): {k: {"image_reward": 0.0} for k in keys} for p in prompts}
    for p, best in favourites.items():
        for r, k in enumerate(best):
            scores[prompt_key(p)][k]["image_reward"] = 1.0 - 0.1 * r
    return AdvantageDatabase.build(prompts, scores, HashedTfidf(dim=256).fit(prompts))


@pytest.fixture
def rule():
    return RuleLLM(SUBJECT_WORDS, STYLE_WORDS)


def test_route_follows_the_papers_steps(zoo, rule):
    tree = build_tree(rule, zoo.cards, UNIVERSAL)
    db = _database({"a small green circle in outline style": ["roundLines_v1", BASE],
                    "a large blue cross in pixel style": ["plus8bit_v2", "polyPixel_v1"]}, zoo.keys())
    pipe = DiffusionGPT(rule, zoo, tree, db, routing=Routing(k_prompt=1, k_model=2))
    trace = pipe.route("I want to see a small red circle in outline style")
    assert trace.parsed == "a small red circle in outline style"
    assert trace.tree_path == ["round", "outline"] and "roundLines_v1" in trace.candidates
    assert trace.db_prompts == ["a small green circle in outline style"]
    assert trace.db_models == [["roundLines_v1", BASE]]
    assert trace.intersection == ["roundLines_v1"] and trace.model == "roundLines_v1"
    assert trace.prompt == trace.parsed  # already "in <style> style": the rule extension adds nothing
    assert not trace.fallbacks and trace.llm_calls == 1 + 2 + 3 + 1  # parse, 2 tree levels, 3 selection, extension
    assert any("tree path" in line for line in trace.lines())
    count = DiffusionGPT(rule, zoo, tree, db, routing=Routing(k_prompt=1, k_model=2, selector="count"))
    assert count.route("I want to see a small red circle in outline style").model == "roundLines_v1"


def test_extension_follows_the_example_and_ablations_skip_steps(zoo, rule):
    tree = build_tree(rule, zoo.cards, UNIVERSAL)
    db = _database({"a small green cross in pixel style": ["plus8bit_v2"]}, zoo.keys())
    pipe = DiffusionGPT(rule, zoo, tree, db, routing=Routing(k_prompt=1, k_model=1))
    trace = pipe.route("generate an image of a small red cross in pixel")
    assert trace.model == "plus8bit_v2" and trace.prompt == "a small red cross in pixel in pixel style"
    raw = DiffusionGPT(rule, zoo, tree, db, routing=Routing(parse=False, extension=False, k_prompt=1, k_model=1))
    trace = raw.route("generate an image of a small red cross in pixel style")
    assert trace.parsed == trace.prompt == "generate an image of a small red cross in pixel style"
    tot = DiffusionGPT(rule, zoo, tree, None, routing=Routing(human_feedback=False))
    assert tot.route("a small red cross in pixel style").model == tree["crossed"]["pixel"][0]
    with pytest.raises(ConfigError, match="advantage database"):
        DiffusionGPT(rule, zoo, tree, None)


def test_official_snap_can_leave_the_leaf_and_restrict_keeps_it(zoo, rule):
    """The card's review #1: the final snap lists every zoo name, so a database favourite
    outside the leaf can win; `restrict_to_leaf` is our option to keep the tree's choice."""
    tree = build_tree(rule, zoo.cards, UNIVERSAL)
    db = _database({"a small green circle in outline style": ["crossFilm_v1"]}, zoo.keys())
    official = DiffusionGPT(rule, zoo, tree, db, routing=Routing(k_prompt=1, k_model=1, selector="count"))
    assert official.route("a small red circle in outline style").model == "crossFilm_v1"
    kept = DiffusionGPT(rule, zoo, tree, db, routing=Routing(k_prompt=1, k_model=1, selector="count", restrict_to_leaf=True,
                                                          empty="leaf_first"))
    trace = kept.route("a small red circle in outline style")
    assert trace.model in trace.candidates and trace.intersection == []


class Babbler:
    """A controller that never answers in the format asked for."""

    calls = 0

    def __call__(self, prompt):
        self.calls += 1
        return "As an AI model I would say many things."


def test_a_controller_that_names_nothing_still_routes_and_is_counted(zoo, rule):
    tree = build_tree(rule, zoo.cards, UNIVERSAL)
    db = _database({"a small green circle in outline style": ["roundLines_v1"]}, zoo.keys())
    pipe = DiffusionGPT(Babbler(), zoo, tree, db)
    trace = pipe.route("a small red circle in outline style")
    assert trace.model in zoo.keys()
    assert trace.fallbacks["parse"] == 1 and trace.fallbacks["tree"] == 2 and trace.fallbacks["snap"] == 1


def test_database_lookup_equals_the_linear_scan_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    prompts = [f"prompt {i} " + " ".join(rng.choice(["red", "blue", "circle", "cross", "photo"], 3)) for i in range(300)]
    scores = {prompt_key(p): {"m1": {"image_reward": float(rng.random())}, "m2": {"image_reward": float(rng.random())}}
              for p in prompts}
    db = AdvantageDatabase.build(prompts, scores, HashedTfidf(dim=512).fit(prompts))
    q = db.query_embedder()(["a red circle in photo style"])[0]
    idx, _ = db.top_prompts(q, 7)
    assert idx == linear_scan_top(db.embeddings.numpy(), q.numpy(), 7)
    assert db.top_models(prompts[0], 1) == [max(scores[prompt_key(prompts[0])], key=lambda m: scores[prompt_key(prompts[0])][m]["image_reward"])]
    db.save(tmp_path / "db")
    back = AdvantageDatabase.load(tmp_path / "db")
    assert back.prompts == prompts and torch.equal(back.embeddings, db.embeddings)
    assert back.top_prompts(back.query_embedder()(["a red circle in photo style"])[0], 7)[0] == idx
    with pytest.raises(InputError, match="missing"):
        AdvantageDatabase.load(tmp_path / "nothing")
    with pytest.raises(InputError, match="no prompts"):
        AdvantageDatabase.build([], {}, HashedTfidf())


def test_tree_file_round_trip_and_the_official_layout(zoo, rule, tmp_path):
    tree = build_tree(rule, zoo.cards, UNIVERSAL)
    assert load_tree(save_tree(tree, tmp_path / "t.json")) == tree
    (tmp_path / "official.json").write_text('{"person": {"universal": [{"model_name": "FilmVelvia2.safetensors"}]}}')
    assert load_tree(tmp_path / "official.json") == {"person": {"universal": ["FilmVelvia2"]}}
    (tmp_path / "bad.json").write_text('["not a tree"]')
    with pytest.raises(InputError, match="model tree"):
        load_tree(tmp_path / "bad.json")


def test_generate_batches_by_model_and_fixes_the_noise(zoo, rule):
    tree = build_tree(rule, zoo.cards, UNIVERSAL)
    pipe = DiffusionGPT(rule, zoo, tree, None, routing=Routing(human_feedback=False))
    noise = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    noise[2] = noise[0]
    texts = ["a red circle in outline style", "a blue cross in pixel style", "a red circle in outline style"]
    images, traces = pipe.generate(texts, noise)
    assert images.shape == noise.shape and images.abs().max() <= 1
    assert traces[0].model == traces[2].model
    torch.testing.assert_close(images[0], images[2])  # same model, prompt and noise


def test_zoo_errors(zoo):
    with pytest.raises(InputError, match="not in the zoo"):
        zoo.card("nosuch")
    assert len(zoo.keys()) == 8 and zoo.card(BASE).model_type == "checkpoint"


def test_repeated_prompts_are_stored_once_in_order():
    prompts = ["a red circle", "a blue cross", "a red circle", "a green square"]
    scores = {prompt_key(p): {"m": {"image_reward": 0.5}} for p in prompts}
    db = AdvantageDatabase.build(prompts, scores, HashedTfidf(dim=64).fit(prompts))
    assert db.prompts == ["a red circle", "a blue cross", "a green square"] and db.embeddings.shape[0] == 3
