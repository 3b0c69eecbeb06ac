"""`paperzoo self_rewarding ...`: named configs, the training loop (SFT on seed data, then
self-rewarding iterations), sampling responses, judging them with the Fig. 2 prompt, and the
small-scale reproduction."""

from pathlib import Path

import click

from paperzoo.core.cli import (
    Group,
    device_option,
    model_option,
    model_source,
    out_option,
    reproduce_command,
    resolve_device,
    seed_option,
)


@click.group(cls=Group)
def cli():
    """Self-Rewarding Language Models (arXiv 2401.10020): LLM-as-a-Judge plus iterative DPO."""


@cli.command()
def configs():
    """List the named model configs with parameter counts."""
    import torch
    from transformers import LlamaForCausalLM

    from paperzoo.self_rewarding.config import PAPER_PARAMS, configs as names, model_config

    click.echo(f"{'config':<14}{'layers':>7}{'d':>7}{'params':>18}{'official code':>18}")
    for name in names():
        cfg = model_config(name)
        with torch.device("meta"):
            n = sum(p.numel() for p in LlamaForCausalLM(cfg.to_llama()).parameters())
        paper = PAPER_PARAMS.get(name)
        click.echo(f"{name:<14}{cfg.layers:>7}{cfg.hidden_size:>7}{n:>18,}{(f'{paper:,}' if paper else '-'):>18}")


def _names_smollm2(model) -> bool:
    """`--model smollm2-135m-instruct` (the real offline weights), unless a folder of that name exists."""
    from paperzoo.core.pretrained import SMOLLM2

    return str(model).lower() == SMOLLM2 and not Path(model).exists()


def _policy(model: str, seed: int, device: str):
    """The policy `--model NAME|FOLDER` names: a policy folder (ours, or any local Hugging Face
    causal LM), `smollm2-135m-instruct` (real offline weights, `paperzoo.core.pretrained`,
    used in the chat style), or `tiny`: the last model (M3) of the default world chain, trained
    once into the cache on first use (`train`'s defaults with this seed, about 4 minutes on 2 cores)."""
    from dataclasses import asdict

    from paperzoo.core.cache import cache_dir
    from paperzoo.core.errors import InputError
    from paperzoo.core.pretrained import SMOLLM2, model_folder
    from paperzoo.core.runcache import cached_run, is_cached
    from paperzoo.self_rewarding.config import configs as names
    from paperzoo.self_rewarding.config import recipe
    from paperzoo.self_rewarding.policy import load_policy
    from paperzoo.self_rewarding.run import train_chain

    if _names_smollm2(model):
        return load_policy(model_folder(SMOLLM2))
    kind, value = model_source(model, names())
    if kind == "folder":
        return load_policy(value)
    if value != "tiny":
        raise InputError(f"--model {value}: no weights ship for {value} (a config only); pass a local checkpoint folder, "
                         f"e.g. --model /models/Llama-2-{value.split('-')[-1]}-hf")
    folder = cache_dir("self_rewarding", f"tiny-seed-{seed}")
    settings = {"chain": "tiny", "recipe": asdict(recipe("tiny")), "seed": seed, "iterations": 2}
    if not is_cached(folder, "self_rewarding", settings):
        click.echo(f"--model tiny: training the default world chain once (SFT -> M1 -> M2 -> M3, seed {seed}; "
                   f"about 4 minutes on 2 cores) into {folder}", err=True)
    cached_run(folder, "self_rewarding", settings,
               lambda f: train_chain("tiny", "tiny", f, seed=seed, device=device, iterations=2))
    return load_policy(folder / "M3")


MODEL_HELP = ("The policy: a folder (ours, e.g. runs/sr/M3, or any local Hugging Face causal LM), "
              "smollm2-135m-instruct (real offline weights, converted once into the cache), or tiny "
              "(M3 of the default world chain, trained once into the cache on first use).")


def _instructions(prompt, infile) -> list[str]:
    from paperzoo.core.errors import InputError
    from paperzoo.self_rewarding.data import read_jsonl

    if bool(prompt) == bool(infile):
        raise InputError("give one of --prompt TEXT or --in FILE.jsonl (objects with a \"prompt\" field)")
    return list(prompt) if prompt else [r["prompt"] for r in read_jsonl(infile, ("prompt",))]


