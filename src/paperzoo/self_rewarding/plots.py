"""The reproduction's figure: instruction quality and judge accuracy across iterations."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from paperzoo.core.report import save_figure  # noqa: E402


def iteration_figure(chains: dict[str, list[list[dict]]], path: str | Path) -> Path:
    """Two panels over the iterations (x: the chain's models in order): test rubric q and
    the judge's pairwise accuracy on EFT eval. chains[label][seed] is a list of results
    (reproduce's per-model dicts) in chain order; thin lines are seeds, thick the mean."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    panels = (("quality", "q", "test rubric q (0-5, greedy)"), ("judge", "pairwise", "judge pairwise accuracy (EFT eval)"))
    for ax, (group, key, label) in zip(axes, panels):
        for k, (name, seeds) in enumerate(chains.items()):
            values = np.array([[r[group][key] for r in chain] for chain in seeds], dtype=float)
            x = np.arange(values.shape[1])
            for row in values:
                ax.plot(x, row, color=f"C{k}", lw=0.7, alpha=0.5)
            ax.plot(x, np.nanmean(values, axis=0), color=f"C{k}", lw=2, marker="o", label=name)
            ax.set_xticks(x, [r["name"].split("-")[-1] for r in seeds[0]])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Self-rewarding on the instruction world (thin: seeds; thick: mean)", fontsize=10)
    return save_figure(fig, path)
