"""The real-model experiment (issue 16): Self-Rewarding from SmolLM2-135M-Instruct, real offline
weights, on the checkable English tasks (`paperzoo.world.checkable`). A program checks every answer
exactly, so the checker's rubric stands in for the paper's human ranks (EFT) and GPT-4 (head to head).

Trained once (world seed 0); the seeds are sampling seeds on the same M0 and M1, as issue 16 allows:

    M0        SmolLM2-135M-Instruct as loaded (chat template, Fig. 2 prompt word for word)
    sft       the SFT baseline: M0 fine-tuned on IFT only
    M1        M0 fine-tuned on IFT ∪ EFT (EFT: Fig. 2 judgments written from the checker, §2.1)
    lr-X      the DPO learning-rate sweep: one oracle-reward iteration from M1 at each LR X of the
              budget, on iteration 1's prompts; the LR whose DPO reaches the best validation rubric
              is used by every iteration below (issue 16: picked by validation, before any
              self-rewarding run)

Per sampling seed s (the seed of the candidates, the judgments and the evaluation's judge):

    M2, M3            self-rewarding iterations from M1 (N candidates, self-judged, best vs worst,
                      DPO with reference M_t, §2.2-2.4)
    oracle-M2, -M3    the same iterations with the checker's rubric as the reward (our control:
                      what iterative DPO can do here with perfect pairs)

Every model is scored with seed s the same way: greedy answers to the held-out test tasks, graded
by the checker (pass rate, mean rubric 0-5, per-prompt rubric for head to head), and the model as a
judge of held-out EFT groups at the paper's decoding (T 0.7, p 0.9, 3 judgments averaged): Table
4's pairwise accuracy, exact match and Spearman against the rubric, and the parse rate. The shared
models' answers are greedy, so only their judge numbers vary with s.

Each unit is one `core.runcache.cached_run` under OUT/self_rewarding/real/NAME; a policy folder
is kept only where a later unit starts from it (sft, M1, M2, oracle-M2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from paperzoo.core.report import Claim
from paperzoo.core.runcache import cached_run
from paperzoo.core.verdict import better, spread, weakest
from paperzoo.self_rewarding.config import Recipe, recipe as get_recipe
from paperzoo.self_rewarding.data import checkable_ift_examples, checkable_judge_groups, eft_examples
from paperzoo.self_rewarding.evaluate import head_to_head_margins, head_to_head_summary, judge_metrics
from paperzoo.self_rewarding.gap import instruction_following
from paperzoo.self_rewarding.judge import judge, parse_rate, rewards
from paperzoo.self_rewarding.loop import self_rewarding_iteration
from paperzoo.self_rewarding.policy import Policy, load_policy
from paperzoo.self_rewarding.run import CHECKABLE_WORLD, world_validator
from paperzoo.self_rewarding.train import sft
from paperzoo.world import checkable

SYSTEM = "self_rewarding"
WORLD_SEED = 0  # the data (IFT, EFT, prompts, test tasks, eval groups) is the same for every sampling seed


@dataclass(frozen=True)
class RealBudget:
    """The real-model experiment's size (ours: the paper reports no step counts)."""

    model: str  # "smollm2-135m-instruct" or a local Hugging Face folder (tests: a tiny stand-in)
    recipe: Recipe  # the loop's settings; its dpo_lr is replaced by the sweep's pick
    dpo_lrs: tuple[float, ...]  # the sweep on oracle pairs
    seeds: int = 3
    test_per_family: int = 5  # held-out test tasks per family (6 families)
    eval_groups: int = 12  # held-out EFT groups the judge scores (2-4 responses each)


# Sized to run in about two hours on 2 cores (issue 16): an SFT step on IFT + EFT rows at batch 8
# takes about 33 s with 2 threads (measured 2026-12-07), so SFT is 48 steps; judging dominates the
# rest, so 16 prompts per iteration, 5 test tasks per family and 12 eval groups.
REAL = RealBudget(
    "smollm2-135m-instruct",
    replace(get_recipe("smollm2"), ift_size=256, eft_train_size=96, prompts_per_iteration=16, sft_steps=48,
            dpo_steps=16, batch_size=8, eval_every=8, valid_size=24, lora_rank=16, sft_lr=1e-3, sft_final_lr=1e-4),
    dpo_lrs=(1e-6, 1e-5, 1e-4),
)


