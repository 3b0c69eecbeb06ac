"""Figures: mel-spectrograms side by side, training curves, metric bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from paperzoo.core.report import save_figure  # noqa: E402


def mel_figure(mels: dict[str, np.ndarray], path: str | Path, hop_seconds: float = 256 / 22050) -> Path:
    """One panel per log-mel [80, frames], shared colour scale, time in seconds."""
    fig, axes = plt.subplots(len(mels), 1, figsize=(8, 2.2 * len(mels)), sharex=True, squeeze=False)
    lo = min(float(m.min()) for m in mels.values())
    hi = max(float(m.max()) for m in mels.values())
    for ax, (title, mel) in zip(axes[:, 0], mels.items()):
        im = ax.imshow(mel, origin="lower", aspect="auto", vmin=lo, vmax=hi, cmap="magma",
                       extent=(0, mel.shape[1] * hop_seconds, 0, mel.shape[0]))
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel bin")
    axes[-1, 0].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes[:, 0].tolist(), label="log-mel", fraction=0.03)
    return save_figure(fig, path)


def loss_figure(histories: dict[str, list[list[dict]]], path: str | Path, key: str = "mse") -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for k, (name, runs) in enumerate(histories.items()):
        for i, h in enumerate(runs):
            ax.plot([r["step"] for r in h], [r[key] for r in h], color=f"C{k}", lw=0.8, label=name if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training {key} (prior-weighted)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def metric_bars(results: dict[str, list[dict]], metrics: tuple[str, ...], path: str | Path,
                floor: dict[str, float] | None = None) -> Path:
    """One panel per metric: seed-mean bars with the seeds as dots; `floor` (prior noise) as a dashed line."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.2), squeeze=False)
    names = list(results)
    for ax, metric in zip(axes[0], metrics):
        for k, name in enumerate(names):
            vals = [r[metric] for r in results[name]]
            if not np.isfinite(vals).any():  # e.g. F0 RMSE when no frame is voiced: no bar
                continue
            ax.bar(k, np.nanmean(vals), color=f"C{k}")
            ax.plot([k] * len(vals), vals, "k.")
        if floor and metric in floor and np.isfinite(floor[metric]):
            ax.axhline(floor[metric], color="grey", ls="--", lw=0.8, label="prior noise")
            ax.legend(fontsize=7)
        ax.set_xticks(range(len(names)), [n.replace("tiny-", "") for n in names], rotation=30, ha="right", fontsize=7)
        ax.set_title(metric + " (lower is better)", fontsize=9)
    return save_figure(fig, path)
