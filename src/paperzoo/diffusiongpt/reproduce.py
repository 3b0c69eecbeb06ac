"""The small-scale experiment for DiffusionGPT's claims (card §5), on the styled-scene world.

Per seed (each a cached unit of `core.runcache`, so an interrupted run resumes):
1. the zoo: the base model, six LoRA experts and a merge (`zoo.py`);
2. the rewards: R, the ImageReward analogue (attribute consistency, trained on real renders)
   and A, the aesthetic analogue (a real-vs-generated critic trained against the base's samples);
3. the advantage database: every zoo model draws every database prompt (fixed noise per
   prompt), R scores it, and the prompts are embedded (all-MiniLM-L6-v2 when its package is
   installed, else the hashed TF-IDF);
4. the arms, on held-out user inputs in the four paradigms, every arm drawing from the same
   noise per input:
     base       the base model on the raw input (the paper's SD1.5 row)
     random     a uniformly random zoo model on the raw input ("Random")
     tot        parse + tree search + extension, no database ("DiffusionGPT w/o HF")
     full       parse + tree + database + extension ("DiffusionGPT")
     no-parse   full without the parse step
     no-ext     full without prompt extension
     oracle     the zoo model with the highest R on each input's own caption (an upper bound)
   The controller is the rule controller (deterministic). Images are scored on the input's
   world caption: R (mean over inputs), A, and for the routed arms the routing accuracy on
   inputs whose domain has an expert (chance: 1/8).
5. the real controller: SmolLM2-135M-Instruct routes a subset of the inputs (tree built by
   it, database shared); its routing accuracy and fallback counts are reported.

Claims are decided by `core.verdict` on the per-seed means.
"""

from __future__ import annotations

import json
import sys
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from paperzoo.core.report import Claim, SystemReport, save_figure  # noqa: E402
from paperzoo.core.runcache import cached_run  # noqa: E402
from paperzoo.core.verdict import better, spread, unmeasured  # noqa: E402
from paperzoo.diffusiongpt.data import STYLE_WORDS, SUBJECT_WORDS, database_prompts, user_inputs  # noqa: E402
from paperzoo.diffusiongpt.builddb import build_database  # noqa: E402
from paperzoo.diffusiongpt.database import AdvantageDatabase, HashedTfidf, MiniLM  # noqa: E402
from paperzoo.diffusiongpt.llm import HFCausalLM, RuleLLM  # noqa: E402
from paperzoo.diffusiongpt.pipeline import DiffusionGPT, Routing  # noqa: E402
from paperzoo.diffusiongpt.rewards import ConsistencyScorer, RealnessCritic, train_critic, train_scorer  # noqa: E402
from paperzoo.diffusiongpt.tree import build_tree, load_tree, save_tree  # noqa: E402
from paperzoo.diffusiongpt.zoo import BASE, BUDGETS, UNIVERSAL, Zoo, expert_of, train_zoo  # noqa: E402
from paperzoo.core.pretrained import MissingPackageError  # noqa: E402
from paperzoo.world.styles import StyledConfig, make_styled  # noqa: E402

TITLE = "DiffusionGPT: LLM-Driven Text-to-Image Generation System"
WORLD = StyledConfig()
ARMS = ("base", "random", "tot", "full", "no-parse", "no-ext", "oracle")
ROUTED = {"tot": Routing(human_feedback=False), "full": Routing(), "no-parse": Routing(parse=False),
          "no-ext": Routing(extension=False)}


@dataclass(frozen=True)
class Budget:
    seeds: int = 3
    zoo: str = "full"
    scorer_steps: int = 1500
    critic_steps: int = 300
    critic_fakes: int = 256
    db_prompts: int = 160  # distinct captions (the world has 192 on the database's pairs)
    inputs: int = 160
    embedder: str = "minilm"  # "minilm" (falls back to "tfidf" when its package is missing) or "tfidf"
    smollm2_inputs: int = 12  # per seed; 0: skip the real controller
    cmmd_embedder: object = "sparc-tiny"  # CMMD of each arm's images against real renders: a name, a folder,
    # a paperzoo.cmmd Embedder, or None (skip)


