"""Training a text-to-image generator on core's Trainer: from scratch, or a LoRA on a base.

`batch_fn(step) -> (images (B, C, H, W) in [-1, 1], prompts)` is a function of the step, so
an interrupted run resumes on exactly the batches it would have seen (core's Trainer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from paperzoo.core.errors import ConfigError
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.trainer import Trainer, make_accelerator
from paperzoo.diffusion.lora import LoraSpec, add_lora
from paperzoo.diffusion.model import TextToImage

BatchFn = Callable[[int], tuple[Tensor, Sequence[str]]]


@dataclass(frozen=True)
class Recipe:
    steps: int
    batch_size: int = 32
    lr: float = 2e-3
    final_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 1.0

    def __post_init__(self):
        if self.steps <= 0 or self.batch_size <= 0 or self.lr <= 0:
            raise ConfigError(f"diffusion Recipe: steps, batch_size and lr must be > 0, got {self}")


def train(model: TextToImage, batch_fn: BatchFn, recipe: Recipe, out_dir: str | Path, lora: LoraSpec | None = None,
          seed: int = 0, device: str = "cpu", resume: bool = True, desc: str = "diffusion", progress: bool = True,
          checkpoint_every: int = 200) -> TextToImage:
    """Train `model` (all weights, or LoRA adapters on its UNet when `lora` is given) for
    `recipe.steps` steps; write `out_dir/model` and return the trained model. With LoRA the
    adapters stay in the returned model unmerged (`lora.lora_state` / `lora.fold_lora`)."""
    if lora is not None:
        add_lora(model, lora)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    scheduler = warmup_cosine(optimizer, min(recipe.warmup, recipe.steps // 5), recipe.steps, recipe.final_lr_ratio)
    trainer = Trainer(model, optimizer, scheduler, out_dir, accelerator=make_accelerator(device),
                      checkpoint_every=checkpoint_every, grad_clip=recipe.grad_clip, desc=desc, progress=progress)
    generator = torch.Generator().manual_seed(seed)

    def loss_fn(m: TextToImage, batch) -> dict[str, Tensor]:
        images, prompts = batch
        # the noise and timesteps of step k come from (seed, k), so a resumed run draws the same ones
        generator.manual_seed(seed * 1_000_003 + trainer.step)
        ids, mask = m.tokenize(prompts)
        return {"loss": m.loss(images, ids, mask, generator)}

    trainer.fit(batch_fn, loss_fn, recipe.steps, resume=resume)
    trainer.save_final()
    return trainer.unwrapped
