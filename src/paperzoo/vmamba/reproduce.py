"""The small-scale experiment for VMamba's claims (card §5), on scene-world tasks.

VMamba-nano, its Conv baseline (same macro design, 7x7 depthwise conv instead of SS2D) and
ViT-nano, about 1M parameters each, trained identically (AdamW 1e-3, wd 0.05, 100 warm-up
steps, cosine, batch 128, 1,500 steps) on the global "same-colour" task, 2 seeds, scored
on 2,000 held-out scenes. Card's expected sign: VMamba > ViT and VMamba > Conv on the
global task.

Work in progress: `run_one` trains and scores one (model, task, seed) and caches it; the
report with the resolution, ERF and scan-ablation claims is not written yet.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

from paperzoo.core.atomic import atomic_path
from paperzoo.vmamba.train import MODELS, TrainConfig, accuracy, build, train

FULL = TrainConfig(steps=1500, batch_size=128)
EVAL_COUNT = 2000


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


__all__ = ["FULL", "MODELS", "build", "run_one"]
