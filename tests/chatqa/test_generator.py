"""The generator: the paper's base models' parameter counts, the tiny config, greedy answers
through the KV-cache sampler against a plain argmax loop, the plain App. A text on an HF folder
(never its chat template), and save/load round trips with clear errors for bad folders."""

import json

import pytest
import torch

from paperzoo.chatqa.config import PAPER_PARAMS, generator_config, generators, recipe
from paperzoo.chatqa.generator import Generator
from paperzoo.chatqa.template import INSTRUCTION_FULL, build_prompt, template_words
from paperzoo.core.errors import CheckpointError, ConfigError

MESSAGES = [{"role": "user", "content": "what colour is the zorb ?"}, {"role": "assistant", "content": "red ."},
            {"role": "user", "content": "how old is it ?"}]
CONTEXT = ["the zorb is red .", "the zorb is 7 years old ."]


def word_tokenizer(extra=()):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<bos>", "<eos>", "<unk>", *template_words(), *"what colour is the zorb ? red . how old it 7 years".split(), *extra]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(dict.fromkeys(words))}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")


def tiny_llama(vocab: int, positions: int = 256, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=4, intermediate_size=64, max_position_embeddings=positions,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(cfg).eval()


def world_generator(seed: int = 0) -> Generator:
    tok = word_tokenizer()
    return Generator(tiny_llama(len(tok), seed=seed), tok, "world")


def _official_count(dim, layers, heads, kv_heads, multiple_of, ffn_dim_multiplier, vocab=32000) -> int:
    """facebookresearch/llama's `Transformer` (model.py) parameters, its modules' shapes written out."""
    hidden = int(2 * (4 * dim) / 3)
    if ffn_dim_multiplier:
        hidden = int(ffn_dim_multiplier * hidden)
    hidden = multiple_of * ((hidden + multiple_of - 1) // multiple_of)
    head_dim = dim // heads
    attention = dim * heads * head_dim + 2 * dim * kv_heads * head_dim + heads * head_dim * dim
    block = attention + 3 * dim * hidden + 2 * dim
    return vocab * dim + layers * block + dim + dim * vocab


# The released params.json of each Llama 2 size: dim, layers, heads, KV heads, multiple_of, ffn_dim_multiplier.
OFFICIAL_ARGS = {"llama2-7b": (4096, 32, 32, 32, 256, None), "llama2-13b": (5120, 40, 40, 40, 256, None),
                 "llama2-70b": (8192, 80, 64, 8, 4096, 1.3)}


@pytest.mark.parametrize("name", ["llama2-7b", "llama2-13b", "llama2-70b"])
def test_paper_base_models_have_the_released_parameter_counts(name):
    """§5.1's Llama2-7B/13B/70B: our Llama of each config (counted on the meta device) has exactly the
    parameters of Meta's code at the released architecture (the paper rounds them: 7B/13B/70B)."""
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        ours = sum(p.numel() for p in LlamaForCausalLM(generator_config(name).lm.to_llama()).parameters())
    assert ours == _official_count(*OFFICIAL_ARGS[name]) == PAPER_PARAMS[name]
    assert round(ours / 1e9) == {"llama2-7b": 7, "llama2-13b": 13, "llama2-70b": 69}[name]


def test_named_configs_and_recipes():
    assert {"tiny", "tiny-ci", "llama2-7b", "llama2-13b", "llama2-70b", "smollm2-135m-instruct"} <= set(generators())
    tiny = generator_config("tiny").lm
    assert (tiny.layers, tiny.hidden_size, tiny.heads, tiny.max_positions) == (6, 192, 6, 384)  # card §5
    assert generator_config("smollm2-135m-instruct").pretrained == "smollm2-135m-instruct"
    rel = recipe("release").stage1  # training_config_stage1.yaml
    assert (rel.lr, rel.min_lr, rel.batch_size, rel.steps, rel.betas, rel.weight_decay, rel.grad_clip) == (
        5e-6, 1e-8, 128, 1000, (0.9, 0.95), 0.1, 1.0)
    assert "not in the v1 paper" in rel.source
    assert recipe("tiny").stage2.lr == 3e-4 and recipe("tiny").stage1.supervise == "last"
    with pytest.raises(ConfigError, match="unknown chatqa generator config 'nope'"):
        generator_config("nope")
    from paperzoo.chatqa.generator import new_generator

    with pytest.raises(ConfigError, match="llama2-7b.*local Hugging Face folder"):
        new_generator("llama2-7b")  # never builds 7B random weights by accident


def _greedy_reference(model, ids, max_new, eos):
    """Plain greedy decoding: the whole sequence through the model at every step, argmax."""
    out = []
    x = torch.tensor([ids])
    with torch.no_grad():
        for _ in range(max_new):
            nxt = int(model(input_ids=x).logits[0, -1].argmax())
            if nxt == eos:
                break
            out.append(nxt)
            x = torch.cat([x, torch.tensor([[nxt]])], dim=1)
    return out


def test_answer_is_greedy_decoding_with_the_kv_cache():
    gen = world_generator(seed=3)
    prompt = gen.prompt(MESSAGES, CONTEXT, INSTRUCTION_FULL, max_new_tokens=12)
    ref = gen.decode(_greedy_reference(gen.model, prompt, 12, gen.eos_id))
    assert gen.answer(MESSAGES, CONTEXT, INSTRUCTION_FULL, max_new_tokens=12) == ref
    other = [{"role": "user", "content": "what colour is it ?"}]
    batch = gen.answer_batch([(MESSAGES, CONTEXT, INSTRUCTION_FULL), (other, CONTEXT[:1], "")], max_new_tokens=12)
    assert batch[0] == ref  # left padding in a batch does not change an answer
    assert batch[1] == gen.answer(other, CONTEXT[:1], "", max_new_tokens=12)


def test_world_generator_round_trips_through_its_folder(tmp_path):
    gen = world_generator(seed=1)
    folder = gen.save_pretrained(tmp_path / "gen")
    assert json.loads((folder / "paperzoo.json").read_text())["tokenizer"] == "world"
    back = Generator.from_pretrained(folder)
    assert back.kind == "world" and back.tokenizer.get_vocab() == gen.tokenizer.get_vocab()
    for a, b in zip(gen.model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a, b)
    assert back.answer(MESSAGES, CONTEXT, max_new_tokens=8) == gen.answer(MESSAGES, CONTEXT, max_new_tokens=8)


def test_hf_folder_reads_the_plain_template_not_its_chat_template(tmp_path):
    """Any local HF causal-LM folder (here a random Llama with a chat template) is kind "hf" and is
    prompted with App. A's plain text (the card's pitfall), BOS first as its tokenizer starts text."""
    from tokenizers import processors

    tok = word_tokenizer(extra=["<|im_start|>", "<|im_end|>"])
    tok._tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    tok.chat_template = "{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}"
    model = tiny_llama(len(tok))
    model.save_pretrained(tmp_path / "hf")
    tok.save_pretrained(tmp_path / "hf")
    gen = Generator.from_pretrained(tmp_path / "hf")
    assert gen.kind == "hf"
    ids = gen.prompt(MESSAGES, CONTEXT, INSTRUCTION_FULL, max_new_tokens=8)
    assert ids == tok(build_prompt(MESSAGES, CONTEXT, INSTRUCTION_FULL))["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.convert_tokens_to_ids("<|im_start|>") not in ids
    assert isinstance(gen.answer(MESSAGES, CONTEXT, max_new_tokens=4), str)


def test_bad_folders_get_one_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        Generator.from_pretrained(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        Generator.from_pretrained(tmp_path / "empty")
    folder = world_generator().save_pretrained(tmp_path / "gen")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="could not be loaded"):
        Generator.from_pretrained(folder)
    folder = world_generator().save_pretrained(tmp_path / "gen2")
    (folder / "paperzoo.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="paperzoo.json is corrupt"):
        Generator.from_pretrained(folder)


def test_tiny_generator_is_the_cards_3m_llama_on_the_world_vocabulary():
    """Card §5: 6 layers, d = 192, 6 heads, 384 positions, a word vocabulary of ~600 (the world's
    words, the template's and the instruction tasks'): 2.9M parameters; nothing a sample holds is <unk>."""
    from paperzoo.chatqa import blends
    from paperzoo.chatqa.generator import new_generator
    from paperzoo.world.conversations import words

    gen = new_generator("tiny")
    n_vocab = len(gen.tokenizer)
    assert n_vocab > len(words()) and gen.model.config.vocab_size == n_vocab and gen.window == 384
    assert f"{sum(p.numel() for p in gen.model.parameters()) / 1e6:.1f}" == "2.9"
    for s in blends.stage2(0)(0, 40) + blends.stage1(0)(0, 10):
        ids, _ = gen.example(s.messages, s.context, s.instruction)
        assert gen.tokenizer.unk_token_id not in ids and len(ids) <= gen.window
