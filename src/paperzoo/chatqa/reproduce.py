"""The small-scale experiments for ChatQA's headline claims (card §5), on the conversational world.

Generators (a tiny Llama on the world's words, from scratch; per seed):
    lm           LM pretraining on training-entity documents: the foundation model the paper
                 starts from (ours: a from-scratch model has to learn the language first)
    stage1       + stage-1 SFT (the world's instruction tasks, no context): Table 2's "SFT"
    stage12      + stage-2 context-enhanced tuning with unanswerable turns: "ChatQA"
    share-x      the same with a share x of unanswerable dialogues (Table 6's sweep; x = 0 is
                 "without unanswerable turns")
    no-convqa    stage 2 without the conversational data (Table 2, "w/o ConvQAData")
    stage2-only  stage 2 straight after the LM stage (Table 2, "w/o stage-1")
each scored on held-out dialogues (held-out entities) with the gold context: F1 by turn kind
(the follow-up turns with pronouns are the headline measure), and the no / yes accuracies of
the unanswerable test turns (Table 6). The untrained model (step 0 of every run of its seed) is
the measured baseline.

Retrievers (Table 1, per seed; `retrieval_train.table1`): the tiny dual encoder after single-
turn pretraining with the history as the query, + the tiny rewriter's standalone question,
+ multi-turn fine-tuning; recall@1/@5 on held-out follow-up turns. RAG (Table 7): the stage12
generator on the top-k chunks of the history retriever and of the fine-tuned one, k = 1, 3, 5.

Real weights (full budget): all-MiniLM-L6-v2 as the retriever of Table 1 (history / + rewrite /
+ fine-tune), and SmolLM2-135M-Instruct through stage 1 and stage 1+2 (LoRA; the paper tunes
all weights), each with 3 seeds.

Every claim is decided by `paperzoo.core.verdict` over the per-seed numbers, paired by seed;
every unit of work goes through `paperzoo.core.runcache.cached_run`, keyed by its settings and
the code, so an interrupted run resumes and a code change reruns.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from paperzoo.chatqa import blends  # noqa: E402
from paperzoo.chatqa.config import StageRecipe  # noqa: E402
from paperzoo.chatqa.evaluate import WorldEval, evaluate_answers, evaluate_generator  # noqa: E402
from paperzoo.chatqa.generator import Generator, load_generator, new_generator  # noqa: E402
from paperzoo.chatqa.tuning import tune_stage  # noqa: E402
from paperzoo.core.atomic import atomic_path  # noqa: E402
from paperzoo.core.report import Claim, SystemReport, save_figure  # noqa: E402
from paperzoo.core.runcache import cached_run  # noqa: E402
from paperzoo.core.verdict import better, equivalent, spread, unmeasured  # noqa: E402

SYSTEM = "chatqa"
TITLE = "ChatQA: Building GPT-4 Level Conversational QA Models"
ARXIV = "2401.10225"


@dataclass(frozen=True)
class Budget:
    seeds: int
    generator: str  # the tiny generator's config name
    pretrain_steps: int
    stage1_steps: int
    stage2_steps: int
    batch_size: int
    lr: float
    default_share: float  # unanswerable dialogues in stage 2 (the paper: 1.5k turns of ~35k)
    shares: tuple[float, ...]  # Table 6's sweep (0 = without unanswerable turns)
    eval_dialogues: int
    retrieval_train: int
    retrieval_test: int
    rewriter_steps: int
    retrieval_steps: tuple[int, int] | None  # (single, multi) steps; None: the named recipes' own
    top_ks: tuple[int, ...]
    real_retriever: bool
    real_generator: bool
    real_stage1_steps: int
    real_stage2_steps: int
    real_batch_size: int
    real_eval_dialogues: int
    real_lora_rank: int


FULL = Budget(seeds=3, generator="tiny-ci", pretrain_steps=600, stage1_steps=300, stage2_steps=1500, batch_size=16,
              lr=3e-3, default_share=0.05, shares=(0.0, 0.05, 0.10), eval_dialogues=200,
              retrieval_train=600, retrieval_test=100, rewriter_steps=400, retrieval_steps=None, top_ks=(1, 3, 5),
              real_retriever=True, real_generator=True, real_stage1_steps=20, real_stage2_steps=80, real_batch_size=4,
              real_eval_dialogues=40, real_lora_rank=16)
QUICK = Budget(seeds=1, generator="tiny-ci", pretrain_steps=10, stage1_steps=5, stage2_steps=10, batch_size=8,
               lr=3e-3, default_share=0.05, shares=(0.0, 0.05), eval_dialogues=8,
               retrieval_train=40, retrieval_test=10, rewriter_steps=5, retrieval_steps=(5, 5), top_ks=(1, 3),
               real_retriever=False, real_generator=False, real_stage1_steps=1, real_stage2_steps=1, real_batch_size=2,
               real_eval_dialogues=2, real_lora_rank=8)

# Minutes on 2 cores, estimated (not yet measured as a whole) from single runs on a machine
# shared with other jobs: tiny-ci ~0.75 s per stage-2 step there (7,500 stage-2 steps per seed),
# tiny Table 1 ~4 min and MiniLM Table 1 ~20 min per seed, SmolLM2 ~10 s per LoRA step.
EXPECTED_MINUTES = {"full": 240, "quick": 2}  # quick: measured 1.1 min (2 threads, loaded machine)
# "Fine-tuned retriever about equal to rewriting" (Table 1: Dragon 52.72 vs 54.46 top-1):
# equal within 5 recall points, fixed before looking at the numbers.
EQUAL_RECALL = 0.05


# ------------------------------------------------------------------------------ generators


def _stage(budget: Budget, steps: int) -> StageRecipe:
    return StageRecipe(lr=budget.lr, min_lr=budget.lr / 10, steps=steps, batch_size=budget.batch_size,
                       warmup=min(20, max(1, steps // 10)))


def generator_variants(budget: Budget) -> dict[str, tuple[str, str, dict]]:
    """name -> (parent, stage, stage-2 options). "lm" starts from the untrained model."""
    out: dict[str, tuple[str, str, dict]] = {"lm": ("untrained", "pretrain", {}), "stage1": ("lm", "stage1", {})}
    out["stage12"] = ("stage1", "stage2", {"unanswerable": budget.default_share})
    for share in budget.shares:
        if share != budget.default_share:
            out[f"share-{share:g}"] = ("stage1", "stage2", {"unanswerable": share})
    no_conv = {k: (0.0 if k == "synth_convqa" else w, g, i) for k, (w, g, i) in blends.SOURCES.items()}
    out["no-convqa"] = ("stage1", "stage2", {"unanswerable": budget.default_share, "sources": no_conv})
    out["stage2-only"] = ("lm", "stage2", {"unanswerable": budget.default_share})
    return out


def share_name(budget: Budget, share: float) -> str:
    return "stage12" if share == budget.default_share else f"share-{share:g}"


def _samples(stage: str, seed: int, options: dict):
    if stage == "pretrain":
        return blends.pretraining(seed)
    if stage == "stage1":
        return blends.stage1(seed)
    return blends.stage2(seed, options["unanswerable"], options.get("sources"))


class SeedRun:
    """The generators of one seed, each trained once from its parent's folder (cached)."""

    def __init__(self, budget: Budget, seed: int, folder: Path, device: str, bar=None):
        self.budget, self.seed, self.folder, self.device, self.bar = budget, seed, folder, device, bar
        self.variants = generator_variants(budget)
        self.eval = WorldEval("test", seed, budget.eval_dialogues, unanswerable=0.3)
        self.results: dict[str, dict] = {}

    def _tick(self, label: str):
        if self.bar is not None:
            self.bar.set_postfix_str(f"seed {self.seed} {label}")

    def _done(self):
        if self.bar is not None:
            self.bar.update()

    def model_folder(self, name: str) -> Path:
        return self.folder / name / "model"

    def settings(self, name: str) -> dict:
        parent, stage, options = self.variants[name] if name != "untrained" else (None, "init", {})
        b = self.budget
        steps = {"pretrain": b.pretrain_steps, "stage1": b.stage1_steps, "stage2": b.stage2_steps, "init": 0}[stage]
        return {"unit": "generator", "name": name, "generator": b.generator, "seed": self.seed, "stage": stage,
                "steps": steps, "batch_size": b.batch_size, "lr": b.lr, "options": json.loads(json.dumps(options)),
                "parent": self.settings(parent) if parent else None, "eval": asdict(self.eval)}

    def run(self, name: str) -> dict:
        if name in self.results:
            return self.results[name]
        parent = self.variants[name][0] if name != "untrained" else None
        if parent is not None:
            self.run(parent)
        self._tick(name)

        def fn(folder: Path) -> dict:
            start = time.perf_counter()
            if parent is None:
                gen = new_generator(self.budget.generator, seed=self.seed)
            else:
                gen = Generator.from_pretrained(self.model_folder(parent))
                _, stage, options = self.variants[name]
                steps = self.settings(name)["steps"]
                tune_stage(gen, _stage(self.budget, steps), _samples(stage, self.seed, options), folder / "train",
                           device=self.device, resume=True, checkpoint_every=max(100, steps // 4), progress=False,
                           desc=f"chatqa {name}")
            gen.save_pretrained(folder / "model")
            trained = time.perf_counter() - start
            scores = evaluate_generator(gen, self.eval.load())
            return {**scores, "train_seconds": trained, "eval_seconds": time.perf_counter() - start - trained}

        self.results[name] = cached_run(self.folder / name, SYSTEM, self.settings(name), fn)
        self._done()
        return self.results[name]

    def all(self) -> dict[str, dict]:
        for name in ("untrained", *self.variants):
            self.run(name)
        return self.results


# ------------------------------------------------------------------------------ retrieval and RAG


def retrieval_unit(budget: Budget, seed: int, folder: Path, device: str, encoder: str) -> dict:
    from paperzoo.chatqa.config import retrieval_recipe
    from paperzoo.chatqa.retrieval_train import table1

    real = encoder != "tiny"
    single = None if real else retrieval_recipe("tiny-single")
    multi = retrieval_recipe("minilm-multi" if real else "tiny-multi")
    if budget.retrieval_steps is not None:
        single = single and replace(single, steps=budget.retrieval_steps[0])
        multi = replace(multi, steps=budget.retrieval_steps[1])
    settings = {"unit": "table1", "encoder": encoder, "seed": seed, "n_train": budget.retrieval_train,
                "n_test": budget.retrieval_test, "rewriter_steps": budget.rewriter_steps,
                "single": single and asdict(single), "multi": asdict(multi)}

    def fn(f: Path) -> dict:
        kwargs = {"single": single, "multi": multi}
        out = table1(f, encoder=encoder, seed=seed, n_train=budget.retrieval_train, n_test=budget.retrieval_test,
                     rewriter_steps=budget.rewriter_steps, device=device, **kwargs)
        return {"recall": {row: {str(k): v for k, v in r.items()} for row, r in out["recall"].items()},
                "seconds": out["seconds"], "turns": out["turns"], "rewrite_examples": out["rewrite_examples"]}

    return cached_run(folder, SYSTEM, settings, fn)


def rag_unit(budget: Budget, seed: int, folder: Path, generator_folder: Path, retrieval_folder: Path,
             generator_settings: dict) -> dict:
    """The stage12 generator answering held-out dialogues from the top-k chunks of the
    single-turn retriever (history as the query) and of the multi-turn fine-tuned one."""
    from paperzoo.chatqa.pipeline import ChatPipeline
    from paperzoo.chatqa.retriever import DualEncoder
    from paperzoo.world.conversations import corpus

    ev = WorldEval("test", seed, budget.eval_dialogues, unanswerable=0.3)
    settings = {"unit": "rag", "seed": seed, "top_ks": list(budget.top_ks), "eval": asdict(ev),
                "generator": generator_settings, "retrievers": str(retrieval_folder)}

    def fn(f: Path) -> dict:
        dialogues = ev.load()
        chunks = {c.id: c for d in corpus("test", seed) for c in d.chunks}
        gen = Generator.from_pretrained(generator_folder)
        conversations = []
        for d in dialogues:
            history: list[dict] = []
            for t in d.turns:
                history.append({"role": "user", "content": t.question})
                conversations.append(list(history))
                history.append({"role": "assistant", "content": t.answer})
        out = {}
        for label, sub in (("history", "single"), ("fine_tune", "multi")):
            retriever = DualEncoder.from_pretrained(retrieval_folder / sub / "model").eval()
            for k in budget.top_ks:
                pipe = ChatPipeline(retriever, gen, [(i, c.text) for i, c in chunks.items()], top_k=k)
                answered = pipe.answer_batch(conversations, max_new_tokens=24)
                contexts = [[chunks[r.id] for r in retrieved] for _, retrieved in answered]
                out[f"{label}@{k}"] = evaluate_answers(dialogues, [a for a, _ in answered], contexts)
        return out

    return cached_run(folder, SYSTEM, settings, fn)


# ------------------------------------------------------------------------------ real generator


def real_generator_unit(budget: Budget, seed: int, folder: Path, device: str) -> dict:
    """SmolLM2-135M-Instruct: untrained, stage 1, stage 1+2 (LoRA), scored like the tiny ones."""
    settings = {"unit": "smollm2", "seed": seed, "stage1": budget.real_stage1_steps, "stage2": budget.real_stage2_steps,
                "batch": budget.real_batch_size, "lora": budget.real_lora_rank, "eval": budget.real_eval_dialogues,
                "share": budget.default_share}

    def fn(f: Path) -> dict:
        ev = WorldEval("test", seed, budget.real_eval_dialogues, unanswerable=0.3).load()
        gen = load_generator("smollm2-135m-instruct")
        out = {"untrained": evaluate_generator(gen, ev)}
        for name, steps, samples in (("stage1", budget.real_stage1_steps, blends.stage1(seed)),
                                     ("stage12", budget.real_stage2_steps,
                                      blends.stage2(seed, budget.default_share))):
            stage = StageRecipe(lr=5e-4, min_lr=5e-5, steps=steps, batch_size=budget.real_batch_size,
                                warmup=max(1, steps // 10), max_length=768)
            tune_stage(gen, stage, samples, f / name, device=device, resume=True, lora_rank=budget.real_lora_rank,
                       checkpoint_every=max(10, steps // 4), progress=False, desc=f"smollm2 {name}")
            out[name] = evaluate_generator(gen, ev)
        return out

    return cached_run(folder, SYSTEM, settings, fn)


# ------------------------------------------------------------------------------ claims


def _f(results: list[dict], name: str, key: str = "follow_up") -> list[float]:
    return [float(r[name]["f1_by_kind"].get(key) or 0.0) for r in results]


def _acc(results: list[dict], name: str, key: str) -> list[float]:
    return [float(r[name][key] if r[name][key] is not None else np.nan) for r in results]


def _recall(units: list[dict], row: str, k: int = 1) -> list[float]:
    return [float(u["recall"][row][str(k)]) for u in units]


def make_claims(gens: list[dict], tables: list[dict], rags: list[dict], budget: Budget,
                real_tables: list[dict] | None, real_gens: list[dict] | None) -> list[Claim]:
    claims = []
    s12, s1, base = _f(gens, "stage12"), _f(gens, "stage1"), _f(gens, "untrained")
    claims.append(Claim(
        "stage-2 context-enhanced tuning lifts conversational QA over stage-1 SFT alone (F1, follow-up turns, gold context)",
        "Table 2 average: Llama2-7B SFT 34.81 -> ChatQA 47.71; 70B 43.22 -> 54.14",
        f"F1 stage 1+2 {spread(s12)} vs stage 1 {spread(s1)}; untrained {spread(base)}",
        better(s12, s1, baseline=base)))
    no_share = share_name(budget, 0.0)
    if no_share in gens[0]:
        no_with, no_without = _acc(gens, "stage12", "no"), _acc(gens, no_share, "no")
        both_with, both_without = _acc(gens, "stage12", "avg_no_yes"), _acc(gens, no_share, "avg_no_yes")
        yes_with, yes_without = _acc(gens, "stage12", "yes"), _acc(gens, no_share, "yes")
        claims.append(Claim(
            f"unanswerable turns in stage 2 ({budget.default_share:.0%} of dialogues) teach the model to refuse "
            "when the context lacks the answer (unanswerable accuracy)",
            "§3.2.3 / Table 6: 1.5k unanswerable turns; QuAC no 77.66 / yes 83.85",
            f"no-accuracy {spread(no_with)} with vs {spread(no_without)} without; yes-accuracy {spread(yes_with)} vs "
            f"{spread(yes_without)}",
            better(no_with, no_without)))
        claims.append(Claim(
            "and raise Avg-Both (the mean of the unanswerable and answerable accuracies)",
            "Table 6: Avg-Both 77.25 with 1.5k turns (GPT-3.5 73.27)",
            f"(no + yes) / 2 {spread(both_with)} with vs {spread(both_without)} without",
            better(both_with, both_without)))
    nc = _f(gens, "no-convqa")
    claims.append(Claim(
        "without the conversational QA data, follow-up turns get worse",
        "Table 2: w/o ConvQAData 48.97 vs 54.08 (70B, SyntheticConvQA)",
        f"F1 follow-up {spread(s12)} full vs {spread(nc)} without ConvQA data",
        better(s12, nc)))
    s2 = _f(gens, "stage2-only")
    claims.append(Claim(
        "stage 1 helps: stage 1+2 beats stage 2 alone (weak in the paper)",
        "Table 2: w/o stage-1 52.18 vs 54.08",
        f"F1 follow-up {spread(s12)} vs {spread(s2)} stage 2 only",
        better(s12, s2)))
    ft, hist, rw, untrained = (_recall(tables, r) for r in ("fine_tune", "history", "rewrite", "untrained"))
    claims.append(Claim(
        "multi-turn fine-tuning beats the single-turn retriever with the history as the query (tiny encoder, recall@1)",
        "Table 1: Dragon history 46.29 -> fine-tune 52.72 (top-1)",
        f"recall@1 fine-tuned {spread(ft)} vs history {spread(hist)}; untrained {spread(untrained)}",
        better(ft, hist, baseline=untrained)))
    claims.append(Claim(
        f"the fine-tuned retriever is on par with rewrite-then-retrieve (within {EQUAL_RECALL:.2f} recall@1)",
        "Table 1: Dragon + rewrite 54.46 vs fine-tune 52.72 (top-1); 80.13 vs 80.67 (top-5)",
        f"recall@1 fine-tuned {spread(ft)} vs rewrite {spread(rw)} (the tiny rewriter)",
        equivalent(ft, rw, tolerance=EQUAL_RECALL)))
    k = max(budget.top_ks)
    rag_ft = [float(r[f"fine_tune@{k}"]["f1_by_kind"].get("follow_up") or 0.0) for r in rags]
    rag_h = [float(r[f"history@{k}"]["f1_by_kind"].get("follow_up") or 0.0) for r in rags]
    claims.append(Claim(
        f"a better retriever gives better answers end to end (top-{k} chunks, F1 follow-up turns)",
        "Table 7: fine-tuned Dragon 42.31 vs un-tuned Dragon 40.50 (retrieval datasets)",
        f"F1 with the fine-tuned retriever {spread(rag_ft)} vs the history retriever {spread(rag_h)}",
        better(rag_ft, rag_h)))
    if real_tables:
        rft, rh = _recall(real_tables, "fine_tune"), _recall(real_tables, "history")
        claims.append(Claim(
            "real weights: all-MiniLM-L6-v2 fine-tuned on dialogue history beats it with the history as the query (recall@1)",
            "Table 1 (Dragon -> dragon-multiturn)",
            f"recall@1 fine-tuned {spread(rft)} vs history {spread(rh)}",
            better(rft, rh)))
    else:
        claims.append(Claim("real weights: MiniLM fine-tuned beats MiniLM with the history as the query",
                            "Table 1", "-", unmeasured("run without --quick")))
    if real_gens:
        r12, r1 = _f(real_gens, "stage12"), _f(real_gens, "stage1")
        r0 = _f(real_gens, "untrained")
        claims.append(Claim(
            "real weights: SmolLM2-135M-Instruct, stage 1+2 beats stage 1 (F1, follow-up turns, gold context)",
            "Table 2",
            f"F1 stage 1+2 {spread(r12)} vs stage 1 {spread(r1)}; untuned {spread(r0)}",
            better(r12, r1, baseline=r0)))
    else:
        claims.append(Claim("real weights: SmolLM2-135M-Instruct, stage 1+2 beats stage 1", "Table 2", "-",
                            unmeasured("run without --quick")))
    return claims


# ------------------------------------------------------------------------------ plots and tables


def share_plot(gens: list[dict], budget: Budget, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    xs = list(budget.shares)
    for key, label in (("no", "unanswerable accuracy (no)"), ("yes", "answerable accuracy (yes)"),
                       ("avg_no_yes", "(no + yes) / 2")):
        v = np.array([[r[share_name(budget, s)][key] or 0.0 for s in xs] for r in gens], float)
        ax.errorbar([100 * x for x in xs], v.mean(0), yerr=v.std(0), marker="o", capsize=3, label=label)
    ax.set_xlabel("unanswerable dialogues in stage 2 (%)")
    ax.set_ylabel("%")
    ax.legend(fontsize=8)
    ax.set_title("Table 6 at tiny scale (mean, std over seeds)")
    return save_figure(fig, path)


def retrieval_plot(tables: list[dict], real: list[dict] | None, path: Path) -> Path:
    rows = ("untrained", "question", "history", "rewrite", "fine_tune", "gold_rewrite")
    groups = [("tiny", tables)] + ([("MiniLM", real)] if real else [])
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.4), squeeze=False)
    for ax, (name, units) in zip(axes[0], groups):
        present = [r for r in rows if r in units[0]["recall"]]
        for j, k in enumerate(("1", "5")):
            v = np.array([[u["recall"][r][k] for r in present] for u in units])
            ax.bar(np.arange(len(present)) + 0.4 * j, v.mean(0), 0.4, yerr=v.std(0), capsize=2, label=f"recall@{k}")
        ax.set_xticks(np.arange(len(present)) + 0.2, present, rotation=30, fontsize=8)
        ax.set_title(f"Table 1 at tiny scale: {name} encoder")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def variants_table(gens: list[dict]) -> str:
    names = [n for n in gens[0] if n != "run_key"]  # the run cache stores its key beside the results
    lines = ["| generator | F1 all | F1 first turns | F1 follow-ups | F1 topic switches | no | yes | (no+yes)/2 |",
             "| --- |" + " --- |" * 7]
    for name in names:
        cells = [spread([r[name]["f1"] or 0.0 for r in gens])]
        cells += [spread([r[name]["f1_by_kind"].get(k) or 0.0 for r in gens]) for k in ("first", "follow_up", "topic_switch")]
        cells += [spread([r[name][k] or 0.0 for r in gens]) for k in ("no", "yes", "avg_no_yes")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def retrieval_table(tables: list[dict], label: str) -> str:
    rows = [r for r in ("untrained", "question", "history", "rewrite", "fine_tune", "gold_rewrite") if r in tables[0]["recall"]]
    lines = [f"| {label} query | recall@1 | recall@5 |", "| --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r} | {spread(_recall(tables, r, 1))} | {spread(_recall(tables, r, 5))} |")
    return "\n".join(lines)


def rag_table(rags: list[dict], budget: Budget) -> str:
    lines = ["| retriever | " + " | ".join(f"top-{k} F1 follow-ups" for k in budget.top_ks) + " |",
             "| --- |" + " --- |" * len(budget.top_ks)]
    for label in ("history", "fine_tune"):
        lines.append(f"| {label} | " + " | ".join(
            spread([r[f"{label}@{k}"]["f1_by_kind"].get("follow_up") or 0.0 for r in rags]) for k in budget.top_ks) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ run


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0,
        progress: bool = True) -> SystemReport:
    out = Path(out_dir) / SYSTEM
    out.mkdir(parents=True, exist_ok=True)
    budget = QUICK if quick else FULL
    seeds = [seed + k for k in range(budget.seeds)]
    n_gen = 1 + len(generator_variants(budget))
    units = len(seeds) * (n_gen + 2 + int(budget.real_retriever) + int(budget.real_generator))
    gens, tables, rags, real_tables, real_gens = [], [], [], [], []
    with tqdm(total=units, desc=SYSTEM, unit="run", disable=not progress, dynamic_ncols=True) as bar:
        for s in seeds:
            folder = out / "runs" / f"seed-{s}"
            run_ = SeedRun(budget, s, folder, device, bar)
            gens.append(run_.all())
            bar.set_postfix_str(f"seed {s} retrieval (tiny)")
            tables.append(retrieval_unit(budget, s, folder / "retrieval-tiny", device, "tiny"))
            bar.update()
            bar.set_postfix_str(f"seed {s} RAG")
            rags.append(rag_unit(budget, s, folder / "rag", run_.model_folder("stage12"),
                                 folder / "retrieval-tiny", run_.settings("stage12")))
            bar.update()
            if budget.real_retriever:
                bar.set_postfix_str(f"seed {s} retrieval (MiniLM)")
                real_tables.append(retrieval_unit(budget, s, folder / "retrieval-minilm", device, "minilm"))
                bar.update()
            if budget.real_generator:
                bar.set_postfix_str(f"seed {s} SmolLM2")
                real_gens.append(real_generator_unit(budget, s, folder / "smollm2", device))
                bar.update()

    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps({"budget": asdict(budget), "seeds": seeds, "generators": gens, "retrieval": tables,
                                   "rag": rags, "retrieval_minilm": real_tables, "smollm2": real_gens}, indent=1))
    plots = [share_plot(gens, budget, out / "unanswerable.png"),
             retrieval_plot(tables, real_tables or None, out / "retrieval.png")]
    claims = make_claims(gens, tables, rags, budget, real_tables or None, real_gens or None)
    tables_md = [variants_table(gens), retrieval_table(tables, "tiny encoder"), rag_table(rags, budget)]
    if real_tables:
        tables_md.append(retrieval_table(real_tables, "MiniLM"))
    if real_gens:
        tables_md.append(variants_table(real_gens))
    b = budget
    setup = (f"Generators: `{b.generator}` Llamas on the world's words, from scratch: LM pretraining {b.pretrain_steps} "
             f"steps, stage 1 {b.stage1_steps}, stage 2 {b.stage2_steps} (batch {b.batch_size}, AdamW {b.lr:g} cosine); "
             f"{b.default_share:.0%} of stage-2 dialogues end unanswerable. Scored on {b.eval_dialogues} held-out "
             "dialogues (held-out entities, 30% ending unanswerable) with the gold context, ChatRAG-style (F1; no / "
             f"yes accuracies). Retrieval: tiny dual encoder, {b.retrieval_train} training dialogues, "
             f"{b.retrieval_test} held-out test dialogues' follow-up turns against the test corpus. Seeds {seeds}; "
             "cells are seed mean ± SE (per seed).")
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    return SystemReport(SYSTEM, TITLE, ARXIV, f"paperzoo {SYSTEM} reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(p) for p in plots], setup=setup, tables=tables_md, quick=quick)
