"""Named configs (parameter counts of the paper's models), recipes' flags, and policy
checkpoints: ours and any local Hugging Face causal-LM folder."""

import json

import pytest
import torch

from paperzoo.core.errors import CheckpointError, ConfigError
from paperzoo.self_rewarding.config import PAPER_PARAMS, Recipe, configs, model_config, recipe
from paperzoo.self_rewarding.policy import load_policy, new_policy


def _params(name: str) -> int:
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        return sum(p.numel() for p in LlamaForCausalLM(model_config(name).to_llama()).parameters())


# The released Llama 2 architectures (params.json shipped with Meta's weights, as listed in
# meta-llama/llama-models' sku_list.py): dim, layers, heads, KV heads, multiple_of, ffn_dim_multiplier;
# the Llama 2 tokenizer has 32,000 tokens.
OFFICIAL_ARGS = {"llama2-7b": (4096, 32, 32, 32, 256, None), "llama2-70b": (8192, 80, 64, 8, 4096, 1.3)}


def _official_count(dim, layers, heads, kv_heads, multiple_of, ffn_dim_multiplier, vocab=32000) -> int:
    """The parameters of facebookresearch/llama's `Transformer` (model.py), its modules' shapes written out."""
    hidden = int(2 * (4 * dim) / 3)  # FeedForward.__init__: hidden_dim = 4 * dim, then 2/3 of it,
    if ffn_dim_multiplier:
        hidden = int(ffn_dim_multiplier * hidden)  # times the multiplier,
    hidden = multiple_of * ((hidden + multiple_of - 1) // multiple_of)  # rounded up to multiple_of
    head_dim = dim // heads
    attention = dim * heads * head_dim + 2 * dim * kv_heads * head_dim + heads * head_dim * dim  # wq, wk, wv, wo
    feed_forward = 3 * dim * hidden  # w1, w2, w3
    block = attention + feed_forward + 2 * dim  # attention_norm, ffn_norm
    return vocab * dim + layers * block + dim + dim * vocab  # tok_embeddings, layers, norm, output


@pytest.mark.parametrize("name", ["llama2-70b", "llama2-7b"])
def test_paper_model_parameter_counts(name):
    """Exact counts: our transformers Llama of the named config has exactly the parameters of Meta's
    official Llama 2 code at the released architecture (the paper itself says only 7B / 70B)."""
    assert _params(name) == _official_count(*OFFICIAL_ARGS[name]) == PAPER_PARAMS[name]
    assert f"{PAPER_PARAMS[name] / 1e9:.2f}" == {"llama2-70b": "68.98", "llama2-7b": "6.74"}[name]  # card §2


def test_tiny_model_is_the_cards_087m():
    assert f"{_params('tiny') / 1e6:.2f}" == "0.87"
    cfg = model_config("tiny")
    assert (cfg.layers, cfg.hidden_size, cfg.heads, cfg.intermediate_size, cfg.max_positions) == (4, 128, 4, 384, 128)
    assert set(configs()) >= {"llama2-70b", "llama2-7b", "tiny"}


def test_recipes_hold_the_papers_hyperparameters_and_refuse_bad_flags():
    paper = recipe("paper")
    assert (paper.candidates, paper.judgments, paper.temperature, paper.top_p, paper.beta) == (4, 3, 0.7, 0.9, 0.1)
    assert (paper.sft_lr, paper.sft_final_lr, paper.dpo_lr, paper.dpo_final_lr, paper.batch_size) == (5.5e-6, 1.1e-6, 1e-6, 1e-7, 16)
    assert (paper.eft_train_size, paper.eft_eval_size, paper.ift_size) == (1630, 541, 3200)
    tiny = recipe("tiny")
    assert tiny.sft_final_lr / tiny.sft_lr == pytest.approx(paper.sft_final_lr / paper.sft_lr)  # decay ratios follow the paper
    assert tiny.dpo_final_lr / tiny.dpo_lr == pytest.approx(paper.dpo_final_lr / paper.dpo_lr)
    with pytest.raises(ConfigError, match="parse_fail='skip'"):
        Recipe(parse_fail="skip")
    with pytest.raises(ConfigError, match="candidates=1"):
        Recipe(candidates=1)
    with pytest.raises(ConfigError, match="unknown self_rewarding model config 'llama3'"):
        model_config("llama3")


def test_policy_folder_round_trip_is_a_hugging_face_checkpoint(tmp_path):
    from transformers import AutoModelForCausalLM

    policy = new_policy("tiny", seed=3)
    policy.save(tmp_path / "m1")
    assert json.loads((tmp_path / "m1" / "paperzoo.json").read_text()) == {"style": "world"}
    again = load_policy(tmp_path / "m1")
    assert again.fmt.style == "world"
    ids = torch.tensor([policy.fmt.prompt_ids("reverse : c a f")])
    policy.model.eval(), again.model.eval()
    assert torch.equal(policy.model(ids).logits, again.model(ids).logits)
    plain = AutoModelForCausalLM.from_pretrained(tmp_path / "m1")  # readable without paperzoo
    assert torch.equal(plain.eval()(ids).logits, again.model(ids).logits)


def test_a_plain_hf_folder_loads_in_chat_style_with_the_fig2_judge_prompt(tmp_path):
    policy = new_policy("tiny", seed=0)
    policy.model.save_pretrained(tmp_path / "hf")
    policy.fmt.tokenizer.save_pretrained(tmp_path / "hf")
    loaded = load_policy(tmp_path / "hf")
    assert loaded.fmt.style == "chat"
    from paperzoo.self_rewarding.formats import PLAIN_TEMPLATE
    from paperzoo.self_rewarding.judge import judge_prompt

    fmt = loaded.fmt
    assert fmt.prompt_ids("sort : b a") == [fmt.tokenizer.bos_token_id] + fmt._encode(PLAIN_TEMPLATE.format(instruction="sort : b a"))
    assert fmt.judge_prompt_ids("sort : b a", "a b") == fmt.prompt_ids(judge_prompt("sort : b a", "a b"))


def test_missing_or_broken_checkpoints_get_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_policy(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="has no config.json"):
        load_policy(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="could not be loaded"):
        load_policy(tmp_path / "bad")
