"""Real-scale training on ImageNet-1K (App. E), the same code on a CPU or under
`accelerate launch` on many GPUs.

The recipe (App. E, which follows Swin and the official configs): 300 epochs, the first 20
a linear warm-up from 5e-7; batch 1024 over all processes; AdamW (0.9, 0.999), lr 1e-3
(5e-4 per 512 images) with cosine decay to 5e-6 per step; weight decay 0.05 (not on norms,
biases, A_log or D); gradient clipping at 5; RandAugment m9-mstd0.5, random erasing 0.25,
mixup 0.8 / cutmix 1.0 with label smoothing 0.1 (`data.py`); stochastic depth from the
named config; an EMA of the weights (decay 0.9999) evaluated beside the raw model.
Mixed precision is bf16 by default (the official code uses fp16 AMP); the selective scan
runs in float32 whatever the autocast dtype (`scan.py`), the fix for the fp16 NaNs users
report (card §4, #138).

Each epoch ends with top-1/top-5 on the val folder (raw and EMA) and an atomic checkpoint
(weights, EMA, optimiser, schedule, history); `resume=True` continues from it.
"""

from __future__ import annotations

import json
import math
from functools import partial
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, get_worker_info
from tqdm.auto import tqdm

from paperzoo.core.atomic import atomic_dir, atomic_path
from paperzoo.core.ema import ModelEma
from paperzoo.core.errors import CheckpointError, ConfigError, InputError
from paperzoo.core.seeding import seed_everything
from paperzoo.core.trainer import make_accelerator
from paperzoo.vmamba.data import ImageFolder, eval_transform, mixup_cutmix, train_transform
from paperzoo.vmamba.factory import create_model
from paperzoo.vmamba.train import param_groups

CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class ImageNetRecipe:
    epochs: int = 300
    warmup_epochs: int = 20
    batch_size: int = 1024  # over all processes
    lr: float = 1e-3
    warmup_lr: float = 5e-7
    min_lr: float = 5e-6
    weight_decay: float = 0.05
    grad_clip: float = 5.0
    label_smoothing: float = 0.1
    mixup: float = 0.8
    cutmix: float = 1.0
    ema_decay: float = 0.9999
    image_size: int = 224
    workers: int = 8  # data-loading processes per training process
    mixed_precision: str = "bf16"  # "no", "bf16", "fp16"