# Minutes on 2 cores, from the units' times measured on one thread each (2026-12-07, two workers
# on 2 cores): M1's SFT 32, the SFT baseline's 5, an M0 evaluation 7, an LR-sweep iteration 6-7,
# per seed a self-rewarding iteration with its evaluation 12-22 and an oracle one 7-12: about 245
# one-thread minutes; one process with 2 threads, about 165 (estimated).
EXPECTED_MINUTES = 165


def model_path(budget: RealBudget) -> Path:
    """M0's folder: the named real model (dequantised once, cached) or the given folder."""
    if budget.model == "smollm2-135m-instruct":
        from paperzoo.core.pretrained import SMOLLM2, model_folder

        return Path(model_folder(SMOLLM2))
    return Path(budget.model)


def evaluate_real(policy: Policy, budget: RealBudget, seed: int) -> dict:
    """Instruction following on the test tasks (greedy, the checker) and Table 4's judge metrics
    on the held-out EFT groups (the paper's decoding, sampling seed `seed`)."""
    r = budget.recipe
    tasks = checkable.tasks_by_family("test", WORLD_SEED, budget.test_per_family)
    following = instruction_following(policy, tasks, max_new_tokens=r.max_new_tokens)
    groups = checkable_judge_groups("eft_eval", budget.eval_groups, WORLD_SEED)
    scores = judge(policy.model, policy.fmt, [g.instruction for g in groups], [list(g.responses) for g in groups],
                   judgments=r.judgments, temperature=r.temperature, top_p=r.top_p, max_new_tokens=r.judge_max_new_tokens,
                   generator=torch.Generator().manual_seed(10_000 + seed))
    judged = judge_metrics(groups, rewards(scores, r.parse_fail))
    judged["parse_rate"] = parse_rate(scores)
    keep = ("n", "pass_rate", "complete_rate", "rubric", "per_family", "scores", "replies", "seconds")
    return {"following": {k: following[k] for k in keep}, "judge": judged}


def chance_pairwise(budget: RealBudget, seed: int) -> float:
    """A judge writing the mean of `judgments` uniform random scores 0..5 per response, on the
    same eval groups (ties count as wrong): the measured chance rate of pairwise accuracy."""
    groups = checkable_judge_groups("eft_eval", budget.eval_groups, WORLD_SEED)
    rng = np.random.default_rng([seed, 2402])
    k = budget.recipe.judgments
    return float(judge_metrics(groups, [[float(rng.integers(0, 6, size=k).mean()) for _ in g.responses]
                                        for g in groups])["pairwise"])


