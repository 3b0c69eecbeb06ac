"""The small-scale experiment for VMamba's claims (card §5), on scene-world tasks.

VMamba-nano, its Conv baseline (same macro design, 7x7 depthwise conv instead of SS2D) and
ViT-nano, about 1M parameters each, trained identically (AdamW 1e-3, wd 0.05, 100 warm-up
steps, cosine, batch 64, 1,500 steps), 3 seeds, scored on 2,000 held-out scenes:

- the global "same-colour" task (card's sign: VMamba > ViT and VMamba > Conv), then the
  same models tested at 96 and 128 px without fine-tuning (T9), their effective receptive
  fields against the untrained ones (Fig. 1, App. F), and FLOPs from 64 to 512 px (§5.3);
- the local "shape" task (card: roughly equal);
- the scan ablation of App. H.1: VMamba-nano with two routes ("bidi") and one ("unidi")
  on the global task, beside the four-route cross-scan (report only).

Every run goes through `paperzoo.core.runcache.cached_run` (keyed by the model's config, the
budget, the seed, the evaluation and the code), and every claim is decided by
`paperzoo.core.verdict` from the per-seed numbers; the baseline an accuracy must beat is
measured: the better of the untrained model's accuracy (same seed) and the majority-class
rate of the held-out scenes.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from paperzoo.core.report import Claim, SystemReport, save_figure  # noqa: E402
from paperzoo.core.runcache import cached_run  # noqa: E402
from paperzoo.core.seeding import seed_everything  # noqa: E402
from paperzoo.core.verdict import better, deterministic, equivalent, spread  # noqa: E402
from paperzoo.vmamba.config import registry  # noqa: E402
from paperzoo.vmamba.erf import erf_area, erf_figure, erf_map, erf_radius  # noqa: E402
from paperzoo.vmamba.flops import flops  # noqa: E402
from paperzoo.vmamba.tasks import num_classes, task_batch  # noqa: E402
from paperzoo.vmamba.train import MODELS, TrainConfig, accuracy, build, load_trained, train  # noqa: E402
from paperzoo.vmamba.vit import ViTConfig, vit_macs  # noqa: E402

SYSTEM = "vmamba"
TITLE = "VMamba: Visual State Space Model"
TEST_SIZES = (64, 96, 128)
FULL = TrainConfig(steps=1500, batch_size=64)  # card: 128; see the README (at 128 VMamba and Conv stayed at chance)
QUICK = TrainConfig(steps=60, batch_size=32, warmup_steps=6)
EVAL_COUNT, QUICK_EVAL_COUNT = 2000, 300
FULL_SEEDS, QUICK_SEEDS = 3, 1
ERF_IMAGES = 32
ABLATION = ("vmamba-nano", "vmamba-nano-bidi", "vmamba-nano-unidi")  # App. H.1: 4, 2 and 1 scan routes
ROUTES = {"vmamba-nano": "cross (4 routes)", "vmamba-nano-bidi": "bidi (2)", "vmamba-nano-unidi": "unidi (1)"}
# Minutes on 2 cores. full: estimated from the plateau study's run times with the fused scan
# (2026-12-07: about 6 CPU-minutes per VMamba-nano run at 1,500 steps, one thread; Conv and ViT
# 3-10): 24 runs, about 160 CPU-minutes, on 2 cores about 90 (the chunked scan's record took
# about 5 CPU-hours). quick: measured 2026-12-01, 2.4 CPU-minutes on one thread (5.3 min of wall
# time on a machine shared with five other jobs).
EXPECTED_MINUTES = {"full": 90, "quick": 3}


def model_config(model: str, task: str, overrides: dict | None = None) -> dict:
    """The full architecture of a run, for its cache key."""
    if model == "vit-nano":
        return asdict(replace(ViTConfig(image_size=64, num_classes=num_classes(task)), **(overrides or {})))
    return asdict(replace(registry.get(model), num_classes=num_classes(task), **(overrides or {})))


def run_one(model: str, task: str, seed: int, budget: TrainConfig, folder: Path, device: str = "cpu",
            eval_count: int = EVAL_COUNT, test_sizes: tuple[int, ...] = (), overrides: dict | None = None) -> dict:
    """Train and score one run in `folder`, once (core.runcache): held-out accuracy, and at
    `test_sizes` (px, no fine-tuning) on half as many scenes. `overrides` replace config fields."""
    settings = {"model": model, "architecture": model_config(model, task, overrides), "task": task, "seed": seed,
                "budget": asdict(budget), "eval_count": eval_count, "test_sizes": list(test_sizes),
                "data": "paperzoo.vmamba.tasks (world scenes), eval split seed 1234"}

    def fn(folder: Path) -> dict:
        net, history = train(model, task, folder, seed, device, budget, progress=False, resume=True,
                             checkpoint_every=max(1, budget.steps // 3), overrides=overrides)
        net = net.cpu()
        return {"model": model, "task": task, "seed": seed, "history": history,
                "accuracy": accuracy(net, task, n=eval_count),
                "by_size": {str(px): accuracy(net, task, n=eval_count // 2, image_size=px) for px in test_sizes},
                "parameters": sum(p.numel() for p in net.parameters())}

    return cached_run(folder, SYSTEM, settings, fn)


def baseline(model: str, task: str, seed: int, eval_count: int) -> float:
    """What a broken model gets: the better of the untrained model's held-out accuracy (built
    with this seed) and the majority-class rate of the held-out scenes."""
    seed_everything(seed)
    untrained = accuracy(build(model, num_classes(task)), task, n=eval_count)
    labels = torch.cat([task_batch(task, 1234, min(250, eval_count - s), start=s, split="eval").labels
                        for s in range(0, eval_count, 250)])
    return max(untrained, float(labels.bincount().max()) / len(labels))


def vit_flops(px: int) -> int:
    return vit_macs(ViTConfig(image_size=64, num_classes=2), px)


def accuracy_plot(results: dict, sizes: dict, path: Path, chance: float) -> Path:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    names = list(results)
    for k, name in enumerate(names):
        accs = [r["accuracy"] for r in results[name]]
        ax1.bar(k, np.mean(accs), color=f"C{k}")
        ax1.plot([k] * len(accs), accs, "k.")
        ax2.plot(TEST_SIZES, np.mean(sizes[name], 0), "o-", color=f"C{k}", label=name)
    ax1.set_xticks(range(len(names)), names)
    ax1.axhline(chance, color="grey", ls="--", lw=0.8, label="baseline (untrained / majority, measured)")
    ax1.set_ylabel("held-out accuracy")
    ax1.set_title("global task (same colour?), trained at 64 px")
    ax1.set_ylim(0.4, 1.0)
    ax2.set_xlabel("test resolution (px), no fine-tuning")
    ax2.set_title("accuracy vs test resolution (seed mean)")
    ax2.legend(fontsize=8)
    return save_figure(fig, path)


def loss_plot(results: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for k, (name, runs) in enumerate(results.items()):
        for r in runs:
            ax.plot([h["step"] for h in r["history"]], [h["loss"] for h in r["history"]], color=f"C{k}", lw=0.8,
                    label=name if r is runs[0] else None)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def bars_plot(groups: dict[str, dict], path: Path) -> Path:
    """One panel per experiment: seed-mean accuracy bars with the seeds as dots."""
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.4), squeeze=False)
    for ax, (title, results) in zip(axes[0], groups.items()):
        for k, (name, runs) in enumerate(results.items()):
            accs = [r["accuracy"] for r in runs]
            ax.bar(k, np.mean(accs), color=f"C{k}")
            ax.plot([k] * len(accs), accs, "k.")
        ax.set_xticks(range(len(results)), [ROUTES.get(n, n) for n in results], fontsize=8)
        ax.set_ylim(0.0, 1.0)
        ax.set_title(title)
        ax.set_ylabel("held-out accuracy")
    return save_figure(fig, path)


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0,
        progress: bool = True) -> SystemReport:
    out = Path(out_dir) / SYSTEM
    budget, eval_count = (QUICK, QUICK_EVAL_COUNT) if quick else (FULL, EVAL_COUNT)
    seeds = [seed + k for k in range(QUICK_SEEDS if quick else FULL_SEEDS)]
    jobs = ([("same-colour", m, TEST_SIZES) for m in MODELS] + [("shape", m, ()) for m in MODELS]
            + [("same-colour", m, ()) for m in ABLATION[1:]])
    folder = lambda task, m, s: out / "runs" / task / f"{m}-seed{s}"  # noqa: E731
    done: dict[tuple, dict] = {}
    with tqdm(total=len(jobs) * len(seeds) + len(seeds), desc=SYSTEM, unit="run", dynamic_ncols=True,
              disable=not progress) as bar:
        for s in seeds:
            for task, m, sizes in jobs:
                bar.set_postfix_str(f"{m} on {task}, seed {s}")
                done[task, m, s] = run_one(m, task, s, budget, folder(task, m, s), device, eval_count, sizes)
                bar.update(1)
        # baselines and effective receptive fields (trained vs initialised with the same seed), per seed
        base, erf, erf0 = {}, {}, {}
        for s in seeds:
            bar.set_postfix_str(f"baselines and ERFs, seed {s}")
            base["same-colour", s] = baseline("vmamba-nano", "same-colour", s, eval_count)
            base["shape", s] = baseline("vmamba-nano", "shape", s, eval_count)
            images = task_batch("same-colour", s, ERF_IMAGES, split="eval").images
            for m in MODELS:
                erf[m, s] = erf_map(load_trained(folder("same-colour", m, s)), images)
                seed_everything(s)
                erf0[m, s] = erf_map(build(m, 2), images)
            bar.update(1)

    results = {m: [done["same-colour", m, s] for s in seeds] for m in MODELS}
    local = {m: [done["shape", m, s] for s in seeds] for m in MODELS}
    ablation = {m: [done["same-colour", m, s] for s in seeds] for m in ABLATION}
    sizes = {m: [[r["by_size"][str(px)] for px in TEST_SIZES] for r in results[m]] for m in MODELS}
    base_g, base_l = [base["same-colour", s] for s in seeds], [base["shape", s] for s in seeds]
    plots = [accuracy_plot(results, sizes, out / "accuracy.png", float(np.mean(base_g))), loss_plot(results, out / "losses.png"),
             erf_figure({m: erf[m, seeds[0]] for m in MODELS}, out / "erf_trained.png",
                        f"Effective receptive fields, trained (seed {seeds[0]})"),
             erf_figure({m: erf0[m, seeds[0]] for m in MODELS}, out / "erf_init.png",
                        f"Effective receptive fields, at initialisation (seed {seeds[0]})"),
             bars_plot({"shape (local)": local, "scan ablation (global)": ablation}, out / "local_and_ablation.png")]

    acc = lambda runs: [r["accuracy"] for r in runs]  # noqa: E731  per-seed lists, paired by seed
    g, loc, abl = ({m: acc(v) for m, v in group.items()} for group in (results, local, ablation))
    drop = {m: [sz[0] - sz[-1] for sz in sizes[m]] for m in MODELS}
    radius = {m: [erf_radius(erf[m, s]) for s in seeds] for m in MODELS}
    radius0 = {m: [erf_radius(erf0[m, s]) for s in seeds] for m in MODELS}
    area = {m: [erf_area(erf[m, s]) for s in seeds] for m in MODELS}
    area0 = {m: [erf_area(erf0[m, s]) for s in seeds] for m in MODELS}
    f_vm = [flops("vmamba-nano", px) for px in (64, 128, 256, 512)]
    f_vit = [vit_flops(px) for px in (64, 128, 256)]
    vm_linear = abs(f_vm[3] / f_vm[2] - 4) < 0.1 and abs(f_vm[1] / f_vm[0] - 4) < 0.1
    base_note = f"baseline (untrained VMamba-nano or majority class, per seed): {spread(base_g)}"
    claims = [
        Claim("global task: VMamba > ViT (same budget, ~1M parameters)", "T1: VMamba-T 82.6 vs DeiT-S 79.8 (IN-1K)",
              f"{spread(g['vmamba-nano'])} vs {spread(g['vit-nano'])}",
              better(g["vmamba-nano"], g["vit-nano"], baseline=base_g), base_note),
        Claim("global task: VMamba > Conv (same macro design, DWConv 7x7 mixer)", "T1: VMamba-T 82.6 vs ConvNeXt-T 82.1",
              f"{spread(g['vmamba-nano'])} vs {spread(g['conv-nano'])}",
              better(g["vmamba-nano"], g["conv-nano"], baseline=base_g), base_note),
        Claim("local task (shape): VMamba and Conv roughly equal (within 0.05)", "card §5: a sanity task, no paper figure",
              f"{spread(loc['vmamba-nano'])} vs {spread(loc['conv-nano'])}",
              equivalent(loc["vmamba-nano"], loc["conv-nano"], tolerance=0.05),
              f"baseline {spread(base_l)}"),
        Claim("local task (shape): VMamba and ViT roughly equal (within 0.05)", "card §5: a sanity task, no paper figure",
              f"{spread(loc['vmamba-nano'])} vs {spread(loc['vit-nano'])}",
              equivalent(loc["vmamba-nano"], loc["vit-nano"], tolerance=0.05)),
        Claim("scan ablation: cross > bidi (report only)", "H.1: 82.60 vs 82.49 (IN-1K, with DWConv)",
              f"{spread(abl['vmamba-nano'])} vs {spread(abl['vmamba-nano-bidi'])}",
              better(abl["vmamba-nano"], abl["vmamba-nano-bidi"], baseline=base_g)),
        Claim("scan ablation: bidi > unidi (report only)", "H.1: 82.49 vs 82.26 (IN-1K, with DWConv)",
              f"{spread(abl['vmamba-nano-bidi'])} vs {spread(abl['vmamba-nano-unidi'])}",
              better(abl["vmamba-nano-bidi"], abl["vmamba-nano-unidi"], baseline=base_g)),
        Claim("larger test images: VMamba loses less accuracy than ViT", "T9: 82.60 -> 74.66 vs DeiT-S 80.69 -> 60.98 (224 -> 768)",
              f"drop 64 -> 128 px: {spread(drop['vmamba-nano'])} vs {spread(drop['vit-nano'])}",
              better(drop["vmamba-nano"], drop["vit-nano"], higher_is_better=False),
              "an untrained model drops nothing; read with the global-task accuracies"),
        Claim("FLOPs grow linearly with pixels (VMamba), faster for the ViT", "§5.3 / T9: linear complexity",
              f"VMamba x{f_vm[1] / f_vm[0]:.2f}, x{f_vm[3] / f_vm[2]:.2f} per 4x pixels; ViT x{f_vit[1] / f_vit[0]:.2f}, "
              f"x{f_vit[2] / f_vit[1]:.2f}", deterministic(vm_linear and f_vit[2] / f_vit[1] > f_vm[3] / f_vm[2])),
        Claim("trained VMamba's ERF is wider than the Conv baseline's (half-mass radius)", "Fig. 1 / App. F: global ERF after training",
              f"radius {spread(radius['vmamba-nano'])} vs {spread(radius['conv-nano'])} (ViT {spread(radius['vit-nano'])})",
              better(radius["vmamba-nano"], radius["conv-nano"]),
              f"card's area > 1% of max: {spread(area['vmamba-nano'])} vs {spread(area['conv-nano'])}"),
        Claim("VMamba's ERF grows with training (half-mass radius)", "App. F: local at initialisation, global after training",
              f"radius {spread(radius0['vmamba-nano'])} at init -> {spread(radius['vmamba-nano'])} trained",
              better(radius["vmamba-nano"], radius0["vmamba-nano"]),
              f"area > 1%: {spread(area0['vmamba-nano'])} -> {spread(area['vmamba-nano'])}"),
    ]
    setup = (f"VMamba-nano (C 24, depths 1,1,3,1, N 1, ratio 1, MLP 4), Conv-nano (SS2D -> DWConv 7x7) and ViT-nano "
             f"(patch 8, width 128, depth 5), ~1M parameters each; global 'same-colour' and local 'shape' tasks on 64 px "
             f"scenes; the scan ablation trains VMamba-nano with 2 and 1 routes on the global task. AdamW "
             f"{budget.lr}, wd {budget.weight_decay}, {budget.warmup_steps} warm-up steps, cosine, {budget.steps} steps at "
             f"batch {budget.batch_size}; seeds {seeds}; {eval_count} held-out scenes. Numbers are seed mean ± SE (seeds).")
    table = ["| model | parameters | global accuracy (seeds) | " + " | ".join(f"{px} px" for px in TEST_SIZES)
             + " | local accuracy (seeds) | ERF radius trained / init | ERF area trained / init |",
             "| --- | --- | --- |" + " --- |" * len(TEST_SIZES) + " --- | --- | --- |"]
    for m in MODELS:
        table.append(f"| {m} | {results[m][0]['parameters']:,} | {spread(g[m])} | "
                     + " | ".join(f"{v:.3f}" for v in np.mean(sizes[m], 0))
                     + f" | {spread(loc[m])} | {np.mean(radius[m]):.3f} / {np.mean(radius0[m]):.3f} | "
                     f"{np.mean(area[m]):.3f} / {np.mean(area0[m]):.3f} |")
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    return SystemReport(SYSTEM, TITLE, "2401.10166", "paperzoo vmamba reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(p) for p in plots], setup=setup, tables=["\n".join(table)], quick=quick)
