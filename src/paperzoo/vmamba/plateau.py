"""Why the hierarchical nano models stay on the global task's chance plateau (issue 21).

In the recorded world run, VMamba-nano left the "same-colour" plateau (loss ln 2, held-out
accuracy at the majority rate 0.509) on 2 of 3 seeds and Conv-nano on 1 of 3, while
ViT-nano solved the task on every seed. Before comparing the architectures, this study
changes one lever at a time, on both hierarchical models and 3 seeds each, at the world
budget (1,500 steps at batch 64), and counts the seeds that leave the plateau:

    recipe        the world recipe as it is (the control)
    warmup-500    500 warm-up steps instead of 100
    lr-3e-4       peak learning rate 3e-4 instead of 1e-3
    lr-3e-3       peak learning rate 3e-3
    smooth-0.1    label smoothing 0.1 (the paper's ImageNet recipe has it)
    stem-v1       the v1 stem (one 4x4 conv of stride 4 + LN) instead of two 3x3 stride-2 convs
    norm-bn       BatchNorm in place of every LayerNorm of the macro design (the official code's
                  norm_layer="bn"; SS2D's out_norm stays LN, as there)
    steps-3000    twice the steps (3,000): the escapes of the control came at steps 490-1,330, so
                  is the plateau a waiting time that a longer run outlasts?
    dt-small      SS2D's dt initialised in [1e-4, 1e-2] (longer memory) instead of [1e-3, 0.1]
                  (VMamba only: the Conv baseline has no dt)
    mlp-head      a GELU hidden layer between the pooling and the head: a diagnostic, not the
                  paper's head. With LN-pool-linear, "same colour?" must be decided before the
                  average pool: from a pooled sum of two colour codes a linear head cannot tell
                  "two of one colour" from "one each of two" (an XOR). If this lever alone
                  frees every seed, the plateau is the search for that interaction.

A run "leaves the plateau" when its held-out accuracy reaches ESCAPE (0.6: stuck runs score
0.48-0.51, escaped runs 0.76-1.0 in the record). Every run is a cached unit
(`reproduce.run_one`, `core.runcache`), shared with nothing else (its own folder).

    paperzoo vmamba plateau                        # every lever, 3 seeds (about 2.5 h on 2 cores, estimated)
    paperzoo vmamba plateau --lever recipe --lever mlp-head --seeds 3
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from paperzoo.core.errors import ConfigError  # noqa: E402
from paperzoo.core.report import save_figure  # noqa: E402
from paperzoo.core.verdict import spread  # noqa: E402
from paperzoo.vmamba.train import TrainConfig  # noqa: E402

TASK = "same-colour"
MODELS = ("vmamba-nano", "conv-nano")
ESCAPE = 0.6


@dataclass(frozen=True)
class Lever:
    name: str
    what: str
    train: dict = field(default_factory=dict)  # TrainConfig fields
    model: dict = field(default_factory=dict)  # VMambaConfig fields
    models: tuple[str, ...] = MODELS


LEVERS = {lever.name: lever for lever in (
    Lever("recipe", "the world recipe (AdamW 1e-3, 100 warm-up steps, cosine, batch 64, 1,500 steps)"),
    Lever("warmup-500", "500 warm-up steps instead of 100", train={"warmup_steps": 500}),
    Lever("lr-3e-4", "peak learning rate 3e-4 instead of 1e-3", train={"lr": 3e-4}),
    Lever("lr-3e-3", "peak learning rate 3e-3 instead of 1e-3", train={"lr": 3e-3}),
    Lever("smooth-0.1", "label smoothing 0.1", train={"label_smoothing": 0.1}),
    Lever("stem-v1", "the v1 stem (4x4 conv, stride 4, LN)", model={"patch_embed": "v1"}),
    Lever("norm-bn", "BatchNorm in place of LayerNorm (official norm_layer=\"bn\")", model={"norm": "bn"}),
    Lever("steps-3000", "3,000 steps instead of 1,500 (the same schedule, stretched)", train={"steps": 3000}),
    Lever("dt-small", "dt initialised in [1e-4, 1e-2] instead of [1e-3, 0.1]", model={"dt_range": (1e-4, 1e-2)},
          models=("vmamba-nano",)),
    Lever("mlp-head", "a GELU hidden layer (64) after the pool (diagnostic; not the paper's head)",
          model={"head_hidden": 64}),
)}


def run(out: str | Path, levers: tuple[str, ...] = tuple(LEVERS), seeds: int = 3, budget: TrainConfig | None = None,
        eval_count: int = 2000, device: str = "cpu") -> list[dict]:
    """One row per (lever, model): the per-seed held-out accuracies and the escapes."""
    from paperzoo.vmamba.reproduce import FULL, run_one

    unknown = [name for name in levers if name not in LEVERS]
    if unknown:
        raise ConfigError(f"--lever: unknown {', '.join(unknown)}; allowed: {', '.join(LEVERS)}")
    base = budget or FULL
    root = Path(out) / "vmamba" / "plateau"
    rows = []
    for name in levers:
        lever = LEVERS[name]
        tc = replace(base, **lever.train)
        for model in lever.models:
            runs = [run_one(model, TASK, seed, tc, root / name / f"{model}-seed{seed}", device, eval_count,
                            overrides=lever.model or None) for seed in range(seeds)]
            accs = [r["accuracy"] for r in runs]
            rows.append({"lever": name, "what": lever.what, "model": model, "accuracy": accs,
                         "escaped": sum(a >= ESCAPE for a in accs), "seeds": len(accs),
                         "loss": [[h["loss"] for h in r["history"]] for r in runs],
                         "steps": [h["step"] for h in runs[0]["history"]]})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| lever | what | model | left the plateau (acc >= 0.6) | held-out accuracy, mean ± SE (seeds) |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['lever']} | {r['what']} | {r['model']} | {r['escaped']} of {r['seeds']} | {spread(r['accuracy'])} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> Path:
    """Training loss of every run, one panel per lever, VMamba blue and Conv orange."""
    names = list(dict.fromkeys(r["lever"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.6), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        for r in (r for r in rows if r["lever"] == name):
            color = "C0" if r["model"] == "vmamba-nano" else "C1"
            for k, loss in enumerate(r["loss"]):
                ax.plot(r["steps"], loss, color=color, lw=0.8, label=r["model"] if k == 0 else None)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("training loss")
    axes[0][0].legend(fontsize=7)
    return save_figure(fig, path)
