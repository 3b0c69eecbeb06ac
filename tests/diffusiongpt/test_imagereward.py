"""ImageReward from a local checkpoint, against the official code's outputs on a tiny random
checkpoint (fixture: tests/fixtures/diffusiongpt/make_imagereward_fixture.py)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.diffusiongpt.imagereward import ImageReward

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "diffusiongpt"


@pytest.fixture(scope="module")
def official():
    return json.loads((FIXTURE / "official.json").read_text()), load_file(str(FIXTURE / "io.safetensors"))


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The released layout: ImageReward.pt (a torch.save'd state dict), med_config.json, tokenizer/."""
    folder = tmp_path_factory.mktemp("imagereward")
    torch.save(load_file(str(FIXTURE / "tiny_imagereward.safetensors")), folder / "ImageReward.pt")
    shutil.copy(FIXTURE / "med_config.json", folder / "med_config.json")
    shutil.copytree(FIXTURE / "tokenizer", folder / "tokenizer")
    return folder


@pytest.fixture(scope="module")
def model(released):
    return ImageReward.from_local(released, vision_heads=2)


def _images(io, n):
    return [Image.fromarray(io[f"image{i}"].numpy()) for i in range(n)]


def test_equal_to_the_official_score(model, official):
    """Each (prompt, PIL image) pair scored like the official `ImageReward.score`: non-square images
    of several sizes (resize + centre crop), a prompt past the 35-token cut, an out-of-vocabulary word.
    Measured: 1.4e-6 at most; the ViT's LayerNorm eps at transformers' default (1e-5, not BLIP's 1e-6)
    gives 1.1e-5 and fails."""
    meta, io = official
    ours = model.score_pil(meta["prompts"], _images(io, len(meta["prompts"])), batch_size=2)
    np.testing.assert_allclose(ours.numpy(), np.array(meta["rewards"]), rtol=0, atol=5e-6)
    assert np.ptp(meta["rewards"]) > 0.05  # the check can fail: the pairs' rewards differ


def test_equal_to_the_official_ranking_of_images(model, official):
    """One prompt over all images (the official `inference_rank`)."""
    meta, io = official
    images = _images(io, len(meta["rank_rewards"]))
    ours = model.score_pil([meta["rank_prompt"]] * len(images), images)
    np.testing.assert_allclose(ours.numpy(), np.array(meta["rank_rewards"]), rtol=0, atol=5e-6)


def test_the_sizes_are_read_off_the_weights(model):
    v = model.visual_encoder.config
    assert (v.image_size, v.patch_size, v.hidden_size, v.num_hidden_layers, v.num_attention_heads) == (32, 8, 32, 2, 2)
    assert v.layer_norm_eps == 1e-6
    assert [m.out_features for m in model.mlp if isinstance(m, torch.nn.Linear)] == [1024, 128, 64, 16, 1]


def test_reward_on_tensors_is_the_pil_path(model, official):
    """reward(prompts, images in [-1, 1]) is score_pil on the same pixels."""
    meta, io = official
    pixels = io["image0"].permute(2, 0, 1)[None].float() / 127.5 - 1
    got = model.reward(meta["prompts"][:1], pixels)
    np.testing.assert_allclose(got.numpy(), np.array(meta["rewards"][:1]), atol=5e-6, rtol=0)


def test_a_checkpoint_file_with_its_config_and_tokenizer(released):
    m = ImageReward.from_local(released / "ImageReward.pt", med_config=released / "med_config.json",
                               tokenizer=released / "tokenizer", vision_heads=2)
    assert m.image_size == 32


def test_bad_inputs_get_one_clear_error(released, tmp_path, model):
    with pytest.raises(CheckpointError, match="no ImageReward.pt"):
        ImageReward.from_local(tmp_path)
    (tmp_path / "ImageReward.pt").write_bytes(b"not a checkpoint")
    shutil.copy(released / "med_config.json", tmp_path / "med_config.json")
    shutil.copytree(released / "tokenizer", tmp_path / "tokenizer")
    with pytest.raises(CheckpointError, match="could not be read"):
        ImageReward.from_local(tmp_path)
    torch.save({"model.weight": torch.zeros(2)}, tmp_path / "ImageReward.pt")
    with pytest.raises(CheckpointError, match="released layout"):
        ImageReward.from_local(tmp_path)
    shutil.rmtree(tmp_path / "tokenizer")
    with pytest.raises(CheckpointError, match="vocab.txt"):
        ImageReward.from_local(tmp_path)
    (tmp_path / "med_config.json").unlink()
    with pytest.raises(CheckpointError, match="med_config.json"):
        ImageReward.from_local(tmp_path)
    with pytest.raises(InputError, match="2 prompts for 1 images"):
        model.score_pil(["a", "b"], [Image.new("RGB", (32, 32))])
