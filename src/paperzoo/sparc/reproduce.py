"""The small-scale experiment for SPARC's headline claims (card §5), on the scene world.

The same tiny dual encoder is trained on the same seeded scene stream with SPARC
(lambda_f = 1) and CLIP (lambda_f = 0, same architecture including h_v), with 3 seeds, and
scored on 1,000 held-out scenes (evaluate.py). The untrained model of each seed (the weights
every variant of that seed starts from) is scored too, without training: it is the measured
baseline. An untrained tiny SPARC already points at the right object 0.24-0.44 of the time
against a uniform chance of 0.10, so "beats chance" says nothing.

Three worlds. "fixed captions" is the card's plan ("a large red circle left of a small blue
square"): every word in a fixed slot. SPARC's objective is invariant to permuting a
caption's tokens, so there the data cannot say which word owns which object, and the
2026-12-06 record found no localisation gain. "varied captions" (`world.captions.VARIED`)
varies the templates, the order, which objects are named, the attribute words, synonyms and
distractors, over a larger vocabulary, so a word's slot no longer says its object; there
the Table 8 ablations run too (softmax weights, sigma = 0, the lambda_f sweep of App. D).
"varied shape captions" names each object by its shape noun only ("there is a disc , and a
ring to its left"), so that no two words of a caption cover the same patches.

Every claim is decided by `paperzoo.core.verdict` over the per-seed numbers (paired by
seed): it holds when the seed-mean difference exceeds twice its standard error over at
least 3 seeds and the treatment also beats the untrained model by the same rule. Every
run goes through `paperzoo.core.runcache.cached_run`, keyed by its full settings and the
code, so a second call only re-plots and any change to the code reruns.
"""

import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from paperzoo.core.atomic import atomic_path  # noqa: E402
from paperzoo.core.report import Claim, SystemReport, save_figure  # noqa: E402
from paperzoo.core.runcache import cached_run  # noqa: E402
from paperzoo.core.verdict import better, deterministic, spread  # noqa: E402
from paperzoo.sparc.config import SparcConfig, config  # noqa: E402
from paperzoo.sparc.data import WorldData  # noqa: E402
from paperzoo.sparc.demo import heatmap_figure  # noqa: E402
from paperzoo.sparc.evaluate import EVAL_SEED, evaluate  # noqa: E402
from paperzoo.sparc.model import SparcModel  # noqa: E402
from paperzoo.sparc.train import initial_model, train, world_scene_config  # noqa: E402
from paperzoo.world.scenes import SceneConfig, load_scenes  # noqa: E402

TITLE = "SPARC: fine-grained image-text pre-training"
UNTRAINED = "untrained"  # the variant scored at its initial weights: the measured baseline

# Minutes on 2 cores. full: estimated for the three-world design (33 trained runs): one
# 800-step run of `tiny-varied` took 4.6-5.3 min on one thread on a machine shared with
# two other jobs (2026-12-07), `tiny` runs about 1.7 min at 2 threads (2026-11-25).
# quick: measured 2026-12-01 for the old design, 1.7 CPU-minutes on one thread, rounded up.
EXPECTED_MINUTES = {"full": 100, "quick": 3}


LAMBDA_SWEEP = (0.5, 5.0, 10.0)  # App. D swept lambda_f over {0.5, 1, 5, 10}; 1 is "SPARC"


def worlds() -> dict[str, tuple[SparcConfig, SceneConfig]]:
    """Each world's base model config and scene config."""
    fixed, varied = config("tiny"), config("tiny-varied")
    return {"fixed captions": (fixed, world_scene_config(fixed)),
            "varied captions": (varied, world_scene_config(varied)),
            "varied shape captions": (varied, replace(world_scene_config(varied), caption_words=("shape",)))}


def variants(base: SparcConfig, world: str) -> dict[str, SparcConfig]:
    """SPARC and CLIP; on varied captions also the Table 8 ablations and the lambda_f sweep.
    (The untrained baseline is not a variant: it is every variant's step 0.)"""
    out = {"SPARC": base, "CLIP": base.clip()}
    if world == "varied captions":
        out["SPARC softmax"] = replace(base, weighting="softmax")
        out["SPARC sigma=0"] = replace(base, sigma=0.0)
        out.update({f"SPARC lambda_f={x:g}": replace(base, lambda_fine=x) for x in LAMBDA_SWEEP})
    return out


@dataclass(frozen=True)
class Budget:
    steps: int
    batch_size: int
    seeds: int
    eval_count: int
    flops_batch: int = 128  # the batch of the FLOP count (deterministic; the tests shrink it)


FULL = Budget(steps=800, batch_size=64, seeds=3, eval_count=1000)
QUICK = Budget(steps=40, batch_size=32, seeds=1, eval_count=200)