@cli.command()
@model_option(None, MODEL_HELP, required=True)
@click.option("--prompt", multiple=True, help="An instruction (repeatable).")
@click.option("--in", "infile", type=click.Path(path_type=Path), default=None, help="JSONL with a \"prompt\" field per line.")
@click.option("-n", "n", type=int, default=4, show_default=True, help="Responses per prompt (the paper's N).")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--top-p", type=float, default=0.9, show_default=True)
@click.option("--max-new-tokens", type=int, default=None, help="Default: 12 for world policies, 512 otherwise.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write JSONL {prompt, responses} here (atomically).")
@device_option
@seed_option
def generate(model, prompt, infile, n, temperature, top_p, max_new_tokens, out, device, seed):
    """Sample N responses per instruction (KV-cached batched sampling, with a progress bar)."""
    import torch

    from paperzoo.self_rewarding.data import write_jsonl
    from paperzoo.core.generation import generate as sample

    instructions = _instructions(prompt, infile)
    device = resolve_device(device)
    policy = _policy(model, seed, device)
    policy.model.to(device)
    fmt = policy.fmt
    limit = max_new_tokens or (12 if fmt.style == "world" else 512)
    outs = sample(policy.model, [fmt.prompt_ids(x) for x in instructions], n=n, max_new_tokens=limit, eos_id=fmt.eos_id,
                  pad_id=fmt.pad_id, temperature=temperature, top_p=top_p, generator=torch.Generator().manual_seed(seed),
                  progress=True)
    rows = [{"prompt": x, "responses": [fmt.decode(s) for s in samples]} for x, samples in zip(instructions, outs)]
    if out:
        write_jsonl(out, rows)
        click.echo(f"wrote {len(rows)} prompts x {n} responses to {out}")
    else:
        for row in rows:
            click.echo(row["prompt"])
            for r in row["responses"]:
                click.echo(f"  -> {r}")


@cli.command()
@model_option(None, "The judge. " + MODEL_HELP, required=True)
@click.option("--prompt", default=None, help="The instruction.")
@click.option("--response", multiple=True, help="A response to score (repeatable).")
@click.option("--in", "infile", type=click.Path(path_type=Path), default=None,
              help="JSONL {prompt, responses: [...]} (as `generate --out` writes).")
@click.option("--judgments", type=int, default=3, show_default=True, help="Sampled judgments averaged per response.")
@click.option("--parse-fail", type=click.Choice(["drop", "zero"]), default="drop", show_default=True,
              help="A judgment without a score: left out of the mean, or counted as 0.")
@click.option("--pairs", "pairs_out", type=click.Path(path_type=Path), default=None,
              help="Also write the best-vs-worst preference pairs as TRL JSONL {prompt, chosen, rejected}.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write JSONL {prompt, responses, scores, rewards} here (atomically).")
@device_option
@seed_option
def judge(model, prompt, response, infile, judgments, parse_fail, pairs_out, out, device, seed):
    """Score responses with the LLM-as-a-Judge prompt (Fig. 2): r = mean of sampled scores."""
    import torch

    from paperzoo.core.errors import InputError
    from paperzoo.self_rewarding.data import read_jsonl, write_jsonl, write_pairs
    from paperzoo.self_rewarding.judge import judge as run_judge
    from paperzoo.self_rewarding.judge import parse_rate, rewards
    from paperzoo.self_rewarding.pairs import preference_pairs

    if infile:
        rows = read_jsonl(infile, ("prompt",))
        for number, row in enumerate(rows, start=1):
            if not isinstance(row.get("responses"), list) or not all(isinstance(r, str) for r in row["responses"]):
                raise InputError(f"{infile}, line {number}: expected \"responses\": a list of strings")
        prompts, candidates = [r["prompt"] for r in rows], [r["responses"] for r in rows]
    elif prompt and response:
        prompts, candidates = [prompt], [list(response)]
    else:
        raise InputError("give --prompt TEXT with one or more --response TEXT, or --in FILE.jsonl")
    device = resolve_device(device)
    policy = _policy(model, seed, device)
    policy.model.to(device)
    limit = 32 if policy.fmt.style == "world" else 256
    scores = run_judge(policy.model, policy.fmt, prompts, candidates, judgments=judgments, max_new_tokens=limit,
                       generator=torch.Generator().manual_seed(seed), progress=True)
    r = rewards(scores, parse_fail)
    for x, cands, ss, rs in zip(prompts, candidates, scores, r):
        click.echo(x)
        for cand, s, reward in zip(cands, ss, rs):
            shown = "unparsed" if reward is None else f"{reward:.2f}"
            click.echo(f"  r={shown:<8} scores={['-' if v is None else v for v in s]}  {cand}")
    click.echo(f"parse rate {parse_rate(scores):.2f}")
    if out:
        write_jsonl(out, ({"prompt": x, "responses": c, "scores": ss, "rewards": rs}
                          for x, c, ss, rs in zip(prompts, candidates, scores, r)))
        click.echo(f"wrote {len(prompts)} prompts' scores to {out}")
    if pairs_out:
        pairs = preference_pairs(prompts, candidates, r)
        write_pairs(pairs_out, pairs)
        click.echo(f"wrote {len(pairs)} pairs to {pairs_out}")