class RealRun:
    """The units of the real-model experiment, each trained or scored once (core.runcache)."""

    def __init__(self, budget: RealBudget, folder: Path, device: str = "cpu", bar=None):
        self.budget, self.folder, self.device, self.bar = budget, Path(folder), device, bar
        self.ift = checkable_ift_examples(budget.recipe.ift_size, WORLD_SEED)
        self.eft = eft_examples(checkable_judge_groups("eft_train", budget.recipe.eft_train_size, WORLD_SEED))

    def _cached(self, name: str, settings: dict, fn) -> dict:
        key = {"unit": name, "model": self.budget.model, "recipe": asdict(self.budget.recipe),
               "test_per_family": self.budget.test_per_family, "eval_groups": self.budget.eval_groups, **settings}
        if self.bar is not None:
            self.bar.set_postfix_str(f"real {name}")
        result = cached_run(self.folder / name, SYSTEM, key, fn)
        if self.bar is not None:
            self.bar.update(1)
        return result

    def policy(self, name: str) -> Policy:
        return load_policy(model_path(self.budget) if name == "M0" else self.folder / name / "policy")

    def validate(self, policy: Policy):
        return world_validator(self.budget.recipe, WORLD_SEED, policy.fmt, CHECKABLE_WORLD)

    def sft_model(self, name: str, examples) -> dict:
        """SFT from M0 on `examples` (LoRA at the recipe's rank), early-stopped on the validation rubric."""
        def fn(folder: Path) -> dict:
            r = self.budget.recipe
            policy = self.policy("M0")
            result = sft(policy.model, policy.fmt, examples, steps=r.sft_steps, lr=r.sft_lr, final_lr=r.sft_final_lr,
                         batch_size=r.batch_size, warmup=min(100, r.sft_steps // 10), seed=WORLD_SEED,
                         out_dir=folder / "train", device=self.device, eval_every=r.eval_every * 4,
                         validate=self.validate(policy), progress=False, desc=f"SFT {name}", lora_rank=r.lora_rank)
            policy.save(folder / "policy")
            return {"name": name, "examples": len(examples), "validation": result["validation"],
                    "loss": [h["loss"] for h in result["history"]]}

        return self._cached(name, {"examples": len(examples)}, fn)

    def iterate(self, name: str, start: str, t: int, seed: int, recipe: Recipe, oracle_reward: bool,
                keep: bool, evaluate: bool = True) -> dict:
        """One iteration from `start` on iteration t's prompts with sampling seed `seed` (the
        iteration's generator: 1000 seed + t, so no two seeds' iterations share a stream); the new
        model is scored with that seed (`evaluate`) and kept as a policy folder where `keep`."""
        prompts = checkable.tasks("prompts", WORLD_SEED, recipe.prompts_per_iteration, t * recipe.prompts_per_iteration)
        gold = {x.prompt: x for x in prompts}

        def oracle(prompt: str, response: str) -> float:
            return float(checkable.rubric_score(gold[prompt], response))

        def fn(folder: Path) -> dict:
            begin = self.policy(start)
            policy, stats = self_rewarding_iteration(
                begin, [x.prompt for x in prompts], recipe, folder / "iteration", seed=1000 * seed + t, device=self.device,
                validate=self.validate(begin), oracle=oracle,
                rewarder=(lambda ps, cs: [[oracle(p, c) for c in cands] for p, cands in zip(ps, cs)]) if oracle_reward else None,
                progress=False)
            if keep:
                policy.save(folder / "policy")
            dpo = stats.pop("dpo") or {}
            out = {"name": name, "start": start, "seed": seed, **stats, "validation": dpo.get("validation", [])}
            return {**out, **evaluate_real(policy, self.budget, seed)} if evaluate else out

        return self._cached(name, {"start": start, "iteration": t, "seed": seed, "oracle_reward": oracle_reward,
                                   "dpo_lr": recipe.dpo_lr, "evaluate": evaluate}, fn)

    def evaluation(self, name: str, seed: int) -> dict:
        """A shared model (M0, sft, M1) scored with sampling seed `seed`."""
        def fn(folder: Path) -> dict:
            return {"name": name, "seed": seed, **evaluate_real(self.policy(name), self.budget, seed)}

        return self._cached(f"seed-{seed}/{name}", {"evaluate": name, "seed": seed}, fn)

    def dpo_lr(self) -> tuple[float, dict]:
        """The sweep: an oracle-reward iteration from M1 at each LR (sampling seed 0); the LR
        with the best validation rubric over its DPO checkpoints (the first on a tie)."""
        r = self.budget.recipe
        curves = {}
        for lr in self.budget.dpo_lrs:
            run = self.iterate(f"lr-{lr:g}", "M1", 0, 0, replace(r, dpo_lr=lr, dpo_final_lr=lr / 10),
                               oracle_reward=True, keep=False, evaluate=False)
            curves[lr] = run["validation"]
        return pick_lr(curves), {f"{lr:g}": c for lr, c in curves.items()}


def pick_lr(curves: dict[float, list[dict]]) -> float:
    """The LR whose DPO checkpoints reach the best validation score; the first listed on a tie,
    and where no LR has a curve (no pairs, so no DPO)."""
    best = {lr: max((p["validation"] for p in c), default=-np.inf) for lr, c in curves.items()}
    order = list(curves)
    return max(order, key=lambda lr: (best[lr], -order.index(lr)))


MODELS = ("M0", "sft", "M1", "M2", "M3", "oracle-M2", "oracle-M3")


def units(budget: RealBudget) -> int:
    """How many cached units `run_real` goes through (for a progress bar)."""
    return 2 + len(budget.dpo_lrs) + budget.seeds * 7


def run_real(budget: RealBudget, folder: Path, seed: int = 0, device: str = "cpu", bar=None) -> dict:
    """Every unit, in dependency order; returns {"by": {model: [result per seed]}, "lr": ..., ...}."""
    run = RealRun(budget, folder, device, bar)
    trained = {"sft": run.sft_model("sft", run.ift), "M1": run.sft_model("M1", run.ift + run.eft)}
    lr, curves = run.dpo_lr()
    recipe = replace(budget.recipe, dpo_lr=lr, dpo_final_lr=lr / 10)
    seeds = [seed + k for k in range(budget.seeds)]
    by: dict[str, list[dict]] = {m: [] for m in MODELS}
    for s in seeds:
        for name in ("M0", "sft", "M1"):
            by[name].append(run.evaluation(name, s))
        by["M2"].append(run.iterate(f"seed-{s}/M2", "M1", 0, s, recipe, oracle_reward=False, keep=True))
        by["M3"].append(run.iterate(f"seed-{s}/M3", f"seed-{s}/M2", 1, s, recipe, oracle_reward=False, keep=False))
        by["oracle-M2"].append(run.iterate(f"seed-{s}/oracle-M2", "M1", 0, s, recipe, oracle_reward=True, keep=True))
        by["oracle-M3"].append(run.iterate(f"seed-{s}/oracle-M3", f"seed-{s}/oracle-M2", 1, s, recipe,
                                           oracle_reward=True, keep=False))
    return {"by": by, "dpo_lr": lr, "lr_curves": curves, "trained": trained, "seeds": seeds,
            "chance": [chance_pairwise(budget, s) for s in seeds]}


# ---------------------------------------------------------------------------- claims and table


def _rubric(rs: list[dict]) -> list[float]:
    return [float(r["following"]["rubric"]) for r in rs]


def _pairwise(rs: list[dict]) -> list[float]:
    return [float(r["judge"]["pairwise"]) for r in rs]


def _margins(a: list[dict], b: list[dict]) -> list[float]:
    """Per seed, A's head-to-head margin over B on the test tasks (checker rubric): win - loss, in points."""
    return head_to_head_margins([r["following"]["scores"] for r in a], [r["following"]["scores"] for r in b])


def _h2h(a: list[dict], b: list[dict]) -> str:
    return head_to_head_summary([r["following"]["scores"] for r in a], [r["following"]["scores"] for r in b])


def _agreement(rs: list[dict]) -> str:
    """The seeds' fraction of self-judged pairs the checker orders the same way (none without pairs)."""
    values = [r["pair_agreement"] for r in rs if r.get("pair_agreement") is not None]
    return spread(values, "{:.2f}") if values else "none (no pairs)"


CLAIMS = (
    "real model: instruction following improves each iteration (checker rubric: M1 < M2 < M3)",
    "real model: M2 beats M1 and M3 beats M2 head to head (the checker judging)",
    "real model: EFT makes a judge (M1's pairwise accuracy above the SFT baseline's and chance)",
    "real model: judging improves too (pairwise M1 < M2 < M3)",
    "real model, control (ours): DPO on the checker's own pairs improves on M1 (oracle-M2, oracle-M3)",
)
PAPER = (
    "AlpacaEval 2.0 win rate M1 9.94 -> M2 15.38 -> M3 20.44 %",
    "M2 vs M1 55.5/32.8/11.7; M3 vs M2 47.7/39.8/12.5 (win/tie/loss, GPT-4)",
    "pairwise accuracy SFT 65.1 vs M1 78.7 %",
    "pairwise accuracy 78.7 -> 80.4 -> 81.7 %",
    "(not run in the paper)",
)


def claims_real(result: dict) -> list[Claim]:
    """The real-model claims, decided by core.verdict from the per-seed numbers."""
    by, chance = result["by"], result["chance"]
    q = {m: _rubric(by[m]) for m in MODELS}
    acc = {m: _pairwise(by[m]) for m in MODELS}
    sq = lambda m: spread(q[m], "{:.2f}")  # noqa: E731
    sa = lambda m: spread([100 * a for a in acc[m]], "{:.1f}")  # noqa: E731
    verdicts = (
        weakest({"M2 vs M1": better(q["M2"], q["M1"], baseline=q["sft"]), "M3 vs M2": better(q["M3"], q["M2"], baseline=q["sft"])}),
        weakest({"M2 vs M1": better(_margins(by["M2"], by["M1"]), 0.0), "M3 vs M2": better(_margins(by["M3"], by["M2"]), 0.0)}),
        better(acc["M1"], acc["sft"], baseline=chance),
        weakest({"M2 vs M1": better(acc["M2"], acc["M1"], baseline=chance),
                   "M3 vs M2": better(acc["M3"], acc["M2"], baseline=chance)}),
        weakest({"oracle-M2 vs M1": better(q["oracle-M2"], q["M1"], baseline=q["sft"]),
                   "oracle-M3 vs oracle-M2": better(q["oracle-M3"], q["oracle-M2"], baseline=q["sft"])}),
    )
    parse = lambda m: spread([r["judge"]["parse_rate"] for r in by[m]], "{:.2f}")  # noqa: E731
    ours = (
        f"rubric M0 {sq('M0')}; SFT {sq('sft')}; M1 {sq('M1')}; M2 {sq('M2')}; M3 {sq('M3')}",
        f"M2 vs M1 {_h2h(by['M2'], by['M1'])}; M3 vs M2 {_h2h(by['M3'], by['M2'])}",
        f"pairwise % M1 {sa('M1')} vs SFT {sa('sft')}; M0 {sa('M0')}; random judge "
        f"{spread([100 * c for c in chance], '{:.1f}')} (parse rate M1 {parse('M1')}, SFT {parse('sft')}, M0 {parse('M0')})",
        f"pairwise % M1 {sa('M1')}; M2 {sa('M2')}; M3 {sa('M3')}; pairs agreeing with the checker "
        f"{_agreement(by['M2'])} (iteration 1), {_agreement(by['M3'])} (iteration 2)",
        f"rubric M1 {sq('M1')}; oracle-M2 {sq('oracle-M2')}; oracle-M3 {sq('oracle-M3')} (DPO LR {result['dpo_lr']:g}, "
        "picked by the sweep)",
    )
    return [Claim(c, p, o, v) for c, p, o, v in zip(CLAIMS, PAPER, ours, verdicts)]


def table_real(result: dict) -> str:
    """Seed means per model: the checker's numbers and Table 4's judge metrics."""
    by = result["by"]

    def mean(values):
        values = [v for v in values if v is not None and np.isfinite(v)]
        return f"{np.mean(values):.3f}" if values else "-"

    rows = ["| model (real) | pass rate | rubric (0-5) | judge pairwise | exact order | Spearman | parse rate | "
            "AIFT pairs | pairs agreeing with the checker | sample / judge / DPO s |", "| --- |" + " --- |" * 9]
    for m in MODELS:
        rs = by[m]
        took = [r["seconds"] for r in rs if "seconds" in r]
        times = " / ".join(f"{np.mean([t[k] for t in took]):.0f}" for k in ("sample", "judge", "dpo")) if took else "-"
        rows.append(f"| {m} | {mean([r['following']['pass_rate'] for r in rs])} | {mean(_rubric(rs))} | "
                    + " | ".join(mean([r["judge"][k] for r in rs]) for k in ("pairwise", "exact_match", "spearman", "parse_rate"))
                    + f" | {mean([r.get('pairs') for r in rs]) if 'pairs' in rs[0] else '-'} | "
                    f"{mean([r.get('pair_agreement') for r in rs])} | {times} |")
    return "\n".join(rows)