def run_one(model_config: SparcConfig, scene_config: SceneConfig, seed: int, budget: Budget, folder: Path,
            device: str) -> dict:
    """Train one variant in `folder` (model/, history.json, checkpoints to resume from) and
    score it on `budget.eval_count` held-out scenes; cached by `core.runcache` on every
    setting. `budget.steps == 0` scores the untrained model (`initial_model(config, seed)`)."""
    settings = {"model": asdict(model_config), "world": asdict(scene_config), "seed": seed,
                "steps": budget.steps, "batch_size": budget.batch_size,
                "eval_count": budget.eval_count, "eval_seed": EVAL_SEED, "device": device}

    def fn(folder: Path) -> dict:
        start = time.perf_counter()
        if budget.steps == 0:
            model, history = initial_model(model_config, seed).to(device), []
        else:
            model, history = train(model_config, "tiny", out_dir=folder, seed=seed, device=device, progress=False,
                                   scene_config=scene_config, steps=budget.steps, batch_size=budget.batch_size,
                                   checkpoint_every=200, resume=True)
        seconds = time.perf_counter() - start
        eval_set = load_scenes(scene_config, EVAL_SEED, budget.eval_count, split="eval")
        metrics = evaluate(model, eval_set, scene_config, seed=seed)
        shutil.rmtree(folder / "checkpoint", ignore_errors=True)  # finished: model/ is all a reader needs
        return {"history": history, "train_seconds": seconds, "metrics": metrics}

    return cached_run(folder, "sparc", settings, fn)


def step_flops(model_config: SparcConfig, batch_size: int = 128) -> int:
    """FLOPs of one training step (forward + backward) on a tiny-world batch."""
    torch.manual_seed(0)
    model = SparcModel(model_config)
    batch = WorldData(world_scene_config(model_config), 0, batch_size, model_config.text.context_length)(0)
    with FlopCounterMode(display=False) as counter:
        model.loss(batch["images"], batch["token_ids"], batch["token_mask"])["loss"].backward()
    return counter.get_total_flops()


def values(results: dict, world: str, variant: str, metric: str) -> list[float]:
    """The per-seed numbers of one metric, in seed order (so paired across variants)."""
    return [float(r["metrics"][metric]) for r in results[world][variant]]


def mean(results: dict, world: str, variant: str, metric: str) -> float:
    return float(np.mean(values(results, world, variant, metric)))


METRICS = {
    "loc_pointing": "pointing (argmax s_lp on the word's object)",
    "loc_pointing_shape": "pointing, shape nouns",
    "loc_pointing_colour": "pointing, colour words",
    "loc_pointing_size": "pointing, size words",
    "loc_object_mass": "object mass (a_lp on the word's object)",
    "loc_topk_iou": "top-k IoU (k = the object's patches)",
    "loc_any_token_finds_object": "some token points at each named object",
    "loc_function_on_object": "function words pointing at an object",
    "seg_miou": "zero-shot seg. mIoU",
    "i2t_r1": "i2t R@1",
    "t2i_r1": "t2i R@1",
    "k_pna": "K-Pna analogue",
    "comp_replace_att": "replace-att",
    "comp_swap_att": "swap-att",
    "comp_swap_rel": "swap-rel",
}
CHANCE = {"loc_pointing": "loc_pointing_chance", "loc_object_mass": "loc_pointing_chance",
          "loc_topk_iou": "loc_topk_iou_chance", "loc_function_on_object": "loc_function_on_object_chance"}


def metrics_table(results: dict, world: str) -> str:
    names = list(results[world])
    lines = [f"**{world}** (seed mean ± standard error, per-seed values in brackets; '{UNTRAINED}': the initial "
             "weights, not trained; uniform chance where one applies)", "",
             "| metric | " + " | ".join(names) + " | chance |", "| --- |" + " --- |" * (len(names) + 1)]
    for key, label in METRICS.items():
        if key in results[world]["SPARC"][0]["metrics"]:
            chance = f"{mean(results, world, 'CLIP', CHANCE[key]):.3f}" if key in CHANCE else ""
            lines.append(f"| {label} | " + " | ".join(spread(values(results, world, v, key)) for v in names)
                         + f" | {chance} |")
    return "\n".join(lines)


