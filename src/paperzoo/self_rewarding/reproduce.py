"""The small-scale experiment for Self-Rewarding LMs' claims (card §5), on the instruction world.

Per seed (2 seeds), every model a tiny Llama (0.87M parameters) on the world vocabulary:

    sft           the SFT baseline: M0 fine-tuned on IFT only (the paper's "SFT baseline")
    M1            M0 fine-tuned on IFT ∪ EFT (§2.1)
    M2, M3        self-rewarding iterations from M1: N = 4 candidates, 3 self-judgments,
                  best vs worst, DPO with reference M_t (§2.2-2.4)
    noeft-M2, -M3 the same iterations from the SFT baseline, which has no judge training
                  (App. A.3)
    positive      M1 fine-tuned further on its own candidates of iteration 1 that it judged
                  5 (App. A.4: "augmenting with positive examples only")
    oracle-M2, -M3 the iterations from M1 with the rubric's rewards instead of self-judging:
                  an upper bound of what iterative DPO can give here (our control, no claim)

Each model answers the 256 test prompts greedily (rubric q, exact match, per family,
head-to-head) and judges the 108 EFT eval instructions (Table 4's metrics). Every model
folder and its scores are cached under OUT/self_rewarding/runs/seed-S/NAME, keyed by the
recipe, so a rerun reuses what is done.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from paperzoo.core.atomic import atomic_path
from paperzoo.core.report import Claim, SystemReport
from paperzoo.self_rewarding.config import Recipe, recipe as get_recipe
from paperzoo.self_rewarding.data import (
    eft_examples,
    ift_examples,
    read_jsonl,
    world_judge_groups,
    world_prompts,
)
from paperzoo.self_rewarding.evaluate import answer, head_to_head, instruction_quality, judge_metrics
from paperzoo.self_rewarding.judge import judge, rewards
from paperzoo.self_rewarding.loop import self_rewarding_iteration
from paperzoo.self_rewarding.policy import Policy, load_policy, new_policy
from paperzoo.self_rewarding.run import VALID_SIZE, world_validator
from paperzoo.self_rewarding.train import sft
from paperzoo.world.instructions import rubric_score, tasks

TITLE = "Self-Rewarding Language Models"
VERSION = 1  # bump when a change makes cached runs stale
TEST_SIZE = 256  # the paper's 256 head-to-head test prompts (Fig. 3)
FULL = get_recipe("tiny")
QUICK = replace(FULL, ift_size=96, eft_train_size=48, eft_eval_size=16, prompts_per_iteration=24, sft_steps=60,
                dpo_steps=6, eval_every=0)  # no early stopping: a smoke run of the pipeline
QUICK_TEST = 24
# The paper's numbers each claim is held against (card §3).
PAPER = {
    "q": "AlpacaEval 2.0 win rate M1 9.94 -> M2 15.38 -> M3 20.44 %",
    "h2h": "M2 vs M1 55.5/32.8/11.7; M3 vs M2 47.7/39.8/12.5; M3 vs SFT 62.5/27.7/9.8 (win/tie/loss, GPT-4)",
    "m1_sft": "M1 vs SFT 30.5/38.7/30.9",
    "judge_sft": "pairwise accuracy SFT 65.1 vs M1 78.7 %",
    "judge_iter": "pairwise accuracy 78.7 -> 80.4 -> 81.7 %",
    "noeft": "without EFT only 541 / 429 pairs, worse results (A.3)",
    "positive": "score-5 answers added to SFT: 29 % vs 30 %, no gain (A.4)",
    "add": "math and reasoning gain least (Fig. 4)",
}


# ---------------------------------------------------------------------------- one seed


class World:
    """The seed data, prompts and evaluation sets of one seed (all from paperzoo.world)."""

    def __init__(self, recipe: Recipe, seed: int, test_size: int = TEST_SIZE):
        self.recipe, self.seed = recipe, seed
        self.ift = ift_examples(recipe.ift_size, seed)
        self.eft = eft_examples(world_judge_groups("eft_train", recipe.eft_train_size, seed))
        self.eft_eval = world_judge_groups("eft_eval", recipe.eft_eval_size, seed)
        self.test = tasks("test", seed, test_size)
        self.prompts = [world_prompts(t, recipe.prompts_per_iteration, seed) for t in range(2)]
        self.gold = {t.prompt: t for batch in self.prompts for t in batch}

    def validate(self, fmt):
        """Early stopping's score: mean rubric q of greedy answers on the validation prompts."""
        return world_validator(self.recipe, self.seed, fmt)

    def oracle(self, prompt: str, response: str) -> float:
        return float(rubric_score(self.gold[prompt], response))

    def oracle_rewards(self, prompts, candidates) -> list[list[float]]:
        return [[self.oracle(p, c) for c in cands] for p, cands in zip(prompts, candidates)]


