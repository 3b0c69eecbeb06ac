"""The whole chain as one call: M0 -> SFT on IFT ∪ EFT -> M1 -> self-rewarding iterations.

On the world (the default) the seed data, prompts and the early-stopping validator come
from `paperzoo.world.instructions`; with files (`ift`, `eft`, `prompts_file`) any local
Hugging Face causal LM runs the same code, without a validator (the paper's Claude 2
comparison of checkpoints needs an API). Each model is written as a policy folder
(M1/, M2/, ...), each iteration's pairs as TRL JSONL, and `log.json` records what every
stage measured.
"""

from __future__ import annotations

import json
from pathlib import Path

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.self_rewarding.config import MODELS, recipe as get_recipe
from paperzoo.self_rewarding.data import (
    eft_examples,
    ift_examples,
    read_jsonl,
    read_sft,
    world_judge_groups,
    world_prompts,
)
from paperzoo.self_rewarding.evaluate import answer
from paperzoo.self_rewarding.formats import JudgeRequest
from paperzoo.self_rewarding.loop import self_rewarding_iteration
from paperzoo.self_rewarding.policy import load_policy, new_policy
from paperzoo.self_rewarding.train import sft
from paperzoo.world.instructions import rubric_score, tasks

VALID_SIZE = 253  # the paper's validation prompts for early stopping


def world_validator(recipe, seed: int, fmt):
    """Mean rubric q of greedy answers on the validation prompts (the world's stand-in for
    the paper's Claude 2 judgments of checkpoints)."""
    valid = tasks("valid", seed, VALID_SIZE)

    def validate(model) -> float:
        from paperzoo.self_rewarding.policy import Policy

        policy = Policy(model, fmt)
        outs = answer(policy, [t.prompt for t in valid], recipe.max_new_tokens)
        return sum(rubric_score(t, o) for t, o in zip(valid, outs)) / len(valid)

    return validate


def train_chain(model, recipe_name, out, *, ift=None, eft=None, prompts_file=None, iterations=2, prompts_per_iteration=None, sft_steps=None,
                dpo_steps=None, seed=0, device="cpu", progress=True) -> dict:
    from dataclasses import replace

    recipe = get_recipe(recipe_name)
    recipe = replace(recipe, sft_steps=sft_steps or recipe.sft_steps, dpo_steps=dpo_steps or recipe.dpo_steps,
                     prompts_per_iteration=prompts_per_iteration or recipe.prompts_per_iteration)
    if recipe.sft_steps <= 0 or recipe.dpo_steps <= 0:
        raise InputError(f"recipe {recipe_name!r} sets no step counts (the paper reports none); pass --sft-steps and --dpo-steps")
    out = Path(out)
    world = ift is None and eft is None and prompts_file is None
    policy = new_policy(model, seed) if model in MODELS else load_policy(model)
    if world and policy.fmt.style != "world":
        raise InputError(f"{model}: a chat-style model needs --ift, --eft and --prompts files (the world's compact prompts fit only world policies)")
    if world:
        seed_data = ift_examples(recipe.ift_size, seed) + eft_examples(world_judge_groups("eft_train", recipe.eft_train_size, seed))
        per_iteration = [[t.prompt for t in world_prompts(t, recipe.prompts_per_iteration, seed)] for t in range(iterations)]
        validate = world_validator(recipe, seed, policy.fmt)
        gold = {t.prompt: t for i in range(iterations) for t in world_prompts(i, recipe.prompts_per_iteration, seed)}
        oracle = lambda p, r: rubric_score(gold[p], r)  # noqa: E731
    else:
        if not (ift and eft and prompts_file):
            raise InputError("with real data give all of --ift, --eft and --prompts")
        seed_data = read_sft(ift) + [(JudgeRequest(r["prompt"], r["response"]), r["completion"])
                                     for r in read_jsonl(eft, ("prompt", "response", "completion"))]
        prompts = [r["prompt"] for r in read_jsonl(prompts_file, ("prompt",))]
        k = max(1, len(prompts) // max(1, iterations))
        per_iteration = [prompts[t * k: (t + 1) * k] for t in range(iterations)]
        validate, oracle = None, None
    log = {"recipe": recipe_name, "seed": seed, "models": []}
    result = sft(policy.model, policy.fmt, seed_data, steps=recipe.sft_steps, lr=recipe.sft_lr, final_lr=recipe.sft_final_lr,
                 batch_size=recipe.batch_size, warmup=min(100, recipe.sft_steps // 10), seed=seed, out_dir=out / "sft",
                 device=device, eval_every=recipe.eval_every * 4 if validate else 0, validate=validate, progress=progress, desc="SFT M1")
    policy.save(out / "M1")
    log["models"].append({"name": "M1", "path": str(out / "M1"), "validation": result["validation"]})
    first = policy
    for t in range(iterations):
        ref = first if recipe.ref == "sft" else None
        policy, stats = self_rewarding_iteration(policy, per_iteration[t], recipe, out / f"iteration-{t + 1}", ref=ref,
                                                 seed=seed + t, device=device, validate=validate, oracle=oracle, progress=progress)
        name = f"M{t + 2}"
        policy.save(out / name)
        dpo = stats.pop("dpo") or {}
        log["models"].append({"name": name, "path": str(out / name), **stats, "validation": dpo.get("validation", [])})
    with atomic_path(out / "log.json") as tmp:
        tmp.write_text(json.dumps(log, indent=1) + "\n")
    return log