def bar_plot(results: dict, path: Path) -> Path:
    keys = ["loc_pointing", "loc_object_mass", "loc_topk_iou", "loc_any_token_finds_object", "seg_miou", "i2t_r1"]
    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 3.6), squeeze=False)
    for ax, (world, by_variant) in zip(axes[0], results.items()):
        names = list(by_variant)
        width = 0.8 / len(names)
        x = np.arange(len(keys))
        for k, name in enumerate(names):
            vals = np.array([[r["metrics"].get(m, np.nan) for m in keys] for r in by_variant[name]])
            ax.bar(x + k * width, np.nanmean(vals, 0), width, label=name,
                   **({"color": "lightgrey", "edgecolor": "grey"} if name == UNTRAINED else {}))
            for row in vals:
                ax.plot(x + k * width, row, "k.", ms=3)
        chance = mean(results, world, "CLIP", "loc_pointing_chance")
        ax.hlines(chance, -0.1, 1.9, colors="grey", linestyles="dashed", label="pointing / mass chance (uniform)")
        ax.set_xticks(x + 0.4 - width / 2, [METRICS[m].split(" (")[0] for m in keys], rotation=20, fontsize=8)
        ax.set_title(world)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("SPARC vs CLIP, the ablations and the untrained model on held-out scenes (dots: seeds)")
    return save_figure(fig, path)


def loss_plot(results: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.2), squeeze=False)
    for ax, (world, by_variant) in zip(axes[0], results.items()):
        for name, runs in by_variant.items():
            history = runs[0]["history"]
            if not history:  # the untrained baseline
                continue
            steps = [h["step"] for h in history]
            ax.plot(steps, [h["global"] for h in history], label=f"{name}: L_g")
            if name != "CLIP":
                ax.plot(steps, [h["fine"] for h in history], "--", label=f"{name}: L_f")
        ax.set_xlabel("step")
        ax.set_title(f"training losses, {world} (first seed)")
        ax.set_yscale("log")
        ax.legend(fontsize=6)
    return save_figure(fig, path)


def heatmap_plots(models: dict[str, SparcModel], scene_config: SceneConfig, path: Path, count: int = 2) -> Path:
    """Content-word -> patch weights a_lp of each model (SPARC, CLIP, untrained) on the same
    held-out scenes, stacked as one PNG."""
    from PIL import Image

    scenes = load_scenes(scene_config, EVAL_SEED, 32, split="eval")
    picks = [i for i in range(len(scenes)) if len({int(o) for o in scenes.token_object[i] if o >= 0}) >= 2][:count]
    rows = []
    for name, model in models.items():
        for i in picks:
            words = scenes.captions[i].split()
            content = [l for l, o in enumerate(scenes.token_object[i][: len(words)]) if o >= 0]
            fig = heatmap_figure(model, scenes.images[i], words, scenes.token_ids[i], scenes.token_mask[i], content)
            fig.suptitle(f"{name}: {scenes.captions[i]}", fontsize=9)
            tmp = path.with_name(f".{name.replace(' ', '_')}-{i}.png")
            save_figure(fig, tmp)
            rows.append(Image.open(tmp).convert("RGB"))
            tmp.unlink()
    width = max(r.width for r in rows)
    canvas = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        canvas.paste(r, (0, y))
        y += r.height
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path


def versus(results: dict, world: str, treatment: str, control: str, metric: str, claim: str, paper: str,
           note: str = "") -> Claim:
    """'treatment beats control on metric', decided by the shared rule with the untrained model as baseline."""
    a, b, u = (values(results, world, v, metric) for v in (treatment, control, UNTRAINED))
    ours = f"{spread(a)} vs {control} {spread(b)}; untrained {spread(u)}"
    if metric in CHANCE:
        ours += f"; uniform chance {mean(results, world, 'CLIP', CHANCE[metric]):.3f}"
    return Claim(f"[{world}] {claim}", paper, ours, better(a, b, baseline=u), note=note)


def world_claims(results: dict, world: str) -> list[Claim]:
    v = lambda *args, **kw: versus(results, world, *args, **kw)  # noqa: E731
    t6 = "T6 VOC mIoU 27.36 vs 23.02 (localisation via segmentation)"
    claims = [
        v("SPARC", "CLIP", "loc_pointing", "SPARC's content words point at their objects more often than CLIP's", t6),
        v("SPARC", "CLIP", "loc_pointing_shape", "and its shape nouns do", t6),
        v("SPARC", "CLIP", "loc_object_mass", "SPARC puts more alignment weight a_lp on the word's object", t6),
        v("SPARC", "CLIP", "loc_topk_iou", "SPARC's top-k patches overlap the word's object more (IoU)", t6),
        v("SPARC", "CLIP", "loc_any_token_finds_object",
          "some token of SPARC's caption finds each object more often (permutation-invariant)", t6),
        v("SPARC", "CLIP", "seg_miou", "zero-shot segmentation: SPARC > CLIP", "T6 27.36 vs 23.02 (VOC)"),
        v("SPARC", "CLIP", "i2t_r1", "retrieval R@1 (i2t): SPARC > CLIP", "T3 COCO 57.6 vs 56.2"),
        v("SPARC", "CLIP", "k_pna", "faithfulness (K-Pna analogue): SPARC > CLIP", "T4 78.72 vs 77.56"),
    ]
    if "SPARC softmax" in results[world]:
        claims += [
            v("SPARC", "SPARC softmax", "loc_pointing", "sparse weights beat softmax weights (pointing)",
              "T8: IN 72.6 vs 70.6, COCO i2t 57.6 vs 55.2"),
            v("SPARC", "SPARC sigma=0", "loc_pointing", "sparsity (sigma = 1/P) beats none (sigma = 0) (pointing)",
              "T8: IN 72.6 vs 72.1, COCO i2t 57.6 vs 56.1"),
        ]
    return claims


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0) -> SystemReport:
    return reproduce(out_dir, QUICK if quick else FULL, device, seed, quick=quick)


