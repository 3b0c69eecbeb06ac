"""The small-scale experiment for SPARC's headline claims (card §5), on the scene world.

The same tiny dual encoder is trained on the same seeded scene stream with SPARC
(lambda_f = 1), CLIP (lambda_f = 0, same architecture including h_v) and the two Table 8
ablations: softmax weights (App. A) and no sparsity (sigma = 0). Each runs with 2 seeds
and is scored on 1,000 held-out scenes (evaluate.py). Claims compare seed means; every
number in the report comes from these runs.

Three worlds are run. "full captions" is the card's plan: each object is named by size,
colour and shape ("a large red circle left of a small blue square"). "shape captions"
names each object by one word ("a circle left of a square"), so that no two words of a
caption describe the same patches; there SPARC is also run with stop words left out of
L_f (the card's §10 option). "named background" adds a named background tone ("... on
grey"), so that the empty canvas is no longer an unnamed free region (SPARC and CLIP
only). No world reproduces the localisation claim on both seeds; the README explains what
the runs show.
"""

import hashlib
import json
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
from paperzoo.sparc.config import SparcConfig, config  # noqa: E402
from paperzoo.sparc.data import WorldData  # noqa: E402
from paperzoo.sparc.demo import heatmap_figure  # noqa: E402
from paperzoo.sparc.evaluate import EVAL_SEED, EVAL_VERSION, evaluate  # noqa: E402
from paperzoo.sparc.model import SparcModel  # noqa: E402
from paperzoo.sparc.train import train, world_scene_config  # noqa: E402
from paperzoo.world.scenes import BACKGROUNDS, WORD_TO_ID, SceneConfig, load_scenes  # noqa: E402

TITLE = "SPARC: fine-grained image-text pre-training"


def variants(base: SparcConfig, world: str) -> dict[str, SparcConfig]:
    """The paper's objectives; on one-word captions also SPARC with stop words out of L_f."""
    out = {
        "SPARC": base,
        "CLIP": base.clip(),
        "SPARC softmax": replace(base, weighting="softmax"),
        "SPARC sigma=0": replace(base, sigma=0.0),
    }
    if world == "shape captions":
        out["SPARC no stop words"] = replace(base, fine_ignore_ids=tuple(WORD_TO_ID[w] for w in ("a", "of", "and")))
    if world == "named background":  # a test of one explanation: SPARC against CLIP only
        out = {k: out[k] for k in ("SPARC", "CLIP")}
    return out


def worlds(base: SparcConfig) -> dict[str, SceneConfig]:
    full = world_scene_config(base)
    shape = replace(full, caption_words=("shape",))
    return {"full captions": full, "shape captions": shape,
            "named background": replace(shape, backgrounds=tuple(BACKGROUNDS))}


@dataclass(frozen=True)
class Budget:
    steps: int
    batch_size: int
    seeds: int
    eval_count: int


FULL = Budget(steps=800, batch_size=64, seeds=2, eval_count=1000)
QUICK = Budget(steps=150, batch_size=64, seeds=1, eval_count=300)


ADDED_LATER = ("fine_ignore_ids",)  # SparcConfig options
SCENE_ADDED_LATER = ("backgrounds",)  # SceneConfig options


