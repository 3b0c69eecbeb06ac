"""The training loop every system shares, on `accelerate`.

The same code runs on a laptop CPU and under `accelerate launch` on many GPUs: the
Accelerator handles devices, DDP and mixed precision. The loop adds a progress bar,
periodic checkpoints (atomic folders: weights + optimiser/scheduler/RNG state) and
`resume=True`, which continues from the last checkpoint so that an interrupted run
ends with the same weights as an uninterrupted one (tested).

Batches come from `batch_fn(step)`, a function of the step index, so that a resumed
run sees exactly the batches it would have seen.
"""

import json
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from torch import nn
from tqdm.auto import tqdm

from paperzoo.core.atomic import atomic_dir, atomic_path
from paperzoo.core.checkpoint import WEIGHTS_NAME, load_state, save_state
from paperzoo.core.errors import CheckpointError

CHECKPOINT_DIR = "checkpoint"
STATE_NAME = "trainer_state.pt"


def make_accelerator(device: str = "auto", mixed_precision: str = "no") -> Accelerator:
    """An Accelerator for `--device` ("auto", "cpu", "cuda", ...) and `--mixed-precision`.

    accelerate keeps one process-wide state and refuses a second precision; in a single
    process (a notebook, the tests) one run may use bf16 and the next none, so the state is
    reset when only the precision differs. Under `accelerate launch` the launcher's setting holds."""
    state = AcceleratorState._shared_state
    if state and state.get("num_processes", 1) == 1 and state.get("_mixed_precision") != mixed_precision:
        AcceleratorState._reset_state()
    return Accelerator(cpu=(device == "cpu"), mixed_precision=mixed_precision)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class WholeState(nn.Module):
    """A model the Trainer checkpoints as ONE safetensors file of its whole state.

    For a model without our `save_pretrained`: a Hugging Face model, a LoRA-wrapped one, or one
    with tied embeddings, which a Hugging Face save would split or de-duplicate. Saving every
    tensor under its own name makes `resume` restore exactly what was saved. The model is
    `.inner`; calls go straight through to it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.inner = model

    def forward(self, *args, **kwargs):
        return self.inner(*args, **kwargs)

    def save_pretrained(self, path: str | Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        save_state(Path(path) / WEIGHTS_NAME, self)


class Trainer:
    """Runs `loss_fn(model, batch) -> {"loss": scalar, ...}` for `steps` optimiser steps.

    Args:
        model: an nn.Module with `save_pretrained` (PretrainedMixin).
        optimizer, scheduler: torch optimiser and LR scheduler (stepped once per step).
        out_dir: where `checkpoint/` (periodic, for resume) and `model/` (final) are written.
        checkpoint_every: steps between checkpoints (0: only at the end).
        grad_clip: max global gradient norm (None: no clipping).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        out_dir: str | Path,
        accelerator: Accelerator | None = None,
        checkpoint_every: int = 0,
        grad_clip: float | None = None,
        log_every: int = 10,
        desc: str = "train",
        progress: bool = True,
    ):
        self.accelerator = accelerator or make_accelerator()
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        self.scheduler = scheduler
        self.out_dir = Path(out_dir)
        self.checkpoint_every = checkpoint_every
        self.grad_clip = grad_clip
        self.log_every = log_every
        self.desc = desc
        self.progress = progress
        self.step = 0
        self.history: list[dict[str, float]] = []

    @property
    def unwrapped(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.model)

    # -- checkpoints ----------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        target = self.out_dir / CHECKPOINT_DIR
        if self.accelerator.is_main_process:
            with atomic_dir(target) as tmp:
                self.unwrapped.save_pretrained(tmp / "model")
                state = {
                    "step": self.step,
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                    "history": self.history,
                    "rng": {
                        "python": random.getstate(),
                        "numpy": np.random.get_state(),
                        "torch": torch.get_rng_state(),
                    },
                }
                torch.save(state, tmp / STATE_NAME)
        self.accelerator.wait_for_everyone()
        return target

    def load_checkpoint(self) -> bool:
        """Restore from `out_dir/checkpoint` if present; True when something was restored."""
        source = self.out_dir / CHECKPOINT_DIR
        if not source.exists():
            return False
        if not (source / STATE_NAME).is_file():
            raise CheckpointError(f"resume checkpoint {source} has no {STATE_NAME}; it is corrupt")
        load_state(source / "model" / WEIGHTS_NAME, self.unwrapped)
        try:
            state = torch.load(source / STATE_NAME, map_location="cpu", weights_only=False)
        except Exception as err:  # a truncated or foreign file
            raise CheckpointError(f"resume state {source / STATE_NAME} is unreadable ({err})") from None
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler and state["scheduler"]:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history = list(state["history"])
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        return True

    # -- the loop ---------------------------------------------------------------------
    def fit(
        self,
        batch_fn: Callable[[int], Any],
        loss_fn: Callable[[nn.Module, Any], dict[str, torch.Tensor]],
        steps: int,
        resume: bool = False,
    ) -> list[dict[str, float]]:
        """Train until `self.step == steps`; return the logged history (one dict per log step)."""
        if resume:
            self.load_checkpoint()
        self.model.train()
        bar = tqdm(
            total=steps, initial=self.step, desc=self.desc, leave=False, dynamic_ncols=True,
            disable=not (self.progress and self.accelerator.is_local_main_process),
        )
        while self.step < steps:
            batch = _to_device(batch_fn(self.step), self.accelerator.device)
            with self.accelerator.autocast():
                out = loss_fn(self.model, batch)
            self.optimizer.zero_grad(set_to_none=True)
            self.accelerator.backward(out["loss"])
            if self.grad_clip:
                self.accelerator.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            if self.scheduler:
                self.scheduler.step()
            self.step += 1
            if self.step % self.log_every == 0 or self.step == steps:
                row = {"step": self.step, **{k: float(v.detach()) for k, v in out.items() if v.numel() == 1}}
                self.history.append(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}")
            bar.update(1)
            if self.checkpoint_every and (self.step % self.checkpoint_every == 0 or self.step == steps):
                self.save_checkpoint()  # also at the end, so a later --resume with more steps continues from here
        bar.close()
        return self.history

    def save_final(self) -> Path:
        """Write `out_dir/model` (save_pretrained) and `out_dir/history.json`."""
        target = self.out_dir / "model"
        if self.accelerator.is_main_process:
            self.unwrapped.save_pretrained(target)
            with atomic_path(self.out_dir / "history.json") as tmp:
                tmp.write_text(json.dumps(self.history, indent=1) + "\n")
        self.accelerator.wait_for_everyone()
        return target
