"""The small-scale experiment for Self-Rewarding LMs' claims (card §5), on the instruction world,
after the real-model one (`reproduce_real`: SmolLM2-135M-Instruct on the checkable English
tasks; skipped by --quick), whose claims come first in the report.

Per seed (3 seeds; `--quick`: one, tiny budgets), every model a tiny Llama (0.87M
parameters) on the world vocabulary:

    M0            the seed's random initialisation, untrained: the measured floor
    sft           the SFT baseline: M0 fine-tuned on IFT only (the paper's "SFT baseline")
    M1            M0 fine-tuned on IFT ∪ EFT (§2.1)
    M2, M3        self-rewarding iterations from M1: N = 4 candidates, 3 self-judgments,
                  best vs worst, DPO with reference M_t (§2.2-2.4)
    noeft-M2, -M3 the same iterations from the SFT baseline, which has no judge training
                  (App. A.3)
    positive      M0 fine-tuned on IFT ∪ EFT plus M1's own candidates of iteration 1 that it
                  judged 5 (App. A.4: "augmenting with positive examples only")
    oracle-M2, -M3 the iterations from M1 with the rubric's rewards instead of self-judging:
                  what iterative DPO can give here (our control, no claim)

Each model answers the 256 test prompts greedily (rubric q, exact match, per family,
head-to-head) and judges the 108 EFT eval instructions (Table 4's metrics). Every model is
one `core.runcache.cached_run` under OUT/self_rewarding/runs/seed-S/NAME (its policy folder,
its training folders and result.json), keyed by the recipe, the seed, its upstream model
and the code, so a rerun reuses what is done and a code change retrains.

Every claim is decided by `core.verdict` from the per-seed numbers: a directional claim
holds when the seed-mean difference exceeds 2 SE over >= 3 seeds and the treatment also
beats the measured baseline (the SFT baseline for instruction quality; for judging, the
pairwise accuracy of a random judge, `chance_pairwise`); "about equal" claims use
`equivalent` on the per-seed head-to-head margin (win - loss, percentage points).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from paperzoo.core.report import Claim, SystemReport
from paperzoo.core.runcache import cached_run
from paperzoo.core.verdict import better, equivalent, spread, unmeasured, weakest
from paperzoo.self_rewarding.config import Recipe, recipe as get_recipe
from paperzoo.self_rewarding.data import (
    eft_examples,
    ift_examples,
    read_jsonl,
    world_judge_groups,
    world_prompts,
)
from paperzoo.self_rewarding.evaluate import (
    answer,
    head_to_head_margins,
    head_to_head_summary,
    instruction_quality,
    judge_metrics,
)
from paperzoo.self_rewarding.judge import judge, rewards
from paperzoo.self_rewarding.loop import self_rewarding_iteration
from paperzoo.self_rewarding.reproduce_real import CLAIMS as REAL_CLAIMS
from paperzoo.self_rewarding.reproduce_real import PAPER as REAL_PAPER
from paperzoo.self_rewarding.reproduce_real import EXPECTED_MINUTES as REAL_MINUTES
from paperzoo.self_rewarding.reproduce_real import REAL, RealBudget, RealRun, claims_real, run_real, table_real
from paperzoo.self_rewarding.reproduce_real import units as real_units
from paperzoo.self_rewarding.policy import Policy, load_policy, new_policy
from paperzoo.self_rewarding.run import world_validator
from paperzoo.self_rewarding.train import sft
from paperzoo.world.instructions import rubric_score, tasks

SYSTEM = "self_rewarding"
TITLE = "Self-Rewarding Language Models"
SEEDS = 3  # the full budget's seeds (seed, seed + 1, seed + 2): the shared rule's minimum
# Minutes on 2 cores. full: the tiny part estimated (not re-measured) as the measured 2-seed run
# of 2026-11-29 (24 min for 18 models) x 1.5 for the third seed, plus the untrained M0's
# evaluations (37), and the real-model part's estimate (`reproduce_real.EXPECTED_MINUTES`);
# quick (no real model): measured 2026-12-01 as 53 s of single-thread CPU (the machine was shared: 9 min wall).
EXPECTED_MINUTES = {"full": 37 + REAL_MINUTES, "quick": 2}
TEST_SIZE = 256  # the paper's 256 head-to-head test prompts (Fig. 3)
FULL = get_recipe("tiny")
QUICK = replace(FULL, ift_size=96, eft_train_size=48, eft_eval_size=16, prompts_per_iteration=24, sft_steps=60,
                dpo_steps=6, eval_every=0)  # no early stopping: a smoke run of the pipeline
QUICK_TEST = 24
EQUAL_MARGIN = 10.0  # "about equal" head to head: |win - loss| within 10 points (the paper's M1 vs SFT: 30.5 vs 30.9)
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


def chance_pairwise(world: World, seed: int) -> float:
    """The measured chance rate of Table 4's pairwise accuracy: a judge that gives every EFT
    eval response the mean of `judgments` uniform random scores 0..5 (ties count as wrong,
    as for a real judge)."""
    rng = np.random.default_rng([seed, 2401])
    k = world.recipe.judgments
    rs = [[float(rng.integers(0, 6, size=k).mean()) for _ in g.responses] for g in world.eft_eval]
    return float(judge_metrics(world.eft_eval, rs)["pairwise"])


class SeedRun:
    """The models of one seed, each trained and scored once through `core.runcache.cached_run`
    (folder OUT/self_rewarding/runs/seed-S/NAME: `policy/`, the training folders, result.json)."""

    def __init__(self, world: World, folder: Path, device: str = "cpu", bar=None):
        self.world, self.folder, self.device, self.bar = world, Path(folder), device, bar

    def _cached(self, name: str, settings: dict, fn) -> dict:
        w = self.world
        key = {"model": name, "recipe": asdict(w.recipe), "seed": w.seed, "test_size": len(w.test), **settings}
        if self.bar is not None:
            self.bar.set_postfix_str(f"seed {w.seed} {name}")
        result = cached_run(self.folder / name, SYSTEM, key, fn)
        if self.bar is not None:
            self.bar.update(1)
        return result

    def _finish(self, folder: Path, name: str, policy: Policy, extra: dict) -> dict:
        policy.save(folder / "policy")
        return {"name": name, "seed": self.world.seed, **extra, **evaluate_policy(policy, self.world, self.world.seed)}

    def policy(self, name: str) -> Policy:
        return load_policy(self.folder / name / "policy")

    def untrained(self, name: str = "M0") -> dict:
        """M0 itself (random initialisation, no training): the measured untrained baseline."""
        def fn(folder: Path) -> dict:
            policy = new_policy("tiny", self.world.seed)
            return {"name": name, "seed": self.world.seed, **evaluate_policy(policy, self.world, self.world.seed)}

        return self._cached(name, {}, fn)

    def sft_model(self, name: str, examples, settings: dict | None = None) -> dict:
        """SFT from M0 (the seed's random initialisation) on `examples`, early-stopped on validation q."""
        def fn(folder: Path) -> dict:
            r, seed = self.world.recipe, self.world.seed
            policy = new_policy("tiny", seed)
            result = sft(policy.model, policy.fmt, examples, steps=r.sft_steps, lr=r.sft_lr, final_lr=r.sft_final_lr,
                         batch_size=r.batch_size, warmup=min(100, r.sft_steps // 10), seed=seed, out_dir=folder / "train",
                         device=self.device, eval_every=r.eval_every * 4, validate=self.world.validate(policy.fmt),
                         progress=False, desc=f"SFT {name} (seed {seed})")
            return self._finish(folder, name, policy, {"examples": len(examples), "validation": result["validation"]})

        return self._cached(name, {"examples": len(examples), **(settings or {})}, fn)

    def iterate(self, name: str, start: str, t: int, oracle_reward: bool = False) -> dict:
        """One self-rewarding iteration M_t (the model `start`) -> `name`, on iteration t's prompts."""
        def fn(folder: Path) -> dict:
            seed, world = self.world.seed, self.world
            prompts = [x.prompt for x in world.prompts[t]]
            start_policy = self.policy(start)
            policy, stats = self_rewarding_iteration(
                start_policy, prompts, world.recipe, folder / "iteration", seed=seed + t, device=self.device,
                validate=world.validate(start_policy.fmt), oracle=world.oracle,
                rewarder=world.oracle_rewards if oracle_reward else None, progress=False)
            dpo = stats.pop("dpo") or {}
            return self._finish(folder, name, policy, {**stats, "start": start, "validation": dpo.get("validation", [])})

        return self._cached(name, {"start": start, "iteration": t, "oracle_reward": oracle_reward}, fn)

    def positive_only(self, name: str = "positive", source: str = "M2") -> dict:
        """App. A.4: SFT from M0 on IFT ∪ EFT plus M1's own candidates (from `source`'s
        iteration) that M1 judged 5: the positive examples alone, without the pairs."""
        rows = read_jsonl(self.folder / source / "iteration" / "candidates.jsonl", ("prompt",))
        top = [(row["prompt"], resp) for row in rows for resp, rew in zip(row["responses"], row["rewards"])
               if rew is not None and rew >= 5.0]
        return self.sft_model(name, self.world.ift + self.world.eft + top, {"source": source, "positives": top})


MODELS = ("M0", "sft", "M1", "M2", "M3", "noeft-M2", "noeft-M3", "positive", "oracle-M2", "oracle-M3")


def run_seed(world: World, folder: Path, device: str = "cpu", bar=None) -> dict:
    """Every model of one seed (`MODELS`), in dependency order; returns {name: result}."""
    run = SeedRun(world, folder, device, bar)
    out = {"M0": run.untrained(), "sft": run.sft_model("sft", world.ift), "M1": run.sft_model("M1", world.ift + world.eft)}
    out["M2"] = run.iterate("M2", "M1", 0)
    out["M3"] = run.iterate("M3", "M2", 1)
    out["noeft-M2"] = run.iterate("noeft-M2", "sft", 0)
    out["noeft-M3"] = run.iterate("noeft-M3", "noeft-M2", 1)
    out["positive"] = run.positive_only()
    out["oracle-M2"] = run.iterate("oracle-M2", "M1", 0, oracle_reward=True)
    out["oracle-M3"] = run.iterate("oracle-M3", "oracle-M2", 1, oracle_reward=True)
    return out


# ---------------------------------------------------------------------------- the report



def _vals(by: dict, name: str, group: str, key: str) -> list[float]:
    return [float(r[group][key]) for r in by[name]]


def _margins(a: list[dict], b: list[dict]) -> list[float]:
    """Per seed, A's head-to-head margin over B on the test prompts (rubric q): win - loss, in points."""
    return head_to_head_margins([r["quality"]["scores"] for r in a], [r["quality"]["scores"] for r in b])


def _h2h(a: list[dict], b: list[dict]) -> str:
    return head_to_head_summary([r["quality"]["scores"] for r in a], [r["quality"]["scores"] for r in b])


CLAIMS = (
    "instruction following improves each iteration (test q: M1 < M2 < M3)",
    "M2 beats M1 head to head (the card's gate)",
    "M3 beats M2 and the SFT baseline head to head",
    "M1 (IFT + EFT) follows instructions about as well as the SFT baseline",
    "EFT makes a judge: M1's pairwise accuracy above the SFT baseline's",
    "judging improves too, without new judge data (pairwise M1 < M2 < M3)",
    "without EFT: fewer pairs and a worse M3",
    "positive examples alone (SFT on self-judged 5s) give no gain over M1, unlike the pairs (M2)",
    "the add family (arithmetic) gains least from M1 to M3",
)
# The paper's numbers each claim is held against (card §3), in CLAIMS' order.
PAPER = (
    "AlpacaEval 2.0 win rate M1 9.94 -> M2 15.38 -> M3 20.44 %",
    "M2 vs M1 55.5/32.8/11.7 (win/tie/loss, GPT-4)",
    "M3 vs M2 47.7/39.8/12.5; M3 vs SFT 62.5/27.7/9.8",
    "M1 vs SFT 30.5/38.7/30.9",
    "pairwise accuracy SFT 65.1 vs M1 78.7 %",
    "pairwise accuracy 78.7 -> 80.4 -> 81.7 %",
    "without EFT only 541 / 429 pairs, worse results (A.3)",
    "score-5 answers added to SFT: 29 % vs 30 %, no gain (A.4), while the pairs gain (Table 1)",
    "math and reasoning gain least (Fig. 4)",
)


def claims_from(by: dict, chance: list[float]) -> list[Claim]:
    """Every claim's verdict from the per-seed results `by[name][seed]` and the per-seed chance rate."""
    q = {name: _vals(by, name, "quality", "q") for name in by}
    acc = {name: _vals(by, name, "judge", "pairwise") for name in by}
    pairs = {name: [float(r["pairs"]) for r in by[name]] for name in by if "pairs" in by[name][0]}
    sq = lambda name: spread(q[name])  # noqa: E731
    sa = lambda name: spread([100 * a for a in acc[name]], "{:.1f}")  # noqa: E731
    gain = {f: [m3["quality"]["per_family"][f] - m1["quality"]["per_family"][f] for m1, m3 in zip(by["M1"], by["M3"])]
            for f in by["M1"][0]["quality"]["per_family"]}
    others = [min(gain[f][i] for f in gain if f != "add") for i in range(len(by["M1"]))]
    noeft_pairs = [a + b for a, b in zip(pairs["noeft-M2"], pairs["noeft-M3"])]
    self_pairs = [a + b for a, b in zip(pairs["M2"], pairs["M3"])]
    added = np.mean([r["examples"] for r in by["positive"]]) - np.mean([r["examples"] for r in by["M1"]])
    verdicts = (
        weakest({"M2 vs M1": better(q["M2"], q["M1"], baseline=q["sft"]),
                  "M3 vs M2": better(q["M3"], q["M2"], baseline=q["sft"])}),
        better(_margins(by["M2"], by["M1"]), 0.0),
        weakest({"M3 vs M2": better(_margins(by["M3"], by["M2"]), 0.0),
                  "M3 vs SFT": better(_margins(by["M3"], by["sft"]), 0.0)}),
        equivalent(_margins(by["M1"], by["sft"]), 0.0, tolerance=EQUAL_MARGIN),
        better(acc["M1"], acc["sft"], baseline=chance),
        weakest({"M2 vs M1": better(acc["M2"], acc["M1"], baseline=chance),
                  "M3 vs M2": better(acc["M3"], acc["M2"], baseline=chance)}),
        weakest({"pairs": better(self_pairs, noeft_pairs), "q(M3)": better(q["M3"], q["noeft-M3"])}),
        weakest({"positive vs M1": equivalent(_margins(by["positive"], by["M1"]), 0.0, tolerance=EQUAL_MARGIN),
                  "M2 vs positive": better(q["M2"], q["positive"])}),
        better(others, gain["add"]),
    )
    ours = (
        f"q M1 {sq('M1')}; M2 {sq('M2')}; M3 {sq('M3')}; SFT baseline {sq('sft')}; untrained M0 {sq('M0')}",
        f"M2 vs M1 {_h2h(by['M2'], by['M1'])}",
        f"M3 vs M2 {_h2h(by['M3'], by['M2'])}; M3 vs SFT {_h2h(by['M3'], by['sft'])}",
        f"M1 vs SFT {_h2h(by['M1'], by['sft'])}; q {sq('M1')} vs {sq('sft')}",
        f"pairwise % M1 {sa('M1')} vs SFT {sa('sft')}; random judge {spread([100 * c for c in chance], '{:.1f}')} "
        f"(parse rate M1 {spread(_vals(by, 'M1', 'judge', 'parse_rate'), '{:.2f}')}, "
        f"SFT {spread(_vals(by, 'sft', 'judge', 'parse_rate'), '{:.2f}')})",
        f"pairwise % M1 {sa('M1')}; M2 {sa('M2')}; M3 {sa('M3')}; random judge {spread([100 * c for c in chance], '{:.1f}')}",
        f"pairs (both iterations) {spread(noeft_pairs, '{:.0f}')} vs {spread(self_pairs, '{:.0f}')}; "
        f"q(M3') {sq('noeft-M3')} vs q(M3) {sq('M3')}",
        f"positive vs M1 {_h2h(by['positive'], by['M1'])}; q positive {sq('positive')}, M1 {sq('M1')}, M2 {sq('M2')}; "
        f"{added:.0f} self-judged 5s added (seed mean)",
        "q(M3) - q(M1) per family: " + ", ".join(f"{f} {spread(v, '{:+.2f}')}"
                                                 for f, v in sorted(gain.items(), key=lambda kv: np.mean(kv[1]))),
    )
    return [Claim(c, p, o, v) for c, p, o, v in zip(CLAIMS, PAPER, ours, verdicts)]


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0,
        progress: bool = True, real: RealBudget | None = REAL) -> SystemReport:
    """The real-model experiment first (`reproduce_real`; not in --quick, or with real=None),
    then the tiny-model one, which is unchanged."""
    out = Path(out_dir) / SYSTEM
    recipe, test_size = (QUICK, QUICK_TEST) if quick else (FULL, TEST_SIZE)
    seeds = [seed] if quick else [seed + k for k in range(SEEDS)]
    real = None if quick else real
    results = []
    total = len(seeds) * len(MODELS) + (real_units(real) if real else 0)
    with tqdm(total=total, desc=SYSTEM, unit="model", disable=not progress, dynamic_ncols=True) as bar:
        real_result = run_real(real, out / "real", seed, device, bar) if real else None
        for s in seeds:
            results.append(run_seed(World(recipe, s, test_size), out / "runs" / f"seed-{s}", device, bar))
    worlds = [World(recipe, s, 1) for s in seeds]
    chance = [chance_pairwise(w, s) for w, s in zip(worlds, seeds)]
    by = {name: [r[name] for r in results] for name in MODELS}
    if real_result is not None:
        claims = claims_real(real_result)
    else:
        claims = [Claim(c, p, "-", unmeasured("the real model runs without --quick (hours of CPU)"))
                  for c, p in zip(REAL_CLAIMS, REAL_PAPER)]
    claims += claims_from(by, chance)

    rows = ["| model | test q | exact | length ratio | judge pairwise | 5-best | exact order | Spearman | Kendall | parse rate | "
            "AIFT pairs | pairs agreeing with the rubric |", "| --- |" + " --- |" * 11]

    def mean(values):
        values = [v for v in values if v is not None and np.isfinite(v)]
        return f"{np.mean(values):.3f}" if values else "-"

    for name in MODELS:
        rs = by[name]
        judge_cells = " | ".join(mean([r["judge"][k] for r in rs]) for k in ("pairwise", "five_best", "exact_match",
                                                                               "spearman", "kendall", "parse_rate"))
        pairs = f"{np.mean([r['pairs'] for r in rs]):.0f}" if "pairs" in rs[0] else "-"
        rows.append(f"| {name} | {mean([r['quality']['q'] for r in rs])} | {mean([r['quality']['exact'] for r in rs])} | "
                    f"{mean([r['quality']['length_ratio'] for r in rs])} | {judge_cells} | {pairs} | "
                    f"{mean([r.get('pair_agreement') for r in rs])} |")
    chains = {"self-rewarding (M1 -> M3)": [[r["sft"], r["M1"], r["M2"], r["M3"]] for r in results],
              "no EFT (SFT -> M3')": [[r["sft"], r["sft"], r["noeft-M2"], r["noeft-M3"]] for r in results],
              "oracle rewards (control)": [[r["sft"], r["M1"], r["oracle-M2"], r["oracle-M3"]] for r in results]}
    from paperzoo.self_rewarding.plots import iteration_figure

    plot = iteration_figure(chains, out / "iterations.png")
    base = worlds[0]
    setup = (f"A tiny Llama (4 layers, d 128, 0.87M parameters) on the instruction world: IFT {recipe.ift_size}, EFT "
             f"{recipe.eft_train_size} instructions ({len(base.eft)} judgments) / {recipe.eft_eval_size} "
             f"eval, {recipe.prompts_per_iteration} new prompts per iteration, N = {recipe.candidates} candidates, "
             f"{recipe.judgments} judgments each (T {recipe.temperature}, p {recipe.top_p}); SFT {recipe.sft_steps} steps "
             f"(LR {recipe.sft_lr:g} cosine to {recipe.sft_final_lr:g}), DPO {recipe.dpo_steps} steps (LR {recipe.dpo_lr:g} "
             f"linear to {recipe.dpo_final_lr:g}, beta {recipe.beta}), batch {recipe.batch_size}, "
             + (f"early stopping on {recipe.valid_size} validation prompts; " if recipe.eval_every else "no early stopping; ")
             + f"{test_size} test prompts scored by the rubric (q 0-5) in place of GPT-4; seeds {seeds}. Numbers are "
             "seed mean ± SE (per seed); head to head is win/tie/loss in % over all seeds' test answers (equal q: tie). "
             "Baselines: the SFT baseline for instruction quality, a random judge (mean of 3 uniform scores 0-5) for "
             "judging; M0 is the untrained model. The table below gives seed means.")
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    tables = ["\n".join(rows)]
    if real_result is not None:
        r = real.recipe
        setup = (f"Real model: M0 = SmolLM2-135M-Instruct ({real.model}), on the checkable English tasks "
                 f"(world.checkable), the checker's rubric in place of human ranks and GPT-4. Trained once (world seed "
                 f"0): SFT baseline on {r.ift_size} IFT replies, M1 on those plus {len(RealRun(real, out).eft)} Fig. 2 "
                 f"judgments of {r.eft_train_size} EFT tasks; SFT {r.sft_steps} steps (LR {r.sft_lr:g} cosine to "
                 f"{r.sft_final_lr:g}), " + (f"LoRA rank {r.lora_rank}" if r.lora_rank else "every weight")
                 + f", batch {r.batch_size}. DPO LR {real_result['dpo_lr']:g}, picked from {list(real.dpo_lrs)} by the "
                 f"validation rubric of one oracle-pair iteration; each iteration {r.prompts_per_iteration} prompts, N = "
                 f"{r.candidates}, {r.judgments} judgments (T {r.temperature}, p {r.top_p}), {r.max_new_tokens} new tokens, "
                 f"DPO {r.dpo_steps} steps, beta {r.beta}, reference M_t. Sampling seeds {real_result['seeds']} on the same "
                 f"M0 and M1; scored on {6 * real.test_per_family} test tasks (greedy) and {real.eval_groups} held-out "
                 f"EFT groups (3 sampled judgments). The first table below gives seed means.\n\n" + setup)
        tables.insert(0, table_real(real_result))
    return SystemReport(SYSTEM, TITLE, "2401.10020", "paperzoo self_rewarding reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(plot)], setup=setup, tables=tables, quick=quick)
