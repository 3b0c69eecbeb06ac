"""The whole chain as one call: M0 -> SFT on IFT ∪ EFT -> M1 -> self-rewarding iterations.

Without files, the seed data, prompts, early-stopping validator and oracle come from a
world: `paperzoo.world.instructions` for a world policy (the tiny model), the checkable
English tasks of `paperzoo.world.checkable` for a chat model (e.g. SmolLM2-135M-Instruct):
reference replies as IFT, Fig. 2 judgments written from the checker as EFT. With files
(`ift`, `eft`, `prompts_file`) any local Hugging Face causal LM runs the same code, without
a validator (the paper's Claude 2 comparison of checkpoints needs an API). Each model is
written as a policy folder (M1/, M2/, ...), each iteration's pairs as TRL JSONL, and `log.json` records what every
stage measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.self_rewarding.config import MODELS, recipe as get_recipe
from paperzoo.self_rewarding.data import (
    JudgeGroup,
    checkable_ift_examples,
    checkable_judge_groups,
    eft_examples,
    ift_examples,
    read_jsonl,
    read_pairs,
    read_sft,
    self_filtered_targets,
    world_judge_groups,
)
from paperzoo.self_rewarding.evaluate import answer
from paperzoo.self_rewarding.formats import JudgeRequest
from paperzoo.self_rewarding.judge import judge
from paperzoo.self_rewarding.loop import self_instruct_prompts, self_rewarding_iteration
from paperzoo.self_rewarding.policy import Policy, load_policy, new_policy
from paperzoo.self_rewarding.train import sft
from paperzoo.world import checkable, instructions


@dataclass(frozen=True)
class WorldSource:
    """Where a chain without files gets its seed data, prompts and grader."""

    ift: Callable[[int, int], list[tuple[str, str]]]  # (n, seed) -> (instruction, response)
    judge_groups: Callable[[str, int, int], list[JudgeGroup]]  # (split, n, seed), with judgment targets
    tasks: Callable[..., list]  # (split, seed, n, start) -> tasks with .prompt
    rubric_score: Callable[[object, str], float]  # (task, response) -> the rubric's 0..5


INSTRUCTION_WORLD = WorldSource(ift_examples, world_judge_groups, instructions.tasks, instructions.rubric_score)
CHECKABLE_WORLD = WorldSource(checkable_ift_examples, checkable_judge_groups, checkable.tasks, checkable.rubric_score)


def world_validator(recipe, seed: int, fmt, source: WorldSource = INSTRUCTION_WORLD):
    """Mean rubric q of greedy answers on the recipe's `valid_size` validation prompts (the
    world's stand-in for the paper's Claude 2 judgments of checkpoints)."""
    valid = source.tasks("valid", seed, recipe.valid_size)

    def validate(model) -> float:
        from paperzoo.self_rewarding.policy import Policy

        policy = Policy(model, fmt)
        outs = answer(policy, [t.prompt for t in valid], recipe.max_new_tokens)
        return sum(source.rubric_score(t, o) for t, o in zip(valid, outs)) / len(valid)

    return validate


def self_filtered_eft(baseline: Policy, groups: Sequence[JudgeGroup], recipe, seed: int = 0,
                      progress: bool = False) -> list[JudgeGroup]:
    """EFT targets the paper's way (§3.1.1, `eft_targets="self_filtered"`): the SFT baseline
    judges every response of every group once, and `data.self_filtered_targets` keeps the
    groups whose scores order the responses as the ranks do (the common score downsampled)."""
    scores, texts = judge(baseline.model, baseline.fmt, [g.instruction for g in groups], [list(g.responses) for g in groups],
                          judgments=1, temperature=recipe.temperature, top_p=recipe.top_p,
                          max_new_tokens=recipe.judge_max_new_tokens, generator=torch.Generator().manual_seed(seed),
                          progress=progress, return_texts=True)
    return self_filtered_targets(groups, [[t[0] for t in g] for g in texts], [[s[0] for s in g] for g in scores], seed)


def train_chain(model, recipe_name, out, *, ift=None, eft=None, prompts_file=None, iterations=2, prompts_per_iteration=None,
                sft_steps=None, dpo_steps=None, seed=0, device="cpu", progress=True, **flags) -> dict:
    """M0 -> M1 -> ... -> M_{iterations + 1}; `flags` override the recipe's (e.g. use_eft=False,
    eft_targets="self_filtered", prompt_source="self", ref="sft", cumulative_aift=True)."""
    recipe = get_recipe(recipe_name)
    overrides = {k: v for k, v in dict(sft_steps=sft_steps, dpo_steps=dpo_steps, prompts_per_iteration=prompts_per_iteration,
                                       **flags).items() if v is not None}
    recipe = replace(recipe, **overrides)
    if recipe.sft_steps <= 0 or recipe.dpo_steps <= 0:
        raise InputError(f"recipe {recipe_name!r} sets no step counts (the paper reports none); pass --sft-steps and --dpo-steps")
    out = Path(out)
    world = ift is None and eft is None and prompts_file is None
    policy = new_policy(model, seed) if model in MODELS else load_policy(model)
    gold: dict = {}
    if world:
        # the world policy's compact tasks, or the checkable English tasks for a chat model
        source = INSTRUCTION_WORLD if policy.fmt.style == "world" else CHECKABLE_WORLD
        ift_data = source.ift(recipe.ift_size, seed)
        groups = source.judge_groups("eft_train", recipe.eft_train_size, seed)
        eft_data = eft_examples(groups)
        n = recipe.prompts_per_iteration
        fixed = [source.tasks("prompts", seed, n, t * n) for t in range(iterations)]
        per_iteration = [[t.prompt for t in batch] for batch in fixed]
        validate = world_validator(recipe, seed, policy.fmt, source)
        gold = {t.prompt: t for batch in fixed for t in batch}
    else:
        if not (ift and prompts_file and (eft or not recipe.use_eft)):
            raise InputError("with real data give --ift and --prompts, and --eft unless the recipe has use_eft=False")
        ift_data = read_sft(ift)
        groups = []
        eft_data = [(JudgeRequest(r["prompt"], r["response"]), r["completion"])
                    for r in read_jsonl(eft, ("prompt", "response", "completion"))] if eft else []
        prompts = [r["prompt"] for r in read_jsonl(prompts_file, ("prompt",))]
        k = max(1, len(prompts) // max(1, iterations))
        per_iteration = [prompts[t * k: (t + 1) * k] for t in range(iterations)]
        validate = None
    log = {"recipe": recipe_name, "seed": seed, "flags": {k: getattr(recipe, k) for k in (
        "use_eft", "eft_targets", "prompt_source", "ref", "cumulative_aift", "parse_fail", "tie_break", "logp_reduction")},
        "models": []}
    seed_data = list(ift_data)
    if recipe.use_eft:
        if world and recipe.eft_targets == "self_filtered":
            baseline = policy.copy()  # the SFT baseline: M0 on IFT only
            sft(baseline.model, baseline.fmt, ift_data, steps=recipe.sft_steps, lr=recipe.sft_lr, final_lr=recipe.sft_final_lr,
                batch_size=recipe.batch_size, warmup=min(100, recipe.sft_steps // 10), seed=seed, out_dir=out / "sft-baseline",
                device=device, progress=progress, desc="SFT baseline", lora_rank=recipe.lora_rank)
            kept = self_filtered_eft(baseline, groups, recipe, seed, progress)
            eft_data = eft_examples(kept)
            log["eft_kept_groups"] = f"{len(kept)} of {len(groups)}"
        seed_data += eft_data
    log["seed_examples"] = {"ift": len(ift_data), "eft": len(eft_data) if recipe.use_eft else 0}
    result = sft(policy.model, policy.fmt, seed_data, steps=recipe.sft_steps, lr=recipe.sft_lr, final_lr=recipe.sft_final_lr,
                 batch_size=recipe.batch_size, warmup=min(100, recipe.sft_steps // 10), seed=seed, out_dir=out / "sft",
                 device=device, eval_every=recipe.eval_every * 4 if validate else 0, validate=validate, progress=progress,
                 desc="SFT M1", lora_rank=recipe.lora_rank)
    policy.save(out / "M1")
    log["models"].append({"name": "M1", "path": str(out / "M1"), "validation": result["validation"]})
    first = policy
    previous: list[tuple[str, str, str]] = []
    for t in range(iterations):
        prompts = per_iteration[t]
        if recipe.prompt_source == "self":  # App. A.5: M_t writes its own prompts, from IFT instructions as examples
            generator = torch.Generator().manual_seed(seed + 100 + t)
            prompts = self_instruct_prompts(policy, [x for x, _ in ift_data], len(prompts), recipe, generator)
        oracle = (lambda p, r: source.rubric_score(gold[p], r)) if world and recipe.prompt_source == "fixed" else None
        ref = first if recipe.ref == "sft" else None
        folder = out / f"iteration-{t + 1}"
        policy, stats = self_rewarding_iteration(policy, prompts, recipe, folder, ref=ref, seed=seed + t, device=device,
                                                 validate=validate, oracle=oracle, previous_pairs=previous, progress=progress)
        if recipe.cumulative_aift:
            previous += read_pairs(folder / "aift.jsonl") if stats["pairs"] else []
        name = f"M{t + 2}"
        policy.save(out / name)
        dpo = stats.pop("dpo") or {}
        log["models"].append({"name": name, "path": str(out / name), **stats, "validation": dpo.get("validation", [])})
    with atomic_path(out / "log.json") as tmp:
        tmp.write_text(json.dumps(log, indent=1) + "\n")
    return log