FULL = Budget()
QUICK = Budget(seeds=1, zoo="smoke", scorer_steps=20, critic_steps=10, critic_fakes=16, db_prompts=16, inputs=8,
               embedder="tfidf", smollm2_inputs=0, cmmd_embedder=None)
# Minutes on 2 cores. full: the 2026-12-07 record took about 2.3 CPU-hours (about 45 CPU-minutes
# per seed on one thread: zoo, rewards, database, arms, and SmolLM2's routing of 12 inputs at 30-55
# s each), plus the sparc-tiny CMMD embedder once (5-10 min, shared with CMMD and SPARC); two
# one-thread workers finished it in 67 minutes of wall time.
EXPECTED_MINUTES = {"full": 80, "quick": 1}


def _noise(seed: int, tag: int, n: int) -> torch.Tensor:
    return torch.randn(n, 3, WORLD.image_size, WORLD.image_size, generator=torch.Generator().manual_seed(seed * 1000 + tag))


def _embedder(name: str, prompts):
    if name == "minilm":
        try:
            return MiniLM()
        except MissingPackageError:  # the carrier package is missing: the documented fallback
            pass
    return HashedTfidf().fit(prompts)


# ------------------------------------------------------------------------------ units


def rewards_unit(folder: Path, zoo: Zoo, budget: Budget, seed: int) -> dict:
    scorer = train_scorer(WORLD, seed, steps=budget.scorer_steps)
    prompts = make_styled(WORLD, seed + 1, budget.critic_fakes, split="train").captions  # repeats are fine here
    fakes = zoo.generate(BASE, prompts, _noise(seed, 1, len(prompts)))
    critic = train_critic(WORLD, seed, fakes, steps=budget.critic_steps)
    scorer.save_pretrained(folder / "scorer")
    critic.save_pretrained(folder / "critic")
    real = make_styled(WORLD, seed, 256, split="test")
    acc = scorer.accuracy(real.images_float(), {"shape": real.shapes, "colour": real.colours, "size": real.sizes,
                                                "style": real.styles})
    noise_r = float(scorer.reward(real.captions, _noise(seed, 4, 256).clamp(-1, 1)).mean())
    return {"scorer_accuracy": acc, "R_real": float(scorer.reward(real.captions, real.images_float()).mean()),
            "R_noise": noise_r, "A_real": float(critic.score(real.images_float()).mean()),
            "A_base_samples": float(critic.score(fakes).mean())}


def database_unit(folder: Path, zoo: Zoo, scorer: ConsistencyScorer, budget: Budget, seed: int) -> dict:
    prompts = database_prompts(WORLD, seed, budget.db_prompts)
    db, per_model = build_database(zoo, prompts, scorer.reward, _embedder(budget.embedder, prompts),
                                   noise=_noise(seed, 2, len(prompts)), batch_size=len(prompts))
    db.save(folder / "db")
    return {"embedder": db.embedder_name, "mean_R_per_model": per_model}


