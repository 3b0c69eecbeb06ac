"""The small-scale experiment for VMamba's claims (card §5), on scene-world tasks.

VMamba-nano, its Conv baseline (same macro design, 7x7 depthwise conv instead of SS2D) and
ViT-nano, about 1M parameters each, trained identically (AdamW 1e-3, wd 0.05, 100 warm-up
steps, cosine, batch 64, 1,500 steps), 2 seeds, scored on 2,000 held-out scenes:

- the global "same-colour" task (card's sign: VMamba > ViT and VMamba > Conv), then the
  same models tested at 96 and 128 px without fine-tuning (T9), their effective receptive
  fields against the untrained ones (Fig. 1, App. F), and FLOPs from 64 to 512 px (§5.3);
- the local "shape" task (card: roughly equal);
- the scan ablation of App. H.1: VMamba-nano with two routes ("bidi") and one ("unidi")
  on the global task, beside the four-route cross-scan (report only).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from paperzoo.core.atomic import atomic_path  # noqa: E402
from paperzoo.core.report import Claim, SystemReport, save_figure  # noqa: E402
from paperzoo.vmamba.erf import erf_area, erf_figure, erf_map, erf_radius  # noqa: E402
from paperzoo.vmamba.flops import flops  # noqa: E402
from paperzoo.vmamba.model import VMamba  # noqa: E402
from paperzoo.vmamba.tasks import task_batch  # noqa: E402
from paperzoo.vmamba.train import MODELS, TrainConfig, accuracy, build, train  # noqa: E402
from paperzoo.vmamba.vit import ViT, ViTConfig, vit_macs  # noqa: E402

TITLE = "VMamba: Visual State Space Model"
QUICK = TrainConfig(steps=60, batch_size=32, warmup_steps=6)
TEST_SIZES = (64, 96, 128)

FULL = TrainConfig(steps=1500, batch_size=64)  # card: 128; see the README (at 128 VMamba and Conv stayed at chance)
EVAL_COUNT = 2000
ABLATION = ("vmamba-nano", "vmamba-nano-bidi", "vmamba-nano-unidi")  # App. H.1: 4, 2 and 1 scan routes
ROUTES = {"vmamba-nano": "cross (4 routes)", "vmamba-nano-bidi": "bidi (2)", "vmamba-nano-unidi": "unidi (1)"}


def run_one(model: str, task: str, seed: int, budget: TrainConfig, folder: Path, device: str = "cpu",
            eval_count: int = EVAL_COUNT) -> dict:
    """Train (cached in folder/model + result.json, keyed by every setting) and score one run."""
    key = hashlib.sha256(json.dumps([model, task, seed, asdict(budget), eval_count], sort_keys=True).encode()).hexdigest()[:16]
    result_path = folder / "result.json"
    if result_path.is_file():
        cached = json.loads(result_path.read_text())
        if cached.get("key") == key:
            return cached
    start = time.perf_counter()
    net, history = train(model, task, folder, seed, device, budget, progress=False)
    result = {"key": key, "model": model, "task": task, "seed": seed, "history": history,
              "train_seconds": time.perf_counter() - start, "accuracy": accuracy(net.cpu(), task, n=eval_count),
              "parameters": sum(p.numel() for p in net.parameters())}
    with atomic_path(result_path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    return result


def load_trained(folder: Path, model: str):
    return (ViT if model == "vit-nano" else VMamba).from_pretrained(folder / "model")


def vit_flops(px: int) -> int:
    return vit_macs(ViTConfig(image_size=64, num_classes=2), px)


def accuracy_plot(results: dict, sizes: dict, path: Path) -> Path:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    names = list(results)
    for k, name in enumerate(names):
        accs = [r["accuracy"] for r in results[name]]
        ax1.bar(k, np.mean(accs), color=f"C{k}")
        ax1.plot([k] * len(accs), accs, "k.")
        ax2.plot(TEST_SIZES, np.mean(sizes[name], 0), "o-", color=f"C{k}", label=name)
    ax1.set_xticks(range(len(names)), names)
    ax1.axhline(0.5, color="grey", ls="--", lw=0.8, label="chance")
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


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0) -> SystemReport:
    out = Path(out_dir) / "vmamba"
    budget, seeds = (QUICK, (seed,)) if quick else (FULL, (seed, seed + 1))
    eval_count = 300 if quick else EVAL_COUNT

    def runs(task: str, models) -> tuple[dict, dict]:
        folders = {m: [out / "runs" / task / f"{m}-seed{s}" for s in seeds] for m in models}
        return folders, {m: [run_one(m, task, s, budget, f, device, eval_count) for s, f in zip(seeds, folders[m])]
                         for m in models}

    folders, results = runs("same-colour", MODELS)
    _, local = runs("shape", MODELS)
    _, ablation = runs("same-colour", ABLATION[1:])
    ablation = {"vmamba-nano": results["vmamba-nano"], **ablation}
    # test at other resolutions without fine-tuning (objects scale with the image)
    sizes = {m: [[accuracy(load_trained(f, m), "same-colour", n=eval_count // 2, image_size=px) for px in TEST_SIZES]
                 for f in folders[m]] for m in MODELS}
    # effective receptive fields, trained (seed 0) vs initialised
    images = task_batch("same-colour", seed, 32, split="eval").images
    torch.manual_seed(seed)
    trained = {m: erf_map(load_trained(folders[m][0], m), images) for m in MODELS}
    init = {m: erf_map(build(m, 2), images) for m in MODELS}
    area, area0 = ({m: erf_area(v) for m, v in maps.items()} for maps in (trained, init))
    radius, radius0 = ({m: erf_radius(v) for m, v in maps.items()} for maps in (trained, init))
    plots = [accuracy_plot(results, sizes, out / "accuracy.png"), loss_plot(results, out / "losses.png"),
             erf_figure(trained, out / "erf_trained.png", "Effective receptive fields, trained"),
             erf_figure(init, out / "erf_init.png", "Effective receptive fields, at initialisation"),
             bars_plot({"shape (local)": local, "scan ablation (global)": ablation}, out / "local_and_ablation.png")]

    mean = lambda rs: float(np.mean([r["accuracy"] for r in rs]))  # noqa: E731
    seeds_of = lambda rs: ", ".join(f"{r['accuracy']:.3f}" for r in rs)  # noqa: E731
    acc, per_seed = {m: mean(results[m]) for m in MODELS}, {m: seeds_of(results[m]) for m in MODELS}
    loc = {m: mean(local[m]) for m in MODELS}
    abl = {m: mean(ablation[m]) for m in ABLATION}
    drop = {m: float(np.mean([s[0] - s[-1] for s in sizes[m]])) for m in MODELS}
    f_vm = [flops("vmamba-nano", px) for px in (64, 128, 256, 512)]
    f_vit = [vit_flops(px) for px in (64, 128, 256)]
    claims = [
        Claim("global task: VMamba > ViT (same budget, ~1M parameters)", "T1: VMamba-T 82.6 vs DeiT-S 79.8 (IN-1K)",
              f"{acc['vmamba-nano']:.3f} ({per_seed['vmamba-nano']}) vs {acc['vit-nano']:.3f} ({per_seed['vit-nano']})",
              acc["vmamba-nano"] > acc["vit-nano"]),
        Claim("global task: VMamba > Conv (same macro design, DWConv 7x7 mixer)", "T1: VMamba-T 82.6 vs ConvNeXt-T 82.1",
              f"{acc['vmamba-nano']:.3f} vs {acc['conv-nano']:.3f} ({per_seed['conv-nano']})",
              acc["vmamba-nano"] > acc["conv-nano"]),
        Claim("local task (shape): the three are roughly equal (within 0.05)", "card §5: a sanity task, no paper figure",
              ", ".join(f"{m} {loc[m]:.3f} ({seeds_of(local[m])})" for m in MODELS),
              max(loc.values()) - min(loc.values()) <= 0.05),
        Claim("scan ablation: cross >= bidi >= unidi (report only)", "H.1: 82.60 / 82.49 / 82.26 (IN-1K, with DWConv)",
              ", ".join(f"{ROUTES[m]} {abl[m]:.3f} ({seeds_of(ablation[m])})" for m in ABLATION),
              abl["vmamba-nano"] >= abl["vmamba-nano-bidi"] >= abl["vmamba-nano-unidi"]),
        Claim("larger test images: VMamba loses less accuracy than ViT", "T9: 82.60 -> 74.66 vs DeiT-S 80.69 -> 60.98 (224 -> 768)",
              f"64 -> 128 px: {drop['vmamba-nano']:+.3f} vs {drop['vit-nano']:+.3f} drop",
              drop["vmamba-nano"] < drop["vit-nano"]),
        Claim("FLOPs grow linearly with pixels (VMamba), faster for the ViT", "§5.3 / T9: linear complexity",
              f"VMamba x{f_vm[1] / f_vm[0]:.2f}, x{f_vm[3] / f_vm[2]:.2f} per 4x pixels; ViT x{f_vit[1] / f_vit[0]:.2f}, "
              f"x{f_vit[2] / f_vit[1]:.2f}", abs(f_vm[3] / f_vm[2] - 4) < 0.1 and f_vit[2] / f_vit[1] > f_vm[3] / f_vm[2]),
        Claim("trained VMamba's ERF is wider than the Conv baseline's (half-mass radius)", "Fig. 1 / App. F: global ERF after training",
              f"radius {radius['vmamba-nano']:.3f} vs {radius['conv-nano']:.3f} (ViT {radius['vit-nano']:.3f}); card's "
              f"area > 1%: {area['vmamba-nano']:.3f} vs {area['conv-nano']:.3f}", radius["vmamba-nano"] > radius["conv-nano"]),
        Claim("VMamba's ERF grows with training (half-mass radius)", "App. F: local at initialisation, global after training",
              f"radius {radius0['vmamba-nano']:.3f} at init -> {radius['vmamba-nano']:.3f} trained; area > 1%: "
              f"{area0['vmamba-nano']:.3f} -> {area['vmamba-nano']:.3f}", radius["vmamba-nano"] > radius0["vmamba-nano"]),
    ]
    setup = (f"VMamba-nano (C 24, depths 1,1,3,1, N 1, ratio 1, MLP 4), Conv-nano (SS2D -> DWConv 7x7) and ViT-nano "
             f"(patch 8, width 128, depth 5), ~1M parameters each; global 'same-colour' and local 'shape' tasks on 64 px "
             f"scenes; the scan ablation trains VMamba-nano with 2 and 1 routes on the global task. AdamW "
             f"{budget.lr}, wd {budget.weight_decay}, {budget.warmup_steps} warm-up steps, cosine, {budget.steps} steps at "
             f"batch {budget.batch_size}; seeds {list(seeds)}; {eval_count} held-out scenes."
             + (" QUICK run: too short to read anything into." if quick else ""))
    table = ["| model | parameters | global accuracy (seeds) | " + " | ".join(f"{px} px" for px in TEST_SIZES)
             + " | local accuracy | ERF radius trained / init | ERF area trained / init |",
             "| --- | --- | --- |" + " --- |" * len(TEST_SIZES) + " --- | --- | --- |"]
    for m in MODELS:
        table.append(f"| {m} | {results[m][0]['parameters']:,} | {acc[m]:.3f} ({per_seed[m]}) | "
                     + " | ".join(f"{v:.3f}" for v in np.mean(sizes[m], 0))
                     + f" | {loc[m]:.3f} | {radius[m]:.3f} / {radius0[m]:.3f} | {area[m]:.3f} / {area0[m]:.3f} |")
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    return SystemReport("vmamba", TITLE, "2401.10166", "paperzoo vmamba reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(p) for p in plots], setup=setup, tables=["\n".join(table)])
