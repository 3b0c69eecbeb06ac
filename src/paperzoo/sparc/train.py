"""Training SPARC (App. D): AdamW, linear warm-up then cosine decay, on core's accelerate loop.

`train("tiny")` trains on the scene world; `data=` a local folder or a list of webdataset
shards trains on real data with the same code, also under `accelerate launch`.
Under DDP the global loss sees only the local batch's negatives unless the embeddings
are gathered; `gather_global=True` (default) all-gathers v̄ and t̄ with gradients
(open_clip style); L_f is per-sample and needs no communication.
"""

import glob
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch
import torch.distributed as dist
from torch import nn

from paperzoo.core.errors import InputError
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.seeding import seed_everything
from paperzoo.core.trainer import Trainer, make_accelerator
from paperzoo.sparc.config import SparcConfig, TrainConfig, registry, train_registry
from paperzoo.sparc.data import ImageTextFolder, WebDatasetShards, WorldData, load_tokenizer, real_batches
from paperzoo.sparc.model import SparcModel
from paperzoo.world.scenes import SceneConfig


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All-gather (B, d) across processes keeping gradients for the local shard; identity on one process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


def sparc_step(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Eq. 7 on one batch. The forward goes through the (possibly DDP-wrapped) model so
    gradients synchronise; v̄ and t̄ are gathered across processes for L_g."""
    core = model.module if hasattr(model, "module") else model
    out = model(batch["images"], batch["token_ids"], batch["token_mask"])
    return core.objective(out, batch["token_mask"], gather=gather_with_grad)


def expand_paths(items: Sequence[str | Path]) -> list[Path]:
    """Paths, with glob patterns ("shards/*.tar") expanded in sorted order."""
    out: list[Path] = []
    for item in items:
        text = str(item)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text))
            if not matches:
                raise InputError(f"--data pattern {text!r} matches no file")
            out += [Path(m) for m in matches]
        else:
            out.append(Path(text))
    return out


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only (not biases, norms, position embeddings or the temperature)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and "pos_embed" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def world_scene_config(config: SparcConfig) -> SceneConfig:
    """The scene world matching a config: the varied-caption world for `tiny-varied`'s text
    encoder, else the default world at the config's image size and context length."""
    from paperzoo.sparc.config import TINY_VARIED_TEXT
    from paperzoo.world.captions import VARIED

    if config.text == TINY_VARIED_TEXT:
        return replace(VARIED, image_size=config.vision.image_size)
    return SceneConfig(image_size=config.vision.image_size, max_tokens=config.text.context_length)


def initial_model(config: SparcConfig | str, seed: int = 0) -> SparcModel:
    """The model `train(config, seed=seed)` starts from: the untrained baseline of every
    learning claim (same weights as that run at step 0; the objective's options, such as
    lambda_f or the weighting, do not change the initial weights)."""
    seed_everything(seed)
    return SparcModel(registry.get(config))


def train(
    config: SparcConfig | str = "tiny",
    train_config: TrainConfig | str = "tiny",
    out_dir: str | Path = "runs/sparc",
    data: str | Path | Sequence[str | Path] = "world",
    tokenizer: str | Path = "world",
    seed: int = 0,
    device: str = "auto",
    mixed_precision: str = "no",
    resume: bool = False,
    checkpoint_every: int = 0,
    progress: bool = True,
    scene_config: SceneConfig | None = None,
    **overrides,
) -> tuple[SparcModel, list[dict]]:
    """Train a SPARC (or, with lambda_fine=0, CLIP) dual encoder; returns the model and loss history.

    `scene_config` sets the world for `data="world"` (default: `world_scene_config(config)`).
    `overrides` replace TrainConfig fields (steps, batch_size, lr, ...). The final model is
    written to `out_dir/model` (save_pretrained) and the history to `out_dir/history.json`.
    """
    config = registry.get(config)
    tc = train_registry.get(train_config)
    tc = replace(tc, **{k: v for k, v in overrides.items() if v is not None})
    model = initial_model(config, seed)

    accelerator = make_accelerator(device, mixed_precision)
    rank, world_size = accelerator.process_index, accelerator.num_processes
    if str(data) == "world":
        if str(tokenizer) != "world":
            raise InputError("the scene world uses its own word tokenizer; pass --tokenizer world with --data world")
        batch_fn = WorldData(scene_config or world_scene_config(config), seed, tc.batch_size, config.text.context_length, rank, world_size)
    else:
        tokenize = load_tokenizer(tokenizer, config.text.context_length)
        paths = expand_paths([data] if isinstance(data, (str, Path)) else data)
        if len(paths) == 1 and paths[0].is_dir():
            pairs = ImageTextFolder(paths[0], config.vision.image_size)
        else:
            pairs = WebDatasetShards(paths, config.vision.image_size)
        batch_fn = real_batches(pairs, tokenize, tc.batch_size, seed, rank, world_size)

    optimizer = torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr, betas=tc.betas)
    scheduler = warmup_cosine(optimizer, tc.warmup_steps, tc.steps)
    trainer = Trainer(
        model, optimizer, scheduler, out_dir, accelerator=accelerator,
        checkpoint_every=checkpoint_every, grad_clip=tc.grad_clip,
        desc=f"sparc {'clip' if config.lambda_fine == 0 else 'sparc'}", progress=progress,
    )
    history = trainer.fit(batch_fn, sparc_step, tc.steps, resume=resume)
    trainer.save_final()
    return trainer.unwrapped, history


PRETRAINED_TINY_MINUTES = "5-10"  # 10 CPU-minutes on one thread, measured 2026-12-01 (see the README)


def pretrained_tiny_folder(seed: int = 0) -> Path:
    """Where `pretrained_tiny(seed)` keeps its run: `model/` and `history.json`."""
    from paperzoo.core.cache import cache_dir

    return cache_dir("models") / f"sparc-tiny-seed{seed}"


def pretrained_tiny(seed: int = 0, device: str = "cpu", progress: bool = True) -> SparcModel:
    """The tiny SPARC model trained on the scene world (the `tiny` training config: 1,000
    steps at batch 128, card captions), trained once per seed and cached under
    `$PAPERZOO_CACHE/models/` (used by the demo, `--model tiny`, and as CMMD's offline embedder)."""
    folder = pretrained_tiny_folder(seed)
    if not (folder / "model").is_dir():
        if progress:
            print(f"Training the tiny SPARC model (seed {seed}) once, about {PRETRAINED_TINY_MINUTES} min on 2 CPU cores; "
                  f"cached in {folder}", file=sys.stderr, flush=True)
        train("tiny", "tiny", out_dir=folder, seed=seed, device=device, progress=progress)
    return SparcModel.from_pretrained(folder / "model", map_location=device)


def load_model(spec: str | Path = "tiny", seed: int = 0, device: str = "cpu", progress: bool = True) -> SparcModel:
    """A trained model named the CLI's way (`--model NAME|FOLDER`): a checkpoint folder, or
    `tiny` for the cached `pretrained_tiny(seed)`. The paper's named configs have no released
    weights, so naming one is an error that says how to get a folder."""
    from paperzoo.core.cli import model_source

    kind, value = model_source(spec, registry.names())
    if kind == "folder":
        return SparcModel.from_pretrained(value, map_location=device)
    if value != "tiny":
        raise InputError(f"--model {value}: SPARC released no weights, so there is no trained {value} model; "
                         f"train one (`paperzoo sparc train --config {value} ...`) and pass its folder")
    return pretrained_tiny(seed, device, progress)