def arms_unit(folder: Path, zoo: Zoo, tree, db: AdvantageDatabase, scorer, critic, budget: Budget, seed: int,
              image_embedder=None) -> dict:
    inputs = user_inputs(WORLD, seed, budget.inputs)
    noise = _noise(seed, 3, len(inputs))
    memo: dict[tuple[str, str, int], torch.Tensor] = {}

    def draw(pairs: list[tuple[str, str]]) -> torch.Tensor:
        """Images for (model, prompt) per input, each drawn once per (model, prompt, input)."""
        todo: dict[str, list[int]] = {}
        for i, (m, p) in enumerate(pairs):
            if (m, p, i) not in memo:
                todo.setdefault(m, []).append(i)
        for m, idx in todo.items():
            images = zoo.generate(m, [pairs[i][1] for i in idx], noise[idx])
            for i, img in zip(idx, images):
                memo[(m, pairs[i][1], i)] = img
        return torch.stack([memo[(m, p, i)] for i, (m, p) in enumerate(pairs)])

    rng = random.Random(seed)
    choices: dict[str, list[tuple[str, str]]] = {
        "base": [(BASE, t) for t in inputs.texts],
        "random": [(rng.choice(zoo.keys()), t) for t in inputs.texts],
    }
    traces = {}
    for arm, routing in ROUTED.items():
        pipe = DiffusionGPT(RuleLLM(SUBJECT_WORDS, STYLE_WORDS), zoo, tree, db, routing=routing)
        traces[arm] = [pipe.route(t) for t in inputs.texts]
        choices[arm] = [(t.model, t.prompt) for t in traces[arm]]
    everyone = {k: scorer.reward(inputs.captions, draw([(k, c) for c in inputs.captions])) for k in zoo.keys()}
    best = torch.stack([everyone[k] for k in zoo.keys()]).argmax(0)
    choices["oracle"] = [(zoo.keys()[int(b)], c) for b, c in zip(best, inputs.captions)]
    out = {"inputs": inputs.texts, "captions": inputs.captions, "paradigms": inputs.paradigms,
           "domains": [list(d) for d in inputs.domains], "arms": {}}
    experts = [expert_of(*d) for d in inputs.domains]
    if image_embedder is not None:
        from paperzoo.cmmd import cmmd
        from paperzoo.cmmd.reproduce import embed_uint8
        from paperzoo.diffusion.sampling import to_uint8

        real = embed_uint8(image_embedder, inputs.images)
    for arm in ARMS:
        images = draw(choices[arm])
        row = {"models": [m for m, _ in choices[arm]], "prompts": [p for _, p in choices[arm]],
               "R": scorer.reward(inputs.captions, images).tolist(), "A": critic.score(images).tolist()}
        if image_embedder is not None:  # CMMD (paperzoo.cmmd) against the inputs' real renders, reported beside R and A
            row["cmmd"] = float(cmmd(real, embed_uint8(image_embedder, to_uint8(images))))
        covered = [i for i, e in enumerate(experts) if e is not None]
        row["routing_accuracy"] = float(np.mean([row["models"][i] == experts[i] for i in covered])) if covered else None
        if arm in traces:
            row["fallbacks"] = sum(sum(t.fallbacks.values()) for t in traces[arm])
            row["llm_calls"] = sum(t.llm_calls for t in traces[arm])
        out["arms"][arm] = row
    out["R_per_model"] = {k: float(v.mean()) for k, v in everyone.items()}
    return out


def smollm2_unit(folder: Path, zoo: Zoo, db: AdvantageDatabase, budget: Budget, seed: int) -> dict:
    llm = HFCausalLM.smollm2()
    tree = build_tree(llm, zoo.cards, UNIVERSAL)
    save_tree(tree, folder / "tree.json")
    inputs = user_inputs(WORLD, seed, budget.smollm2_inputs)
    pipe = DiffusionGPT(llm, zoo, tree, db)
    traces = [pipe.route(t) for t in tqdm(inputs.texts, desc="smollm2 routing", leave=False)]
    experts = [expert_of(*d) for d in inputs.domains]
    covered = [i for i, e in enumerate(experts) if e is not None]
    return {"tree": tree, "traces": [t.to_json() for t in traces], "domains": [list(d) for d in inputs.domains],
            "parse_exact": float(np.mean([t.parsed.strip().lower() == c for t, c in zip(traces, inputs.captions)])),
            "routing_accuracy": float(np.mean([traces[i].model == experts[i] for i in covered])) if covered else None,
            "fallbacks_per_input": float(np.mean([sum(t.fallbacks.values()) for t in traces])),
            "llm_calls_per_input": float(np.mean([t.llm_calls for t in traces]))}