def lr_at(step: int, steps: int, warmup_steps: int, recipe: ImageNetRecipe) -> float:
    """Linear warm-up warmup_lr -> lr over `warmup_steps`, then cosine lr -> min_lr at `steps`."""
    if step < warmup_steps:
        return recipe.warmup_lr + (recipe.lr - recipe.warmup_lr) * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))
    return recipe.min_lr + (recipe.lr - recipe.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets (mixup/cutmix with smoothing), batch mean."""
    return torch.sum(-targets * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def _reseed_augmentation(image_size: int, worker_id: int) -> None:
    """Each loader worker draws its own augmentations (a forked copy would repeat the parent's);
    the worker seed differs per worker and per epoch and follows the loader's generator."""
    info = get_worker_info()
    info.dataset.transform = train_transform(image_size, seed=info.seed % 2**31)


@torch.no_grad()
def evaluate(model, loader, accelerator) -> dict[str, float]:
    """Top-1 and top-5 accuracy over the whole loader (gathered over processes)."""
    model.eval()
    hits1 = hits5 = total = 0
    for images, labels in loader:
        with accelerator.autocast():
            logits = model(images)
        top = logits.topk(min(5, logits.shape[-1]), dim=-1).indices
        top, labels = accelerator.gather_for_metrics((top, labels))
        hits1 += int((top[:, 0] == labels).sum())
        hits5 += int((top == labels[:, None]).any(-1).sum())
        total += len(labels)
    model.train()
    return {"top1": hits1 / total, "top5": hits5 / total}


def train_imagenet(config: str, root: str | Path, out_dir: str | Path, recipe: ImageNetRecipe | None = None,
                   device: str = "auto", seed: int = 0, resume: bool = False, progress: bool = True) -> list[dict]:
    """Train named config `config` on root/train, evaluating on root/val after each epoch.
    Writes out_dir/{checkpoint/, model/, model_ema/, history.json}; returns the history."""
    recipe = recipe or ImageNetRecipe()
    root, out = Path(root), Path(out_dir)
    accelerator = make_accelerator(device, recipe.mixed_precision)
    rank, world = accelerator.process_index, accelerator.num_processes
    if recipe.batch_size % world:
        raise ConfigError(f"batch_size: {recipe.batch_size} does not split over {world} processes")
    seed_everything(seed + rank)
    train_set = ImageFolder(root / "train", train_transform(recipe.image_size, seed=seed + rank))
    val_set = ImageFolder(root / "val", eval_transform(recipe.image_size))
    if val_set.classes != train_set.classes:
        raise InputError(f"{root}: val/ and train/ hold different class folders "
                         f"({len(val_set.classes)} vs {len(train_set.classes)})")
    per_process = recipe.batch_size // world
    if len(train_set) < recipe.batch_size:
        raise InputError(f"{root / 'train'}: {len(train_set)} images, fewer than one batch of {recipe.batch_size}")
    classes = len(train_set.classes)
    model = create_model(config, num_classes=classes)
    loader = DataLoader(train_set, batch_size=per_process, shuffle=True, drop_last=True, num_workers=recipe.workers,
                        worker_init_fn=partial(_reseed_augmentation, recipe.image_size), generator=torch.Generator().manual_seed(seed),
                        persistent_workers=False)
    val_loader = DataLoader(val_set, batch_size=per_process, num_workers=recipe.workers)
    optimizer = torch.optim.AdamW(param_groups(model, recipe.weight_decay), lr=recipe.lr, betas=(0.9, 0.999))
    model, optimizer, loader, val_loader = accelerator.prepare(model, optimizer, loader, val_loader)
    steps_per_epoch = len(loader)
    steps, warmup = recipe.epochs * steps_per_epoch, recipe.warmup_epochs * steps_per_epoch
    scheduler = LambdaLR(optimizer, lambda s: lr_at(s, steps, warmup, recipe) / recipe.lr)
    ema = ModelEma(accelerator.unwrap_model(model), recipe.ema_decay)
    mixing = torch.Generator().manual_seed(seed * 1000 + rank)

    history, start = [], 0
    if resume and (out / CHECKPOINT).exists():
        start, history = _load(out / CHECKPOINT, accelerator.unwrap_model(model), ema, optimizer, scheduler, mixing)
    model.train()
    for epoch in range(start, recipe.epochs):
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        bar = tqdm(loader, desc=f"{config} epoch {epoch + 1}/{recipe.epochs}", leave=False, dynamic_ncols=True,
                   disable=not (progress and accelerator.is_local_main_process))
        losses = []
        for images, labels in bar:
            images, targets = mixup_cutmix(images, labels, classes, mixing, recipe.mixup, recipe.cutmix,
                                           smoothing=recipe.label_smoothing)
            with accelerator.autocast():
                loss = soft_cross_entropy(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            if recipe.grad_clip:
                accelerator.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            scheduler.step()
            ema.update(accelerator.unwrap_model(model))
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        raw, avg = evaluate(model, val_loader, accelerator), evaluate(ema.module, val_loader, accelerator)
        history.append({"epoch": epoch + 1, "loss": sum(losses) / len(losses), "lr": scheduler.get_last_lr()[0],
                        "top1": raw["top1"], "top5": raw["top5"], "top1_ema": avg["top1"], "top5_ema": avg["top5"]})
        _save(out / CHECKPOINT, accelerator, epoch + 1, accelerator.unwrap_model(model), ema, optimizer, scheduler,
              mixing, history, recipe)
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(out / "model")
        ema.module.save_pretrained(out / "model_ema")
        with atomic_path(out / "history.json") as tmp:
            tmp.write_text(json.dumps(history, indent=1) + "\n")
    accelerator.wait_for_everyone()
    return history


def _save(target: Path, accelerator, epoch, model, ema, optimizer, scheduler, mixing, history, recipe) -> None:
    if accelerator.is_main_process:
        with atomic_dir(target) as tmp:
            model.save_pretrained(tmp / "model")
            ema.module.save_pretrained(tmp / "model_ema")
            torch.save({"epoch": epoch, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "mixing": mixing.get_state(), "history": history, "recipe": asdict(recipe)}, tmp / "state.pt")
    accelerator.wait_for_everyone()


def _load(source: Path, model, ema, optimizer, scheduler, mixing) -> tuple[int, list[dict]]:
    from paperzoo.core.checkpoint import WEIGHTS_NAME, load_state

    if not (source / "state.pt").is_file():
        raise CheckpointError(f"resume checkpoint {source} has no state.pt; it is corrupt")
    load_state(source / "model" / WEIGHTS_NAME, model)
    load_state(source / "model_ema" / WEIGHTS_NAME, ema.module)
    state = torch.load(source / "state.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    mixing.set_state(state["mixing"])
    return int(state["epoch"]), list(state["history"])


def smoke_recipe(**overrides) -> ImageNetRecipe:
    """A recipe small enough for a CPU check of the whole path (tests, `--smoke`)."""
    return replace(ImageNetRecipe(epochs=2, warmup_epochs=1, batch_size=4, image_size=32, workers=0), **overrides)
