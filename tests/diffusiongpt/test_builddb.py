"""Building the advantage database: every model draws every prompt from the same noise, scores in
the official schema, and an interrupted build resumes at the next model."""

import json

import pytest
import torch

from paperzoo.core.errors import InputError
from paperzoo.diffusiongpt.builddb import build_database, prompt2scores, read_prompts, score_zoo
from paperzoo.diffusiongpt.database import HashedTfidf


class FakeZoo:
    """Model k draws noise + k; records what it was asked."""

    def __init__(self):
        self.calls = []

    def keys(self):
        return ["m0", "m1", "m2"]

    def generate(self, key, prompts, noise=None, generator=None):
        self.calls.append((key, len(prompts)))
        if noise is None:
            noise = torch.randn(len(prompts), 3, 4, 4, generator=generator)
        return noise + int(key[1])


def mean_reward(prompts, images):
    return images.mean(dim=(1, 2, 3))


PROMPTS = ["a red circle", "a blue square", "a green cross", "a pixel cat", "a photo"]


def test_every_model_draws_every_prompt_from_the_same_noise():
    zoo = FakeZoo()
    r = score_zoo(zoo, PROMPTS, mean_reward, batch_size=2, seed=3)
    assert sorted(r) == ["m0", "m1", "m2"] and all(len(v) == len(PROMPTS) for v in r.values())
    # the same initial noise for every model: the rewards differ by exactly the model's offset
    for a, b in zip(r["m0"], r["m2"]):
        assert b - a == pytest.approx(2.0, abs=1e-5)
    assert [n for _, n in zoo.calls[:3]] == [2, 2, 1]
    again = score_zoo(FakeZoo(), PROMPTS, mean_reward, batch_size=2, seed=3)
    assert again == r  # seeded


def test_official_schema_and_ranking():
    rewards = {"m0": [0.1, 0.9], "m1": [0.5, 0.2]}
    scores = prompt2scores(["a" * 150, "b"], rewards)
    assert set(scores) == {"a" * 100, "b"}  # keys cut at 100 characters, as the official code does
    assert scores["b"] == {"m0": {"image_reward": 0.9}, "m1": {"image_reward": 0.2}}
    db, means = build_database(FakeZoo(), PROMPTS, mean_reward, HashedTfidf().fit(PROMPTS), batch_size=4)
    assert db.top_models("a red circle", 3) == ["m2", "m1", "m0"]
    assert means["m2"] > means["m1"] > means["m0"]


def test_an_interrupted_build_resumes_at_the_next_model(tmp_path):
    def failing_on_m1(prompts, images):
        if images.mean() > 0.5 and images.mean() < 1.5:
            raise KeyboardInterrupt
        return mean_reward(prompts, images)

    with pytest.raises(KeyboardInterrupt):
        score_zoo(FakeZoo(), PROMPTS, failing_on_m1, batch_size=5, work=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["m0.json"]  # nothing half-written for m1
    zoo = FakeZoo()
    r = score_zoo(zoo, PROMPTS, mean_reward, batch_size=5, work=tmp_path)
    assert [k for k, _ in zoo.calls] == ["m1", "m2"]  # m0 was not drawn again
    assert r == score_zoo(FakeZoo(), PROMPTS, mean_reward, batch_size=5)
    saved = json.loads((tmp_path / "m0.json").read_text())
    assert saved["model"] == "m0" and len(saved["rewards"]) == 5


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="empty"):
        score_zoo(FakeZoo(), [], mean_reward)
    with pytest.raises(InputError, match="noise has 2 rows for 5 prompts"):
        score_zoo(FakeZoo(), PROMPTS, mean_reward, noise=torch.zeros(2, 3, 4, 4))
    with pytest.raises(InputError, match="no such file"):
        read_prompts(tmp_path / "none.txt")
    (tmp_path / "p.txt").write_text("# comment\n\n")
    with pytest.raises(InputError, match="no prompts"):
        read_prompts(tmp_path / "p.txt")
    (tmp_path / "p.txt").write_text("a cat\n\na dog\na cat\n")
    assert read_prompts(tmp_path / "p.txt") == ["a cat", "a dog"]