@dataclass
class Prepared:
    """Everything the arms need for one seed: the zoo, the two rewards, the database and the rule tree."""
    zoo: Zoo
    scorer: ConsistencyScorer
    critic: RealnessCritic
    db: AdvantageDatabase
    tree: dict
    results: dict
    key: dict  # the run-cache settings these depend on


def prepare(root: Path, budget: Budget, seed: int, device: str = "cpu", progress: bool = False) -> Prepared:
    """The zoo, the rewards and the database of one seed in `root` (each a cached unit)."""
    zb = BUDGETS.get(budget.zoo)
    base = {"world": asdict(WORLD), "seed": seed}

    def zoo_unit(folder: Path) -> dict:
        return {"keys": train_zoo(folder, zb, seed, WORLD, device, progress=progress).keys()}

    cached_run(root / "zoo", "diffusiongpt", {**base, "unit": "zoo", "zoo": asdict(zb)}, zoo_unit)
    zoo = Zoo(root / "zoo", sample_steps=zb.sample_steps, guidance=zb.guidance)
    zkey = {**base, "zoo": asdict(zb)}
    if progress:
        print("rewards and advantage database (cached after the first run) ...", file=sys.stderr, flush=True)
    rewards = cached_run(root / "rewards", "diffusiongpt",
                         {**zkey, "unit": "rewards", **{k: getattr(budget, k) for k in ("scorer_steps", "critic_steps", "critic_fakes")}},
                         lambda f: rewards_unit(f, zoo, budget, seed))
    scorer = ConsistencyScorer.from_pretrained(root / "rewards" / "scorer")
    critic = RealnessCritic.from_pretrained(root / "rewards" / "critic")
    rkey = {**zkey, "scorer_steps": budget.scorer_steps, "critic_steps": budget.critic_steps}
    database = cached_run(root / "database", "diffusiongpt",
                          {**rkey, "unit": "database", "prompts": budget.db_prompts, "embedder": budget.embedder},
                          lambda f: database_unit(f, zoo, scorer, budget, seed))
    db = AdvantageDatabase.load(root / "database" / "db")
    tree_path = root / "database" / "tree-rule.json"
    if not tree_path.is_file():
        save_tree(build_tree(RuleLLM(SUBJECT_WORDS, STYLE_WORDS), zoo.cards, UNIVERSAL), tree_path)
    dkey = {**rkey, "db_prompts": budget.db_prompts, "embedder": budget.embedder}
    return Prepared(zoo, scorer, critic, db, load_tree(tree_path), {"rewards": rewards, "database": database}, dkey)


def run_seed(out: Path, budget: Budget, seed: int, device: str = "cpu") -> dict:
    """Every unit of one seed (cached); returns their results."""
    root = out / "runs" / f"seed-{seed}"
    p = prepare(root, budget, seed, device)
    embedder = None
    if budget.cmmd_embedder is not None:
        from paperzoo.cmmd.embedders import load_embedder

        embedder = load_embedder(budget.cmmd_embedder, device, progress=False)
    arms = cached_run(root / "arms", "diffusiongpt",
                      {**p.key, "unit": "arms", "inputs": budget.inputs,
                       "cmmd_embedder": embedder.describe() if embedder is not None else None},
                      lambda f: arms_unit(f, p.zoo, p.tree, p.db, p.scorer, p.critic, budget, seed, embedder))
    smol = None
    if budget.smollm2_inputs:
        smol = cached_run(root / "smollm2", "diffusiongpt", {**p.key, "unit": "smollm2", "inputs": budget.smollm2_inputs},
                          lambda f: smollm2_unit(f, p.zoo, p.db, budget, seed))
    return {**p.results, "arms": arms, "smollm2": smol}


# ------------------------------------------------------------------------------ the report


def _per_seed(results: list[dict], arm: str, metric: str, keep=None) -> list[float]:
    out = []
    for r in results:
        row = r["arms"]["arms"][arm]
        values = row[metric] if isinstance(row[metric], list) else [row[metric]]
        if keep is not None:
            values = [v for v, k in zip(values, keep(r["arms"])) if k]
        out.append(float(np.mean(values)))
    return out