@cli.command()
@model_option("smollm2-135m-instruct", MODEL_HELP)
@click.option("--tasks-per-family", type=int, default=7, show_default=True,
              help="Held-out checkable tasks per family (6 families) answered greedily and checked.")
@click.option("--pairs-per-family", type=int, default=4, show_default=True,
              help="Response pairs per family (different rubric scores) judged with the Fig. 2 prompt.")
@click.option("--max-new-tokens", type=int, default=96, show_default=True, help="Reply length limit.")
@click.option("--judge-max-new-tokens", type=int, default=192, show_default=True, help="Judgment length limit.")
@click.option("--sampled-judgments", type=int, default=0, show_default=True,
              help="Also judge at the paper's decoding (T 0.7, p 0.9) with this many judgments per response.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write every number, reply and judgment as JSON here (atomically).")
@device_option
@seed_option
def gap(model, tasks_per_family, pairs_per_family, max_new_tokens, judge_max_new_tokens, sampled_judgments, out,
        device, seed):
    """The generation-verification gap on the checkable English tasks: the checker's pass rate and
    rubric score of the policy's greedy replies, against its Fig. 2 judge (parse rate, pairwise
    accuracy against the rubric; chance 5/12) and a forced-score diagnostic."""
    import json

    from paperzoo.core.atomic import atomic_path
    from paperzoo.self_rewarding.gap import measure

    if tasks_per_family < 1 or pairs_per_family < 1:
        raise click.ClickException("--tasks-per-family and --pairs-per-family must be >= 1")
    device = resolve_device(device)
    policy = _policy(model, seed, device)
    policy.model.to(device)
    result = measure(policy, seed=seed, tasks_per_family=tasks_per_family, pairs_per_family=pairs_per_family,
                     max_new_tokens=max_new_tokens, judge_max_new_tokens=judge_max_new_tokens,
                     sampled_judgments=sampled_judgments)
    click.echo(gap_table(result))
    if out:
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        click.echo(f"wrote {out}")


