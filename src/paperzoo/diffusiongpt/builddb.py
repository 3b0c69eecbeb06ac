"""Building the advantage database (§II-C): every model of the zoo draws every database prompt,
a reward model scores each image, and the prompts are embedded for look-up.

The paper's database holds prompts with each model's ImageReward score; the look-up ranks models
by that score alone (`database.py`). The script that built the released database is not public,
so this one is the obvious reading: one image per (prompt, model), all models drawing a prompt
from the same initial noise (the same latents for models of one architecture), so their scores
differ by the model and not by the draw.

`score_zoo` saves each model's scores as it finishes (`work/<model>.json`), so an interrupted
build resumes at the next model; `build_database` writes the database folder only when every
model is scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.diffusiongpt.database import REWARD_KEY, AdvantageDatabase, Embedder, prompt_key

Reward = Callable[[Sequence[str], Tensor], Tensor]  # (prompts, images in [-1, 1]) -> (N,) rewards


def _model_file(work: Path, key: str) -> Path:
    return work / (key.replace("/", "_") + ".json")


def score_zoo(zoo, prompts: Sequence[str], reward: Reward, noise: Tensor | None = None, seed: int = 0,
              batch_size: int = 8, work: str | Path | None = None, progress: bool = False) -> dict[str, list[float]]:
    """rewards[model] = one reward per prompt. `noise` fixes each prompt's initial noise for every
    model; without it, batch b's noise comes from a generator seeded (seed, b), the same for every model."""
    from tqdm.auto import tqdm

    if not prompts:
        raise InputError("the database prompts are empty: give at least one prompt")
    if noise is not None and len(noise) != len(prompts):
        raise InputError(f"noise has {len(noise)} rows for {len(prompts)} prompts")
    work = Path(work) if work is not None else None
    keys = list(zoo.keys())
    out: dict[str, list[float]] = {}
    batches = range(0, len(prompts), batch_size)
    with tqdm(total=len(keys) * len(batches), desc="database: draw + score", unit="batch", disable=not progress) as bar:
        for key in keys:
            saved = _model_file(work, key) if work is not None else None
            if saved is not None and saved.is_file():
                done = json.loads(saved.read_text())
                if done["prompts"] == [prompt_key(p) for p in prompts]:
                    out[key] = done["rewards"]
                    bar.update(len(batches))
                    continue
            rewards: list[float] = []
            for b, i in enumerate(batches):
                chunk = list(prompts[i: i + batch_size])
                if noise is not None:
                    images = zoo.generate(key, chunk, noise[i: i + batch_size])
                else:
                    images = zoo.generate(key, chunk, generator=torch.Generator().manual_seed(seed * 1_000_003 + b))
                rewards += [float(r) for r in reward(chunk, images)]
                bar.update(1)
            out[key] = rewards
            if saved is not None:
                with atomic_path(saved) as tmp:
                    tmp.write_text(json.dumps({"model": key, "prompts": [prompt_key(p) for p in prompts],
                                               "rewards": rewards}))
    return out


def prompt2scores(prompts: Sequence[str], rewards: dict[str, list[float]]) -> dict[str, dict[str, dict[str, float]]]:
    """The official schema: prompt2scores[prompt[:100]][model] = {"image_reward": r}."""
    scores: dict[str, dict[str, dict[str, float]]] = {prompt_key(p): {} for p in prompts}
    for key, values in rewards.items():
        for p, v in zip(prompts, values):
            scores[prompt_key(p)][key] = {REWARD_KEY: v}
    return scores


def build_database(zoo, prompts: Sequence[str], reward: Reward, embed: Embedder, noise: Tensor | None = None,
                   seed: int = 0, batch_size: int = 8, work: str | Path | None = None,
                   progress: bool = False) -> tuple[AdvantageDatabase, dict[str, float]]:
    """The database and each model's mean reward over the prompts."""
    rewards = score_zoo(zoo, prompts, reward, noise=noise, seed=seed, batch_size=batch_size, work=work,
                        progress=progress)
    db = AdvantageDatabase.build(prompts, prompt2scores(prompts, rewards), embed)
    return db, {k: sum(v) / len(v) for k, v in rewards.items()}


def read_prompts(path: str | Path) -> list[str]:
    """One prompt per line (blank lines and lines starting with # skipped), duplicates dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--prompts {path}: no such file (one prompt per line)")
    seen: dict[str, None] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            seen.setdefault(line, None)
    if not seen:
        raise InputError(f"--prompts {path}: no prompts in it (one prompt per line)")
    return list(seen)