def make_claims(results: list[dict]) -> list[Claim]:
    R = {arm: _per_seed(results, arm, "R") for arm in ARMS}
    A = {arm: _per_seed(results, arm, "A") for arm in ARMS}
    noise_R = [r["rewards"]["R_noise"] for r in results]
    claims = [
        Claim("DiffusionGPT (ToT + HF) beats the base model on ImageReward", "Table II: 0.63 vs 0.28 (SD1.5)",
              f"R {spread(R['full'])} vs {spread(R['base'])}", better(R["full"], R["base"], baseline=noise_R),
              note="R: the world's ImageReward analogue; baseline: R of noise images"),
        Claim("... beats a random expert", "Table II: 0.63 vs 0.45", f"R {spread(R['full'])} vs {spread(R['random'])}",
              better(R["full"], R["random"], baseline=noise_R)),
        Claim("human feedback (the advantage database) adds to the tree", "Table II: 0.63 vs 0.56 (w/o HF)",
              f"R {spread(R['full'])} vs {spread(R['tot'])}", better(R["full"], R["tot"], baseline=noise_R)),
        Claim("the tree alone beats a random expert", "Table II: 0.56 vs 0.45", f"R {spread(R['tot'])} vs {spread(R['random'])}",
              better(R["tot"], R["random"], baseline=noise_R)),
        Claim("DiffusionGPT beats the base model on the aesthetic score", "Table II: 5.70 vs 5.26",
              f"A {spread(A['full'])} vs {spread(A['base'])}", better(A["full"], A["base"]),
              note="A: P(real) from a critic trained against the base's own samples, so the control is the floor"),
    ]
    acc = _per_seed(results, "full", "routing_accuracy")
    claims.append(Claim("routing picks the domain's expert above chance", "§II-B/C (qualitative, Fig. 6)",
                        f"accuracy {spread(acc)} on inputs whose domain has an expert; chance 1/8",
                        better(acc, 1 / 8), note="rule controller"))
    non_prompt = lambda arms: [p != "prompt" for p in arms["paradigms"]]  # noqa: E731
    full_np = _per_seed(results, "full", "R", non_prompt)
    noparse_np = _per_seed(results, "no-parse", "R", non_prompt)
    claims.append(Claim("prompt parse helps instruction, inspiration and hypothesis inputs", "§II-A (qualitative, Fig. 1)",
                        f"R {spread(full_np)} vs {spread(noparse_np)} without parse", better(full_np, noparse_np, baseline=noise_R)))
    claims.append(Claim("prompt extension helps", "Fig. 7 (qualitative)", f"R {spread(R['full'])} vs {spread(R['no-ext'])}",
                        better(R["full"], R["no-ext"], baseline=noise_R),
                        note="the rule controller only appends the example's style phrase when the prompt has none"))
    smol = [r["smollm2"] for r in results if r.get("smollm2")]
    if smol:
        sacc = [s["routing_accuracy"] or 0.0 for s in smol]  # None: no input of that seed had an expert domain
        claims.append(Claim("a real local LLM (SmolLM2-135M) routes above chance", "text-davinci-003 in the paper",
                            f"accuracy {spread(sacc)}; exact parse {spread([s['parse_exact'] for s in smol])}; "
                            f"{np.mean([s['fallbacks_per_input'] for s in smol]):.1f} fallbacks per input",
                            better(sacc, 1 / 8)))
    else:
        claims.append(Claim("a real local LLM (SmolLM2-135M) routes above chance", "text-davinci-003 in the paper", "-",
                            unmeasured("not run in this budget")))
    return claims