def evaluate_policy(policy: Policy, world: World, seed: int) -> dict:
    """Instruction following on the test prompts and Table 4's judge metrics on EFT eval."""
    r = world.recipe
    outs = answer(policy, [t.prompt for t in world.test], r.max_new_tokens)
    quality = instruction_quality(world.test, outs)
    groups = world.eft_eval
    scores = judge(policy.model, policy.fmt, [g.instruction for g in groups], [list(g.responses) for g in groups],
                   judgments=r.judgments, temperature=r.temperature, top_p=r.top_p, max_new_tokens=r.judge_max_new_tokens,
                   generator=torch.Generator().manual_seed(10_000 + seed))
    judged = judge_metrics(groups, rewards(scores, r.parse_fail))
    parsed = [s for cands in scores for c in cands for s in c]
    judged["parse_rate"] = float(np.mean([s is not None for s in parsed])) if parsed else float("nan")
    return {"quality": quality, "judge": judged, "answers": outs}


class SeedRun:
    """The models of one seed, each trained once and cached with its evaluation."""

    def __init__(self, world: World, folder: Path, device: str = "cpu", progress: bool = False):
        self.world, self.folder, self.device, self.progress = world, Path(folder), device, progress
        self.key = hashlib.sha256(json.dumps([VERSION, asdict(world.recipe), world.seed, len(world.test)],
                                             sort_keys=True).encode()).hexdigest()[:16]

    def _cached(self, name: str) -> dict | None:
        path = self.folder / name / "result.json"
        if path.is_file() and (self.folder / name / "policy").is_dir():
            result = json.loads(path.read_text())
            if result.get("key") == self.key:
                return result
        return None

    def _finish(self, name: str, policy: Policy, extra: dict) -> dict:
        policy.save(self.folder / name / "policy")
        result = {"key": self.key, "name": name, "seed": self.world.seed, **extra,
                  **evaluate_policy(policy, self.world, self.world.seed)}
        with atomic_path(self.folder / name / "result.json") as tmp:
            tmp.write_text(json.dumps(result, indent=1) + "\n")
        return result

    def policy(self, name: str) -> Policy:
        return load_policy(self.folder / name / "policy")

    def sft_model(self, name: str, examples) -> dict:
        """SFT from M0 (the seed's random initialisation) on `examples`, early-stopped on validation q."""
        if (done := self._cached(name)) is not None:
            return done
        r, seed = self.world.recipe, self.world.seed
        policy = new_policy("tiny", seed)
        result = sft(policy.model, policy.fmt, examples, steps=r.sft_steps, lr=r.sft_lr, final_lr=r.sft_final_lr,
                     batch_size=r.batch_size, warmup=min(100, r.sft_steps // 10), seed=seed, out_dir=self.folder / name / "train",
                     device=self.device, eval_every=r.eval_every * 4, validate=self.world.validate(policy.fmt),
                     progress=self.progress, desc=f"SFT {name} (seed {seed})")
        return self._finish(name, policy, {"examples": len(examples), "validation": result["validation"]})

    def iterate(self, name: str, start: str, t: int, oracle_reward: bool = False) -> dict:
        """One self-rewarding iteration M_t (the model `start`) -> `name`, on iteration t's prompts."""
        if (done := self._cached(name)) is not None:
            return done
        seed, world = self.world.seed, self.world
        prompts = [x.prompt for x in world.prompts[t]]
        start_policy = self.policy(start)
        policy, stats = self_rewarding_iteration(
            start_policy, prompts, world.recipe, self.folder / name / "iteration", seed=seed + t, device=self.device,
            validate=world.validate(start_policy.fmt), oracle=world.oracle,
            rewarder=world.oracle_rewards if oracle_reward else None, progress=self.progress)
        dpo = stats.pop("dpo") or {}
        return self._finish(name, policy, {**stats, "start": start, "validation": dpo.get("validation", [])})

    def positive_only(self, name: str = "positive", source: str = "M2") -> dict:
        """App. A.4: SFT from M0 on IFT ∪ EFT plus M1's own candidates (from `source`'s
        iteration) that M1 judged 5: the positive examples alone, without the pairs."""
        if (done := self._cached(name)) is not None:
            return done
        rows = read_jsonl(self.folder / source / "iteration" / "candidates.jsonl", ("prompt",))
        top = [(row["prompt"], resp) for row in rows for resp, rew in zip(row["responses"], row["rewards"])
               if rew is not None and rew >= 5.0]
        return self.sft_model(name, self.world.ift + self.world.eft + top)


def run_seed(world: World, folder: Path, device: str = "cpu", progress: bool = False, ablations: bool = True) -> dict:
    """Every model of one seed, in dependency order; returns {name: result}."""
    run = SeedRun(world, folder, device, progress)
    out = {"sft": run.sft_model("sft", world.ift), "M1": run.sft_model("M1", world.ift + world.eft)}
    out["M2"] = run.iterate("M2", "M1", 0)
    out["M3"] = run.iterate("M3", "M2", 1)
    if ablations:
        out["noeft-M2"] = run.iterate("noeft-M2", "sft", 0)
        out["noeft-M3"] = run.iterate("noeft-M3", "noeft-M2", 1)
        out["positive"] = run.positive_only()
        out["oracle-M2"] = run.iterate("oracle-M2", "M1", 0, oracle_reward=True)
        out["oracle-M3"] = run.iterate("oracle-M3", "oracle-M2", 1, oracle_reward=True)
    return out


# ---------------------------------------------------------------------------- the report


def _mean(runs: list[dict], group: str, key: str) -> float:
    vals = [r[group][key] for r in runs if r[group][key] is not None and np.isfinite(r[group][key])]
    return float(np.mean(vals)) if vals else float("nan")


def _h2h(a: list[dict], b: list[dict]) -> dict:
    """Head-to-head of A vs B over all seeds' test prompts (rubric q, equal = tie)."""
    return head_to_head([q for r in a for q in r["quality"]["scores"]], [q for r in b for q in r["quality"]["scores"]])


def _wtl(h: dict) -> str:
    return f"{h['win']:.1f}/{h['tie']:.1f}/{h['loss']:.1f}"


def _per_seed(runs: list[dict], group: str, key: str, fmt: str = "{:.3f}") -> str:
    return ", ".join(fmt.format(r[group][key]) for r in runs)


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0,
        progress: bool = True) -> SystemReport:
    out = Path(out_dir) / "self_rewarding"
    recipe, seeds, test_size = (QUICK, (seed,), QUICK_TEST) if quick else (FULL, (seed, seed + 1), TEST_SIZE)
    results = [run_seed(World(recipe, s, test_size), out / "runs" / f"seed-{s}", device, progress) for s in seeds]
    by = {name: [r[name] for r in results] for name in results[0]}
    q = {name: _mean(rs, "quality", "q") for name, rs in by.items()}
    acc = {name: _mean(rs, "judge", "pairwise") for name, rs in by.items()}
    pairs = {name: float(np.mean([r["pairs"] for r in rs])) for name, rs in by.items() if "pairs" in rs[0]}
    h = {"M2/M1": _h2h(by["M2"], by["M1"]), "M3/M2": _h2h(by["M3"], by["M2"]), "M3/sft": _h2h(by["M3"], by["sft"]),
         "M1/sft": _h2h(by["M1"], by["sft"]), "positive/M1": _h2h(by["positive"], by["M1"])}
    base = World(recipe, seeds[0], 1)
    seed_examples = len(base.ift) + len(base.eft)
    gain = {f: float(np.mean([m3["quality"]["per_family"][f] - m1["quality"]["per_family"][f]
                              for m1, m3 in zip(by["M1"], by["M3"])])) for f in by["M1"][0]["quality"]["per_family"]}

    claims = [
        Claim("instruction following improves each iteration (test q: M1 < M2 < M3)", PAPER["q"],
              f"q {q['M1']:.3f} -> {q['M2']:.3f} -> {q['M3']:.3f} (seeds: M1 {_per_seed(by['M1'], 'quality', 'q')}; "
              f"M2 {_per_seed(by['M2'], 'quality', 'q')}; M3 {_per_seed(by['M3'], 'quality', 'q')})",
              q["M2"] > q["M1"] and q["M3"] > q["M2"]),
        Claim("M2 beats M1 head to head (the card's gate: seed-mean q(M2) - q(M1) > 0, wins > losses)", PAPER["h2h"],
              f"M2 vs M1 {_wtl(h['M2/M1'])}; q(M2) - q(M1) = {q['M2'] - q['M1']:+.3f}",
              q["M2"] > q["M1"] and h["M2/M1"]["win"] > h["M2/M1"]["loss"]),
        Claim("M3 beats M2 and the SFT baseline head to head", PAPER["h2h"],
              f"M3 vs M2 {_wtl(h['M3/M2'])}; M3 vs SFT {_wtl(h['M3/sft'])}",
              h["M3/M2"]["win"] > h["M3/M2"]["loss"] and h["M3/sft"]["win"] > h["M3/sft"]["loss"]),
        Claim("M1 (IFT + EFT) follows instructions about as well as the SFT baseline (|win - loss| < 10 points)",
              PAPER["m1_sft"], f"M1 vs SFT {_wtl(h['M1/sft'])}; q {q['M1']:.3f} vs {q['sft']:.3f}",
              abs(h["M1/sft"]["win"] - h["M1/sft"]["loss"]) < 10),
        Claim("EFT makes a judge: M1's pairwise accuracy far above the SFT baseline's", PAPER["judge_sft"],
              f"{100 * acc['M1']:.1f} vs {100 * acc['sft']:.1f} % (parse rate {_mean(by['M1'], 'judge', 'parse_rate'):.2f} vs "
              f"{_mean(by['sft'], 'judge', 'parse_rate'):.2f})", acc["M1"] > acc["sft"]),
        Claim("judging improves too, without new judge data (pairwise M1 <= M2 <= M3)", PAPER["judge_iter"],
              f"{100 * acc['M1']:.1f} -> {100 * acc['M2']:.1f} -> {100 * acc['M3']:.1f} % (seeds: "
              + "; ".join(" -> ".join(f"{100 * r['judge']['pairwise']:.1f}" for r in (m1, m2, m3))
                          for m1, m2, m3 in zip(by["M1"], by["M2"], by["M3"])) + ")",
              acc["M2"] >= acc["M1"] and acc["M3"] >= acc["M2"],
              "" if all(a["judge"]["pairwise"] <= b["judge"]["pairwise"] <= c["judge"]["pairwise"]
                        for a, b, c in zip(by["M1"], by["M2"], by["M3"])) else "in the seed mean only, not in every seed"),
        Claim("without EFT: fewer pairs and a worse M3", PAPER["noeft"],
              f"pairs {pairs['noeft-M2']:.0f} / {pairs['noeft-M3']:.0f} vs {pairs['M2']:.0f} / {pairs['M3']:.0f}; "
              f"q(M3) {q['noeft-M3']:.3f} vs {q['M3']:.3f}",
              pairs["noeft-M2"] + pairs["noeft-M3"] < pairs["M2"] + pairs["M3"] and q["noeft-M3"] < q["M3"]),
        Claim("positive examples alone (SFT on self-judged 5s) give no gain over M1 (|win - loss| < 10 points)",
              PAPER["positive"], f"vs M1 {_wtl(h['positive/M1'])}; q {q['positive']:.3f} vs {q['M1']:.3f}; "
              f"{np.mean([r['examples'] for r in by['positive']]) - seed_examples:.0f} added examples (seed mean)", abs(h["positive/M1"]["win"] - h["positive/M1"]["loss"]) < 10),
        Claim("the add family (arithmetic) gains least from M1 to M3", PAPER["add"],
              ", ".join(f"{f} {v:+.2f}" for f, v in sorted(gain.items(), key=lambda kv: kv[1])),
              min(gain, key=gain.get) == "add"),
    ]

    names = ["sft", "M1", "M2", "M3", "noeft-M2", "noeft-M3", "positive", "oracle-M2", "oracle-M3"]
    rows = ["| model | test q | exact | length ratio | judge pairwise | 5-best | exact order | Spearman | Kendall | parse rate | "
            "AIFT pairs | pairs agreeing with the rubric |", "| --- |" + " --- |" * 11]
    for name in names:
        rs = by[name]
        judge_cells = " | ".join(f"{_mean(rs, 'judge', k):.3f}" for k in ("pairwise", "five_best", "exact_match", "spearman",
                                                                           "kendall", "parse_rate"))
        agree = [r.get("pair_agreement") for r in rs if r.get("pair_agreement") is not None]
        rows.append(f"| {name} | {q[name]:.3f} | {_mean(rs, 'quality', 'exact'):.3f} | {_mean(rs, 'quality', 'length_ratio'):.2f}"
                    f" | {judge_cells} | {f'{pairs[name]:.0f}' if name in pairs else '-'} | "
                    f"{f'{np.mean(agree):.2f}' if agree else '-'} |")
    chains = {"self-rewarding (M1 -> M3)": [[r["sft"], r["M1"], r["M2"], r["M3"]] for r in results],
              "no EFT (SFT -> M3')": [[r["sft"], r["sft"], r["noeft-M2"], r["noeft-M3"]] for r in results],
              "oracle rewards (control)": [[r["sft"], r["M1"], r["oracle-M2"], r["oracle-M3"]] for r in results]}
    from paperzoo.self_rewarding.plots import iteration_figure

    plot = iteration_figure(chains, out / "iterations.png")
    setup = (f"A tiny Llama (4 layers, d 128, 0.87M parameters) on the instruction world: IFT {recipe.ift_size}, EFT "
             f"{recipe.eft_train_size} instructions ({len(base.eft)} judgments) / {recipe.eft_eval_size} "
             f"eval, {recipe.prompts_per_iteration} new prompts per iteration, N = {recipe.candidates} candidates, "
             f"{recipe.judgments} judgments each (T {recipe.temperature}, p {recipe.top_p}); SFT {recipe.sft_steps} steps "
             f"(LR {recipe.sft_lr:g} cosine to {recipe.sft_final_lr:g}), DPO {recipe.dpo_steps} steps (LR {recipe.dpo_lr:g} "
             f"linear to {recipe.dpo_final_lr:g}, beta {recipe.beta}), batch {recipe.batch_size}, early stopping on "
             f"{VALID_SIZE} validation prompts; {test_size} test prompts scored by the rubric (q 0-5) in place of GPT-4; seeds "
             f"{list(seeds)}." + (" QUICK run: too short to read anything into." if quick else ""))
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    return SystemReport("self_rewarding", TITLE, "2401.10020", "paperzoo self_rewarding reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(plot)], setup=setup, tables=["\n".join(rows)])