def run_one(model_config: SparcConfig, scene_config: SceneConfig, seed: int, budget: Budget, folder: Path, device: str) -> dict:
    """Train one variant (cached in `folder/model` + `train.json`, keyed by every training
    setting) and evaluate it (cached in `metrics.json`, keyed also by EVAL_VERSION)."""
    settings = asdict(model_config)
    # Options added later whose default keeps the earlier behaviour stay out of the key at
    # that default, so adding them does not invalidate runs already trained.
    for name in ADDED_LATER:
        if settings[name] == getattr(SparcConfig(), name):
            del settings[name]
    world = asdict(scene_config)
    for name in SCENE_ADDED_LATER:
        if world[name] == getattr(SceneConfig(), name):
            del world[name]
    train_key = hashlib.sha256(json.dumps(
        [settings, world, seed, budget.steps, budget.batch_size], sort_keys=True
    ).encode()).hexdigest()[:16]
    trained, evaluated = folder / "train.json", folder / "metrics.json"
    run = json.loads(trained.read_text()) if trained.is_file() else {}
    if run.get("key") != train_key or not (folder / "model").is_dir():
        start = time.perf_counter()
        _, history = train(model_config, "tiny", out_dir=folder, seed=seed, device=device, progress=False,
                           scene_config=scene_config, steps=budget.steps, batch_size=budget.batch_size)
        run = {"key": train_key, "history": history, "train_seconds": time.perf_counter() - start}
        with atomic_path(trained) as tmp:
            tmp.write_text(json.dumps(run, indent=1))
    eval_key = f"{train_key}-v{EVAL_VERSION}-n{budget.eval_count}"
    scores = json.loads(evaluated.read_text()) if evaluated.is_file() else {}
    if scores.get("key") != eval_key:
        model = SparcModel.from_pretrained(folder / "model")
        eval_set = load_scenes(scene_config, EVAL_SEED, budget.eval_count, split="eval")
        scores = {"key": eval_key, "metrics": evaluate(model, eval_set, scene_config, seed=seed)}
        with atomic_path(evaluated) as tmp:
            tmp.write_text(json.dumps(scores, indent=1))
    return {**run, "metrics": scores["metrics"]}


def step_flops(model_config: SparcConfig, batch_size: int = 128) -> int:
    """FLOPs of one training step (forward + backward) on a tiny-world batch."""
    torch.manual_seed(0)
    model = SparcModel(model_config)
    batch = WorldData(world_scene_config(model_config), 0, batch_size, model_config.text.context_length)(0)
    with FlopCounterMode(display=False) as counter:
        model.loss(batch["images"], batch["token_ids"], batch["token_mask"])["loss"].backward()
    return counter.get_total_flops()


def mean(results: dict, world: str, variant: str, metric: str) -> float:
    return float(np.mean([r["metrics"][metric] for r in results[world][variant]]))


def seeds_text(results: dict, world: str, variant: str, metric: str) -> str:
    values = [r["metrics"][metric] for r in results[world][variant]]
    return f"{np.mean(values):.3f}" + (f" ({', '.join(f'{v:.3f}' for v in values)})" if len(values) > 1 else "")


METRICS = {
    "loc_pointing": "token->patch pointing",
    "loc_pointing_size": "pointing, size words",
    "loc_pointing_colour": "pointing, colour words",
    "loc_pointing_shape": "pointing, shape words",
    "loc_pointing_background": "pointing, the background's name (on a free patch)",
    "loc_iou": "token->patch IoU",
    "seg_miou": "zero-shot seg. mIoU",
    "i2t_r1": "i2t R@1",
    "t2i_r1": "t2i R@1",
    "k_pna": "K-Pna analogue",
    "comp_replace_att": "replace-att",
    "comp_swap_att": "swap-att",
    "comp_swap_rel": "swap-rel",
}


def metrics_table(results: dict, world: str) -> str:
    names = list(results[world])
    lines = [f"**{world}** (seed mean, per-seed values in brackets; pointing chance "
             f"{mean(results, world, 'CLIP', 'loc_pointing_chance'):.3f})", "",
             "| metric | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for key, label in METRICS.items():
        if key in results[world]["SPARC"][0]["metrics"]:
            lines.append(f"| {label} | " + " | ".join(seeds_text(results, world, v, key) for v in names) + " |")
    return "\n".join(lines)


def bar_plot(results: dict, path: Path) -> Path:
    keys = ["loc_pointing", "loc_iou", "seg_miou", "i2t_r1", "k_pna", "comp_swap_rel"]
    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 3.6), squeeze=False)
    for ax, (world, by_variant) in zip(axes[0], results.items()):
        names = list(by_variant)
        width = 0.8 / len(names)
        x = np.arange(len(keys))
        for k, name in enumerate(names):
            vals = np.array([[r["metrics"].get(m, np.nan) for m in keys] for r in by_variant[name]])
            ax.bar(x + k * width, np.nanmean(vals, 0), width, label=name)
            for row in vals:
                ax.plot(x + k * width, row, "k.", ms=3)
        chance = mean(results, world, "CLIP", "loc_pointing_chance")
        ax.hlines(chance, -0.1, 0.9, colors="grey", linestyles="dashed", label="pointing chance")
        ax.set_xticks(x + 0.4 - width / 2, [METRICS[m] for m in keys], rotation=20, fontsize=8)
        ax.set_title(world)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("SPARC vs CLIP and ablations on held-out scenes (dots: seeds)")
    return save_figure(fig, path)