def arms_table(results: list[dict]) -> str:
    with_cmmd = all("cmmd" in r["arms"]["arms"]["base"] for r in results)
    lines = ["| arm | R (ImageReward analogue) | A (aesthetic analogue) | routing accuracy |" + (" CMMD vs real renders |" if with_cmmd else ""),
             "| --- | --- | --- | --- |" + (" --- |" if with_cmmd else "")]
    for arm in ARMS:
        acc = _per_seed(results, arm, "routing_accuracy")
        row = f"| {arm} | {spread(_per_seed(results, arm, 'R'))} | {spread(_per_seed(results, arm, 'A'))} | {spread(acc)} |"
        if with_cmmd:
            row += f" {spread(_per_seed(results, arm, 'cmmd'))} |"
        lines.append(row)
    return "\n".join(lines)


def routing_table(results: list[dict]) -> str:
    """Per expert domain: how often each controller / arm picked the domain's expert (pooled over seeds)."""
    from paperzoo.diffusiongpt.zoo import EXPERTS

    cols = ["random", "tot", "full", "no-parse", "no-ext"]
    smol = [r["smollm2"] for r in results if r.get("smollm2")]
    lines = ["| domain (expert) | " + " | ".join(cols) + (" | full, SmolLM2 |" if smol else " |"),
             "| --- |" + " --- |" * (len(cols) + bool(smol))]
    for e in EXPERTS:
        cells = []
        for arm in cols:
            hits = [m == e.key for r in results for m, d in zip(r["arms"]["arms"][arm]["models"], r["arms"]["domains"])
                    if tuple(d) == (e.subject, e.style)]
            cells.append(f"{np.mean(hits):.2f} ({len(hits)})" if hits else "-")
        if smol:
            hits = [t["model"] == e.key for s in smol for t, d in zip(s["traces"], s["domains"]) if tuple(d) == (e.subject, e.style)]
            cells.append(f"{np.mean(hits):.2f} ({len(hits)})" if hits else "-")
        lines.append(f"| {e.subject}-{e.style} ({e.key}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def models_table(results: list[dict]) -> str:
    keys = list(results[0]["database"]["mean_R_per_model"])
    lines = ["| model | R on database prompts | R on evaluation captions |", "| --- | --- | --- |"]
    for k in keys:
        lines.append(f"| {k} | {spread([r['database']['mean_R_per_model'][k] for r in results])} | "
                     f"{spread([r['arms']['R_per_model'][k] for r in results])} |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("R", "A")):
        vals = np.array([_per_seed(results, arm, metric) for arm in ARMS])
        ax.bar(ARMS, vals.mean(1), yerr=vals.std(1, ddof=1) / np.sqrt(vals.shape[1]) if vals.shape[1] > 1 else None,
               color=["grey", "grey", "tab:blue", "tab:green", "tab:olive", "tab:olive", "black"])
        ax.set_title({"R": "ImageReward analogue R", "A": "aesthetic analogue A"}[metric])
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle(f"DiffusionGPT arms on the styled world ({len(results)} seed(s), mean ± SE)")
    fig.tight_layout()
    return save_figure(fig, path)


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0,
        budget: Budget | None = None) -> SystemReport:
    budget = budget or (QUICK if quick else FULL)
    out = Path(out_dir) / "diffusiongpt"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for s in tqdm(range(seed, seed + budget.seeds), desc="diffusiongpt", unit="seed"):
        results.append(run_seed(out, budget, s, device))
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    claims = make_claims(results)
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    setup = (f"Styled-scene world (32 px; 3 subjects x 4 styles). Zoo '{budget.zoo}': a base model, six rank-4 LoRA "
             f"experts and a merge; database of {budget.db_prompts} prompts x 8 models ({results[0]['database']['embedder']} "
             f"embeddings); {budget.inputs} held-out inputs (4 paradigms) per seed, identical noise across arms; rule "
             f"controller; {budget.seeds} seed(s).")
    return SystemReport("diffusiongpt", TITLE, "2401.10061", "paperzoo diffusiongpt reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(plot(results, out / "arms.png"))], setup=setup,
                        tables=[arms_table(results), routing_table(results), models_table(results)], quick=quick)