def gap_table(result: dict) -> str:
    """`gap`'s per-family table (Markdown) from `gap.measure`'s result."""
    following, judging, forced = result["following"], result["judging"], result["forced"]
    rows = ["| family | tasks | pass | all constraints | rubric | pairs | judge parse | decided | pairwise | forced-score pairwise |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for f, row in following["per_family"].items():
        j, p, fs = judging["per_family"].get(f, {}), judging["parse_rate_per_family"].get(f, {}), forced["per_family"].get(f, {})
        rows.append(f"| {f} | {row['n']} | {row['pass_rate']:.2f} | {row['complete_rate']:.2f} | {row['rubric']:.2f} | "
                    f"{j.get('n', 0)} | {p.get('parse_rate', float('nan')):.2f} | {j.get('decided', float('nan')):.2f} | "
                    f"{j.get('accuracy', float('nan')):.2f} | {fs.get('accuracy', float('nan')):.2f} |")
    rows.append(f"| all | {following['n']} | {following['pass_rate']:.2f} | {following['complete_rate']:.2f} | "
                f"{following['rubric']:.2f} | {judging['pairs']} | {judging['parse_rate']:.2f} | "
                f"{judging['decided'] / max(1, judging['pairs']):.2f} | {judging['accuracy']:.2f} | {forced['accuracy']:.2f} |")
    lines = ["\n".join(rows),
             f"answering: {following['seconds']:.0f} s ({following['new_tokens']} new tokens); "
             f"judging: {judging['seconds']:.0f} s; forced scores: {forced['seconds']:.0f} s; "
             f"chance pairwise {judging['chance_accuracy']:.3f} (a uniform random score; 0.5 of decided pairs)"]
    if "judging_sampled" in result:
        js = result["judging_sampled"]
        lines.append(f"judge at T {js['temperature']}, p {js['top_p']}, {js['judgments']} judgments: parse rate "
                     f"{js['parse_rate']:.2f}, decided {js['decided']}/{js['pairs']}, pairwise {js['accuracy']:.2f} "
                     f"({js['seconds']:.0f} s)")
    return "\n".join(lines)


@cli.command()
@model_option("tiny", "M0: a named config to start from scratch (tiny), smollm2-135m-instruct (real offline weights; "
                     "without files it trains on the checkable English tasks), or a local Hugging Face causal-LM folder.")
@click.option("--recipe", "recipe_name", default=None,
              help="Hyperparameters: tiny, smollm2 or paper. Default: smollm2 for --model smollm2-135m-instruct, else tiny.")
@click.option("--ift", type=click.Path(path_type=Path), default=None,
              help="IFT seed data, JSONL {prompt, completion}; default: the instruction world.")
@click.option("--eft", type=click.Path(path_type=Path), default=None,
              help="EFT seed data, JSONL {prompt, response, completion} (completion: the judgment); default: the world's.")
@click.option("--prompts", "prompts_file", type=click.Path(path_type=Path), default=None,
              help="New prompts for self-instruction, JSONL {prompt}; split evenly over iterations. Default: the world's.")
@click.option("--iterations", type=int, default=2, show_default=True, help="Self-rewarding iterations after SFT (M1 -> M2 -> M3: 2).")
@click.option("--prompts-per-iteration", type=int, default=None, help="World prompts per iteration; default: the recipe's (800).")
@click.option("--sft-steps", type=int, default=None, help="Default: the recipe's.")
@click.option("--dpo-steps", type=int, default=None, help="Default: the recipe's.")
@click.option("--no-eft", "use_eft", flag_value=False, default=None, help="App. A.3: seed on IFT only (no judge training).")
@click.option("--eft-targets", type=click.Choice(["oracle", "self_filtered"]), default=None,
              help="World EFT judgments from the rubric, or the paper's way (the SFT baseline judges; agreeing ones kept). "
                   "Default: the recipe's (tiny: oracle).")
@click.option("--prompt-source", type=click.Choice(["fixed", "self"]), default=None,
              help="New prompts from the fixed source, or written by M_t itself (App. A.5). Default: fixed.")
@click.option("--ref", type=click.Choice(["prev", "sft"]), default=None, help="DPO reference: M_t (the paper) or M1 throughout.")
@click.option("--cumulative-aift", is_flag=True, default=None, help="Train M_{t+1} on every AIFT so far (the paper: AIFT(M_t) only).")
@click.option("--lora-rank", type=click.IntRange(min=0), default=None,
              help="0: SFT and DPO train every weight (the paper); r > 0: LoRA adapters of rank r, merged after each stage "
                   "(ours, for small hardware). Default: the recipe's (0).")
@out_option("runs/self_rewarding", "Run folder: M1/, M2/, ... (policy folders), iteration-t/{candidates,aift}.jsonl, log.json.")
@device_option
@seed_option
def train(model, recipe_name, ift, eft, prompts_file, iterations, prompts_per_iteration, sft_steps, dpo_steps,
          use_eft, eft_targets, prompt_source, ref, cumulative_aift, lora_rank, out, device, seed):
    """SFT on IFT + EFT (M1), then self-rewarding iterations (M2, M3, ...). Runs unchanged
    under `accelerate launch -m paperzoo self_rewarding train ...`."""
    from paperzoo.self_rewarding.config import configs as names
    from paperzoo.self_rewarding.run import train_chain

    from paperzoo.core.pretrained import SMOLLM2, model_folder

    if _names_smollm2(model):
        value, recipe_name = model_folder(SMOLLM2), recipe_name or "smollm2"
    else:
        kind, value = model_source(model, names())
        if kind == "config" and value != "tiny":
            raise click.ClickException(f"--model {value}: only tiny is trained from scratch here; for {value} pass a local "
                                       "checkpoint folder as M0")
    log = train_chain(str(value), recipe_name or "tiny", out, ift=ift, eft=eft, prompts_file=prompts_file, iterations=iterations,
                      prompts_per_iteration=prompts_per_iteration, sft_steps=sft_steps, dpo_steps=dpo_steps, seed=seed,
                      device=resolve_device(device), use_eft=use_eft, eft_targets=eft_targets, prompt_source=prompt_source,
                      ref=ref, cumulative_aift=cumulative_aift, lora_rank=lora_rank)
    for row in log["models"]:
        took = row.get("seconds")
        click.echo(f"{row['name']}: {row['path']}" + (f"  ({row['pairs']} AIFT pairs)" if "pairs" in row else "")
                   + (f"  [sample {took['sample']:.0f} s, judge {took['judge']:.0f} s, DPO {took['dpo']:.0f} s]" if took else ""))


cli.add_command(reproduce_command(
    "self_rewarding",
    "On SmolLM2-135M-Instruct (real offline weights, checkable English tasks): a DPO learning-rate sweep on "
    "oracle pairs, then M1 -> M2 -> M3 and an oracle-reward control over 3 sampling seeds (hours of CPU). Then the "
    "tiny world model: the M1 -> M2 -> M3 chain, the SFT baseline, the no-EFT and positive-only ablations and an "
    "oracle-reward control (3 seeds). Every claim decided by core.verdict; writes OUT/self_rewarding/ and "
    "OUT/REPORT.md (runs are cached, so an interrupted run resumes).",
    "A smoke run of the tiny pipeline (tiny budgets, one seed, no real model): not a result.",
))
