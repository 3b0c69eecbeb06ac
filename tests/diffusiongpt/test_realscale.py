"""The real-scale zoo on tiny random Stable Diffusion checkpoints saved in the test: a diffusers
pipeline folder, a LoRA on it resolved through `resources_used[0]`, official-schema cards, and
the whole DiffusionGPT pipeline routing to them. Nothing is downloaded."""

import json

import pytest
import torch

from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.diffusiongpt.cards import ModelCard, save_cards
from paperzoo.diffusiongpt.data import STYLE_WORDS, SUBJECT_WORDS
from paperzoo.diffusiongpt.llm import RuleLLM
from paperzoo.diffusiongpt.pipeline import DiffusionGPT, Routing
from paperzoo.diffusiongpt.realscale import DiffusersZoo
from paperzoo.diffusiongpt.tree import build_tree


def tiny_tokenizer(folder):
    """A CLIP BPE tokenizer with single-letter tokens only (no merges)."""
    from transformers import CLIPTokenizer

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for piece in letters + [f"{c}</w>" for c in letters]:
        vocab[piece] = len(vocab)
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def tiny_sd(folder):
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(folder.parent / "tok")
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                                        pad_token_id=1))
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=8, norm_num_groups=4)
    vae = AutoencoderKL(block_out_channels=(8, 8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, norm_num_groups=4, sample_size=64)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=DDIMScheduler(),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return pipe


def tiny_lora(pipe, folder):
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe.unet.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=get_peft_model_state_dict(pipe.unet),
                                              weight_name="circleLines.safetensors")
    pipe.unet.delete_adapters("default")
    return folder / "circleLines.safetensors"


@pytest.fixture(scope="module")
def zoo_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd")
    pipe = tiny_sd(root / "checkpoints" / "tinyBase_v1")
    tiny_lora(pipe, root / "checkpoints")
    cards = [
        ModelCard("tinyBase_v1", "checkpoint", ["base model", "universal"], base_model="SD 1.5"),
        ModelCard("circleLines.safetensors", "lora", ["circle", "outline", "line art"], resources_used=["tiny base v1"],
                  example_prompts=["a green circle in outline style"], negtive_prompts=["blurry"]),
    ]
    save_cards(cards, root / "model_data.json")
    return root


def test_checkpoint_and_lora_load_and_draw(zoo_files):
    zoo = DiffusersZoo(zoo_files / "model_data.json", steps=2, size=64)
    assert zoo.keys() == ["tinyBase_v1", "circleLines"]
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    base = zoo.generate("tinyBase_v1", ["a red circle"], latents)
    assert base.shape == (1, 3, 64, 64) and base.min() >= -1 and base.max() <= 1
    lora = zoo.generate("circleLines", ["a red circle"], latents, ["blurry"])
    assert zoo._key == "circleLines" and not torch.allclose(base, lora)  # the LoRA changes the drawing
    again = zoo.generate("tinyBase_v1", ["a red circle"], latents)
    torch.testing.assert_close(again, base)  # the LoRA did not leak into the base


def test_diffusiongpt_routes_onto_stable_diffusion_models(zoo_files):
    zoo = DiffusersZoo(zoo_files / "model_data.json", steps=2, size=64)
    rule = RuleLLM(SUBJECT_WORDS, STYLE_WORDS)
    tree = build_tree(rule, zoo.cards, universal=["tinyBase_v1"])
    pipe = DiffusionGPT(rule, zoo, tree, None, routing=Routing(human_feedback=False))
    images, traces = pipe.generate(["I want to see a red circle in outline style"], torch.randn(1, 4, 8, 8))
    assert traces[0].model == "circleLines" and traces[0].negative_prompt == "blurry"
    assert images.shape == (1, 3, 64, 64)