def run_folder(out: Path, world: str, variant: str, seed: int) -> Path:
    """Where one run lives: OUT/sparc/runs/<world>/<variant>-seed<s>."""
    return out / "runs" / world.replace(" ", "_") / f"{variant.replace(' ', '_').replace('=', '')}-seed{seed}"


def reproduce(out_dir: str | Path, budget: Budget, device: str = "cpu", seed: int = 0, quick: bool = False,
              progress: bool = True) -> SystemReport:
    """`run` with an explicit budget (the tests shrink it further than --quick)."""
    out = Path(out_dir) / "sparc"
    setups = worlds()
    seeds = list(range(seed, seed + budget.seeds))
    untrained_budget = replace(budget, steps=0, batch_size=0)
    jobs = [(w, name, cfg, s) for w, (base, _) in setups.items() for s in seeds
            for name, cfg in {UNTRAINED: base, **variants(base, w)}.items()]
    bar = tqdm(total=len(jobs) + 1, desc="sparc", dynamic_ncols=True, disable=not progress)
    results: dict[str, dict[str, list[dict]]] = {}
    folder_of = lambda w, name, s: run_folder(out, w, name, s)  # noqa: E731
    for world, name, cfg, s in jobs:
        bar.set_postfix_str(f"{world}: {name}, seed {s}")
        data = run_one(cfg, setups[world][1], s, untrained_budget if name == UNTRAINED else budget,
                       folder_of(world, name, s), device)
        results.setdefault(world, {}).setdefault(name, []).append(data)
        bar.update(1)

    bar.set_postfix_str("FLOPs and plots")
    base = setups["fixed captions"][0]
    flops = {name: step_flops(cfg, budget.flops_batch) for name, cfg in (("SPARC", base), ("CLIP", base.clip()))}
    plots = [bar_plot(results, out / "metrics.png"), loss_plot(results, out / "losses.png")]
    for world, (wbase, scene_config) in setups.items():
        models = {v: SparcModel.from_pretrained(folder_of(world, v, seed) / "model") for v in ("SPARC", "CLIP")}
        models[UNTRAINED] = initial_model(wbase, seed)
        plots.append(heatmap_plots(models, scene_config, out / f"heatmaps_{world.replace(' captions', '').replace(' ', '_')}.png"))
    bar.update(1)
    bar.close()

    claims = [c for world in results for c in world_claims(results, world)]
    ratio = flops["SPARC"] / flops["CLIP"]
    claims.append(Claim("SPARC costs about as much as CLIP (training-step FLOPs)", "T11: 9.19 / 9.14 TFLOPs = 1.005 at B=16k",
                        f"{ratio:.4f} at B={budget.flops_batch} (FlopCounterMode)", deterministic(ratio <= 1.05, "target <= 1.05")))

    setup = (
        f"Tiny configs (ViT 4x128, patch 8, P=36; text 3x128; d=64; `tiny` on fixed captions, `tiny-varied` "
        f"(70 words, 30 tokens) on varied ones), AdamW lr 1e-3, wd 0.1, 100 warm-up steps, cosine; "
        f"{budget.steps} steps at batch {budget.batch_size}, seeds {seeds}, {budget.eval_count} held-out scenes. "
        "lambda_g = 0.5, lambda_f = 1. Localisation is measured on s_lp = t_l . v_p, the similarity SPARC groups by. "
        "Baseline of every claim: the untrained model of each seed (the weights all variants of that seed start "
        "from), scored without training."
        + (" QUICK run: too short to read anything into." if quick else "")
    )
    tables = [metrics_table(results, w) for w in results]
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    return SystemReport("sparc", TITLE, "2401.09865", "paperzoo sparc reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(p) for p in plots], setup=setup, tables=tables, quick=quick)
