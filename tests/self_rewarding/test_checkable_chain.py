"""The chain on a chat model without files (issue 16): the checkable English tasks give the
IFT data (reference replies), the EFT data (Fig. 2 judgments written from the checker), the
prompts, the validator and the oracle; `train --model smollm2-135m-instruct` picks that model
and the smollm2 recipe; `lora_rank > 0` trains LoRA adapters and merges them back.

The chain runs here on a tiny random Llama saved as a plain Hugging Face folder (it loads in
the chat style, as SmolLM2 does); the real model's numbers are measured by `reproduce` and
test_real_m0.py."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from paperzoo.cli import main
from paperzoo.self_rewarding.data import checkable_ift_examples, checkable_judge_groups, eft_examples
from paperzoo.self_rewarding.formats import JudgeRequest, rubric_judgment
from paperzoo.self_rewarding.judge import parse_judge_score
from paperzoo.self_rewarding.policy import load_policy
from paperzoo.self_rewarding.run import train_chain
from paperzoo.world import checkable


def test_rubric_judgments_name_what_is_missed_and_conclude_with_the_rubric_score():
    seen_scores = set()
    for index, task in enumerate(checkable.tasks("eft_train", 0, 120)):
        for reply in checkable.responses_for_judging(task, np.random.default_rng(index)):
            text, score = rubric_judgment(task, reply), checkable.rubric_score(task, reply)
            seen_scores.add(score)
            assert parse_judge_score(text) == score, (task.prompt, reply, text)
            assert text.rstrip().endswith(f"Score: {score}") and len(text.split()) <= 100  # Fig. 2: up to 100 words
            if checkable.criteria(task, reply)[0]:
                missed = [checkable.requirement(task, n) for n, ok in checkable.assess(task, reply).met if not ok]
                assert all(m in text for m in missed), (text, missed)
    assert seen_scores == {0, 1, 2, 3, 4, 5}


def test_every_constraint_of_every_family_has_words_and_an_unknown_one_is_an_error():
    for task in checkable.tasks_by_family("eft_train", 0, 3):
        for reply in (task.reference, ""):
            for name, _ in checkable.assess(task, reply).met:
                assert checkable.requirement(task, name).strip()
    with pytest.raises(Exception, match="no constraint 'nosuch'"):
        checkable.requirement(checkable.tasks("ift", 0, 1)[0], "nosuch")


def test_checkable_seed_data_is_fixed_and_its_eft_targets_are_the_rubric():
    ift = checkable_ift_examples(12, 0)
    assert ift == checkable_ift_examples(12, 0) and ift != checkable_ift_examples(12, 1)
    tasks = checkable.tasks("ift", 0, 12)
    assert all(checkable.check(t, reply) for t, (_, reply) in zip(tasks, ift))  # reference replies score 5
    groups = checkable_judge_groups("eft_train", 8, 0)
    assert groups == checkable_judge_groups("eft_train", 8, 0)
    for g, task in zip(groups, checkable.tasks("eft_train", 0, 8)):
        assert g.instruction == task.prompt and 2 <= len(g.responses) <= 4
        assert g.quality == tuple(float(checkable.rubric_score(task, r)) for r in g.responses)
        assert [parse_judge_score(t) for t in g.targets] == list(g.quality)
    examples = eft_examples(groups)
    assert all(isinstance(x, JudgeRequest) for x, _ in examples) and len(examples) == sum(len(g.responses) for g in groups)


TOY = dict(iterations=1, prompts_per_iteration=3, sft_steps=2, dpo_steps=1, progress=False, ift_size=6,
           eft_train_size=2, valid_size=2, max_new_tokens=4, batch_size=2, eval_every=0)


def test_a_chat_model_without_files_trains_on_the_checkable_tasks(chat_standin, tmp_path):
    log = train_chain(str(chat_standin), "smollm2", tmp_path / "run", **TOY)
    groups = checkable_judge_groups("eft_train", 2, 0)
    assert log["seed_examples"] == {"ift": 6, "eft": sum(len(g.responses) for g in groups)}
    assert [m["name"] for m in log["models"]] == ["M1", "M2"]
    rows = [json.loads(line) for line in (tmp_path / "run" / "iteration-1" / "candidates.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == [t.prompt for t in checkable.tasks("prompts", 0, 3)]
    assert all(len(r["responses"]) == 4 for r in rows)  # N = 4
    if log["models"][1]["pairs"]:
        assert 0.0 <= log["models"][1]["pair_agreement"] <= 1.0  # the checker's oracle is there
    assert load_policy(tmp_path / "run" / "M2").fmt.style == "chat"


def test_lora_trains_adapters_merges_them_and_leaves_the_rest_of_m0_alone(chat_standin, tmp_path):
    pytest.importorskip("peft")
    from transformers import LlamaForCausalLM

    m0 = load_policy(chat_standin).model.state_dict()
    log = train_chain(str(chat_standin), "smollm2", tmp_path / "lora", lora_rank=2, sft_lr=1e-3, dpo_lr=1e-3,
                      **{**TOY, "sft_steps": 3})
    assert log["models"][0]["name"] == "M1"
    m1 = load_policy(tmp_path / "lora" / "M1").model
    assert type(m1) is LlamaForCausalLM and set(m1.state_dict()) == set(m0)  # plain weights: adapters merged
    after = m1.state_dict()
    assert torch.equal(after["model.embed_tokens.weight"], m0["model.embed_tokens.weight"])  # only projections move
    assert not torch.equal(after["model.layers.0.self_attn.q_proj.weight"], m0["model.layers.0.self_attn.q_proj.weight"])


def test_train_names_the_real_model_and_its_recipe(chat_standin, tmp_path, monkeypatch):
    """`--model smollm2-135m-instruct` is the real offline model (here the loader is pointed at the
    stand-in) with the smollm2 recipe, and --lora-rank reaches the chain."""
    import paperzoo.core.pretrained as pretrained

    monkeypatch.setattr(pretrained, "model_folder", lambda name: chat_standin)
    seen = {}
    import paperzoo.self_rewarding.run as run

    real = run.train_chain

    def spy(model, recipe_name, out, **kw):
        seen.update(model=model, recipe=recipe_name, lora_rank=kw.get("lora_rank"))
        return real(model, recipe_name, out, **{**kw, **TOY, "lora_rank": kw.get("lora_rank")})  # toy sizes

    monkeypatch.setattr(run, "train_chain", spy)
    res = CliRunner().invoke(main, ["self_rewarding", "train", "--model", "smollm2-135m-instruct", "--sft-steps", "1",
                                    "--dpo-steps", "1", "--prompts-per-iteration", "2", "--iterations", "1",
                                    "--lora-rank", "2", "--out", str(tmp_path / "cli"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert seen == {"model": str(chat_standin), "recipe": "smollm2", "lora_rank": 2}
    assert "M2:" in res.output and (tmp_path / "cli" / "M2" / "config.json").is_file()