def test_missing_weights_and_unknown_bases_get_one_clear_error(zoo_files, tmp_path):
    save_cards([ModelCard("nowhere_v1", "checkpoint", ["x"]),
                ModelCard("orphan.safetensors", "lora", ["x"], resources_used=["zzzzzzzz"]),
                ModelCard("single.safetensors", "checkpoint", ["x"], path=str(tmp_path / "single.safetensors"))],
               tmp_path / "cards.json")
    (tmp_path / "single.safetensors").write_bytes(b"")
    zoo = DiffusersZoo(tmp_path / "cards.json")
    with pytest.raises(CheckpointError, match="do not exist"):
        zoo.pipeline("nowhere_v1")
    with pytest.raises(InputError, match="none of the zoo's checkpoints"):
        zoo.pipeline("orphan")
    with pytest.raises(CheckpointError, match="needs the card's \"config\""):
        zoo.pipeline("single")
    with pytest.raises(InputError, match="not in the zoo"):
        zoo.card("nosuch")


def test_cli_generate_on_a_card_file(zoo_files, tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from paperzoo.cli import main

    out = tmp_path / "sd.png"
    result = CliRunner().invoke(main, ["diffusiongpt", "generate", "I want to see a red circle in outline style",
                                       "--zoo", str(zoo_files / "model_data.json"), "--steps", "2", "--scale", "1",
                                       "--out", str(out)], env={"PAPERZOO_CACHE": str(tmp_path / "c")})
    assert result.exit_code == 0, result.output
    assert "model:        circleLines" in result.output and Image.open(out).size == (64, 64)
    assert (zoo_files / "model_data.tree-RuleLLM.json").is_file()  # the tree is built once and kept beside the cards


def test_cli_build_db_with_imagereward_then_generate_with_it(zoo_files, tmp_path):
    """`build-db` on a card file: both models draw every prompt, the tiny ImageReward of the
    parity fixture scores them, the database is written in the official schema and `generate` uses it."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner
    from safetensors.torch import load_file

    from paperzoo.cli import main
    from paperzoo.diffusiongpt.database import AdvantageDatabase

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "diffusiongpt"
    ir = tmp_path / "imagereward"
    ir.mkdir()
    torch.save(load_file(str(fixture / "tiny_imagereward.safetensors")), ir / "ImageReward.pt")
    shutil.copy(fixture / "med_config.json", ir)
    shutil.copytree(fixture / "tokenizer", ir / "tokenizer")
    (tmp_path / "prompts.txt").write_text("a red circle in outline style\na blue square\na green cross in photo style\n")
    db_dir = tmp_path / "db"
    args = ["diffusiongpt", "build-db", "--zoo", str(zoo_files / "model_data.json"), "--prompts",
            str(tmp_path / "prompts.txt"), "--imagereward", str(ir), "--embedder", "tfidf", "--steps", "2",
            "--batch-size", "2", "--out", str(db_dir)]
    result = CliRunner().invoke(main, args, env={"PAPERZOO_CACHE": str(tmp_path / "c")})
    assert result.exit_code == 0, result.output
    db = AdvantageDatabase.load(db_dir)
    assert len(db) == 3 and set(db.scores["a blue square"]) == {"tinyBase_v1", "circleLines"}
    assert not (tmp_path / "db.partial").exists()  # the per-model scores are removed once the database is whole
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "exists" in again.output
    out = tmp_path / "x.png"
    result = CliRunner().invoke(main, ["diffusiongpt", "generate", "a blue square", "--zoo", str(zoo_files / "model_data.json"),
                                       "--database", str(db_dir), "--steps", "2", "--scale", "1", "--out", str(out)],
                                env={"PAPERZOO_CACHE": str(tmp_path / "c")})
    assert result.exit_code == 0, result.output
    assert "database hit: 'a blue square' -> " in result.output  # the look-up used the new database


def test_cli_build_db_on_a_card_file_needs_prompts_and_imagereward(zoo_files, tmp_path):
    from click.testing import CliRunner

    from paperzoo.cli import main

    result = CliRunner().invoke(main, ["diffusiongpt", "build-db", "--zoo", str(zoo_files / "model_data.json"),
                                       "--out", str(tmp_path / "db")])
    assert result.exit_code != 0 and "--prompts" in result.output and "--imagereward" in result.output