def loss_plot(results: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.2), squeeze=False)
    for ax, (world, by_variant) in zip(axes[0], results.items()):
        for name, runs in by_variant.items():
            steps = [h["step"] for h in runs[0]["history"]]
            ax.plot(steps, [h["global"] for h in runs[0]["history"]], label=f"{name}: L_g")
            if name != "CLIP":
                ax.plot(steps, [h["fine"] for h in runs[0]["history"]], "--", label=f"{name}: L_f")
        ax.set_xlabel("step")
        ax.set_title(f"training losses, {world} (seed 0)")
        ax.set_yscale("log")
        ax.legend(fontsize=6)
    return save_figure(fig, path)


def heatmap_plots(folders: dict[str, Path], scene_config: SceneConfig, path: Path, count: int = 2) -> Path:
    """Token -> patch weights of SPARC and CLIP on the same held-out scenes, stacked as one PNG."""
    from PIL import Image

    scenes = load_scenes(scene_config, EVAL_SEED, 16, split="eval")
    picks = [i for i in range(len(scenes)) if scenes.n_objects[i] >= 2][:count]
    rows = []
    for name, folder in folders.items():
        model = SparcModel.from_pretrained(folder / "model")
        for i in picks:
            fig = heatmap_figure(model, scenes.images[i], scenes.captions[i].split(), scenes.token_ids[i], scenes.token_mask[i])
            fig.suptitle(f"{name}: {scenes.captions[i]}", fontsize=9)
            tmp = path.with_name(f".{name}-{i}.png")
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


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0) -> SystemReport:
    out = Path(out_dir) / "sparc"
    budget = QUICK if quick else FULL
    base = config("tiny")
    results: dict[str, dict[str, list[dict]]] = {}
    jobs = [(w, v, s) for w in worlds(base) for v in variants(base, w) for s in range(seed, seed + budget.seeds)]
    for world, variant, s in tqdm(jobs, desc="sparc reproduce", dynamic_ncols=True):
        folder = out / "runs" / world.replace(" ", "_") / f"{variant.replace(' ', '_').replace('=', '')}-seed{s}"
        data = run_one(variants(base, world)[variant], worlds(base)[world], s, budget, folder, device)
        results.setdefault(world, {}).setdefault(variant, []).append(data)

    flops = {name: step_flops(cfg) for name, cfg in (("SPARC", base), ("CLIP", base.clip()))}
    plots = [
        bar_plot(results, out / "metrics.png"),
        loss_plot(results, out / "losses.png"),
        heatmap_plots({v: out / "runs" / "full_captions" / f"{v}-seed{seed}" for v in ("SPARC", "CLIP")},
                      worlds(base)["full captions"], out / "heatmaps_full.png"),
        heatmap_plots({v: out / "runs" / "shape_captions" / f"{v}-seed{seed}" for v in ("SPARC", "CLIP")},
                      worlds(base)["shape captions"], out / "heatmaps_shape.png"),
        heatmap_plots({v: out / "runs" / "named_background" / f"{v}-seed{seed}" for v in ("SPARC", "CLIP")},
                      worlds(base)["named background"], out / "heatmaps_background.png"),
    ]

    claims = []
    for world in results:
        m = lambda v, k: mean(results, world, v, k)  # noqa: E731
        chance = m("CLIP", "loc_pointing_chance")
        tag = f"[{world}] "
        claims += [
            Claim(tag + "SPARC localises tokens better than CLIP (pointing) and than chance",
                  "T6 VOC mIoU 27.36 vs 23.02 (localisation via segmentation)",
                  f"{m('SPARC', 'loc_pointing'):.3f} vs CLIP {m('CLIP', 'loc_pointing'):.3f}, chance {chance:.3f}",
                  m("SPARC", "loc_pointing") > m("CLIP", "loc_pointing") and m("SPARC", "loc_pointing") > chance),
            Claim(tag + "SPARC token->patch IoU > CLIP", "(no direct figure; T6)",
                  f"{m('SPARC', 'loc_iou'):.3f} vs {m('CLIP', 'loc_iou'):.3f}", m("SPARC", "loc_iou") > m("CLIP", "loc_iou")),
            Claim(tag + "zero-shot segmentation: SPARC > CLIP", "T6 27.36 vs 23.02 (VOC)",
                  f"{m('SPARC', 'seg_miou'):.3f} vs {m('CLIP', 'seg_miou'):.3f}", m("SPARC", "seg_miou") > m("CLIP", "seg_miou")),
            Claim(tag + "retrieval R@1 (i2t): SPARC >= CLIP", "T3 COCO 57.6 vs 56.2",
                  f"{m('SPARC', 'i2t_r1'):.3f} vs {m('CLIP', 'i2t_r1'):.3f}", m("SPARC", "i2t_r1") >= m("CLIP", "i2t_r1"),
                  note="captions repeat in this world, so retrieval is near chance for every model"
                  if world != "full captions" else ""),
            Claim(tag + "faithfulness (K-Pna analogue): SPARC >= CLIP", "T4 78.72 vs 77.56",
                  f"{m('SPARC', 'k_pna'):.3f} vs {m('CLIP', 'k_pna'):.3f}", m("SPARC", "k_pna") >= m("CLIP", "k_pna")),
        ]
        if "SPARC softmax" not in results[world]:
            continue
        claims += [
            Claim(tag + "softmax weights are worse than sparse (pointing)", "T8: IN 70.6 vs 72.6, COCO i2t 55.2 vs 57.6",
                  f"{m('SPARC softmax', 'loc_pointing'):.3f} vs {m('SPARC', 'loc_pointing'):.3f}",
                  m("SPARC softmax", "loc_pointing") < m("SPARC", "loc_pointing")),
            Claim(tag + "no sparsity (sigma=0) is no better than SPARC (pointing)", "T8: IN 72.1 vs 72.6",
                  f"{m('SPARC sigma=0', 'loc_pointing'):.3f} vs {m('SPARC', 'loc_pointing'):.3f}",
                  m("SPARC sigma=0", "loc_pointing") <= m("SPARC", "loc_pointing")),
        ]
    if "SPARC no stop words" in results.get("shape captions", {}):
        m = lambda v, k: mean(results, "shape captions", v, k)  # noqa: E731
        claims.append(Claim(
            "[shape captions] card §10 option: stop words out of L_f localise better than CLIP",
            "(not in the paper; it keeps every token)",
            f"{m('SPARC no stop words', 'loc_pointing'):.3f} vs CLIP {m('CLIP', 'loc_pointing'):.3f}",
            m("SPARC no stop words", "loc_pointing") > m("CLIP", "loc_pointing")))
    ratio = flops["SPARC"] / flops["CLIP"]
    claims.append(Claim("SPARC costs about as much as CLIP (training-step FLOPs)", "T11: 9.19 / 9.14 TFLOPs = 1.005 at B=16k",
                        f"{ratio:.4f} at B=128 (FlopCounterMode)", ratio <= 1.05))

    setup = (
        f"Tiny config (ViT 4x128, patch 8, P=36; text 3x128; d=64), AdamW lr 1e-3, wd 0.1, 100 warm-up steps, cosine; "
        f"{budget.steps} steps at batch {budget.batch_size}, seeds {list(range(seed, seed + budget.seeds))}, "
        f"{budget.eval_count} held-out scenes. lambda_g = 0.5, lambda_f = 1."
        + (" QUICK run: too short to read anything into." if quick else "")
    )
    tables = [metrics_table(results, w) for w in results]
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    return SystemReport("sparc", TITLE, "2401.09865", "paperzoo sparc reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(p) for p in plots], setup=setup, tables=tables)
