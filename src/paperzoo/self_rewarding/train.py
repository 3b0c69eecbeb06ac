"""Training: SFT on seed data (M0 -> M1, paper §2.1) and DPO on AIFT pairs (M_t -> M_{t+1}, §2.4).

SFT: cross-entropy on the response tokens only ("we only calculate the loss on target
tokens instead of the full sequence", §3.1.3); LR 5.5e-6 with cosine decay to 1.1e-6.
DPO: `dpo.dpo_loss` with β = 0.1, the policy initialised from M_t and the frozen
reference M_t (or M1 with `ref="sft"`); LR 1e-6 decaying linearly to 1e-7. Batch 16,
dropout 0.1 for both. The optimiser is not reported: AdamW without weight decay.

Early stopping (§3.1.3: a checkpoint every 200 steps, the best kept by a validation
judge): `validate(model) -> float` (higher is better) runs every `eval_every` steps and
the best weights are kept; the world's validator is the rubric's mean q on the 253
validation prompts (greedy answers), standing in for Claude 2's pairwise judgments.

Both run on core's Trainer (accelerate: the same code under `accelerate launch`), with
batches a pure function of the step. Both train every weight (the paper); `lora_rank > 0`
trains LoRA adapters instead (`core.lora`, ours, for small hardware), merged into the model's
weights when the stage ends, so the model is trained in place either way.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR

from paperzoo.core.errors import InputError
from paperzoo.core.lora import add_lora, merge_lora
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.sft import batch_indices, masked_lm_loss, pad_examples
from paperzoo.core.trainer import Trainer, make_accelerator
from paperzoo.self_rewarding.dpo import dpo_loss, dpo_rewards, sequence_logps


def tokenize_pairs(fmt, prompts: Sequence, responses: Sequence[str], max_length: int | None = None) -> dict:
    """One row per (prompt, response) (a prompt is an instruction, or a JudgeRequest for an
    EFT example whose response is the judgment), right-padded by core's `pad_examples`:
    {"input_ids": (B, T), "attention_mask": (B, T), "response_mask": (B, T) bool, True on the
    tokens the loss is on (`Format.example_ids`)}. A dict, so the Trainer moves it to the device."""
    rows = []
    for prompt, response in zip(prompts, responses):
        ids, mask = fmt.example_ids(prompt, response)
        if max_length and len(ids) > max_length:
            ids, mask = ids[:max_length], mask[:max_length]
            if not any(mask):
                raise InputError(f"a prompt longer than max_length={max_length} leaves no response: {str(prompt)[:60]!r}")
        rows.append((ids, mask))
    batch = pad_examples(rows, fmt.pad_id)
    # The loss mask is on the response: DPO's sequence log-probabilities sum over the same tokens.
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "response_mask": batch["loss_mask"]}


SHARE_PREFIX = 32  # a batch whose rows all begin with >= 32 equal tokens (EFT: the Fig. 2 rubric) runs them once


def sft_loss(model, batch: dict, share_prefix: int = SHARE_PREFIX) -> dict[str, torch.Tensor]:
    """Mean cross-entropy over response tokens (prompt and padding excluded): core's `masked_lm_loss`,
    with its shared-prefix fast path (the same loss and gradient; `share_prefix=0` turns it off)."""
    return {"loss": masked_lm_loss(model, {**batch, "loss_mask": batch["response_mask"]}, share_prefix=share_prefix)}


def linear_decay(optimizer, total_steps: int, final_ratio: float) -> LambdaLR:
    """LR from the base value down linearly to final_ratio x base at `total_steps`."""
    return LambdaLR(optimizer, lambda s: 1.0 - (1.0 - final_ratio) * min(1.0, s / max(1, total_steps)))


def _fit_with_early_stopping(trainer: Trainer, batch_fn, loss_fn, steps: int, eval_every: int,
                             validate: Callable | None) -> list[dict]:
    """Train to `steps`; with `validate`, score every `eval_every` steps and keep the best weights."""
    if validate is None or eval_every <= 0:
        trainer.fit(batch_fn, loss_fn, steps)
        return []
    curve = []
    best, best_state = -float("inf"), None
    for target in list(range(eval_every, steps, eval_every)) + [steps]:
        trainer.fit(batch_fn, loss_fn, target)
        score = float(validate(trainer.unwrapped))
        curve.append({"step": target, "validation": score})
        if score > best:
            best, best_state = score, copy.deepcopy(trainer.unwrapped.state_dict())
        trainer.model.train()
    trainer.unwrapped.load_state_dict(best_state)
    return curve


def sft(
    model, fmt, examples: Sequence[tuple[str, str]], *, steps: int, lr: float, final_lr: float, batch_size: int = 16,
    warmup: int = 0, seed: int = 0, out_dir: str | Path, device: str = "cpu", eval_every: int = 0,
    validate: Callable | None = None, max_length: int | None = None, progress: bool = True, desc: str = "SFT",
    lora_rank: int = 0,
) -> dict:
    """Supervised fine-tuning on (prompt, response) pairs; the model is trained in place.

    Returns {"history": per-log-step losses, "validation": the early-stopping curve}."""
    if not examples:
        raise InputError("sft: no training examples")
    prompts, responses = zip(*examples)

    def batch_fn(step: int) -> dict:
        idx = batch_indices(len(examples), batch_size, seed, step)
        return tokenize_pairs(fmt, [prompts[i] for i in idx], [responses[i] for i in idx], max_length)

    tuned = add_lora(model, lora_rank) if lora_rank > 0 else model
    opt = torch.optim.AdamW(_trainable(tuned), lr=lr, weight_decay=0.0)
    sched = warmup_cosine(opt, warmup, steps, final_ratio=final_lr / lr)
    trainer = Trainer(tuned, opt, sched, out_dir, accelerator=make_accelerator(device), desc=desc, progress=progress)
    curve = _fit_with_early_stopping(trainer, batch_fn, lambda m, b: sft_loss(m, b), steps, eval_every, validate)
    merge_lora(trainer.unwrapped)  # LoRA: folds the adapters into `model`'s own weights (peft edits it in place)
    return {"history": trainer.history, "validation": curve}


def _trainable(model) -> list:
    return [p for p in model.parameters() if p.requires_grad]


def dpo_batch_loss(model, ref_model, batch: dict, beta: float, reduction: str = "sum") -> dict[str, torch.Tensor]:
    """The DPO loss of one batch {"chosen": tokens, "rejected": tokens}: both through the
    policy in one forward, and through the frozen reference without gradients."""
    chosen, rejected = batch["chosen"], batch["rejected"]
    width = max(chosen["input_ids"].shape[1], rejected["input_ids"].shape[1])

    def pad(x: torch.Tensor, value) -> torch.Tensor:
        return F.pad(x, (0, width - x.shape[1]), value=value)

    ids = torch.cat([pad(chosen["input_ids"], 0), pad(rejected["input_ids"], 0)])
    att = torch.cat([pad(chosen["attention_mask"], 0), pad(rejected["attention_mask"], 0)])
    resp = torch.cat([pad(chosen["response_mask"], False), pad(rejected["response_mask"], False)])
    b = chosen["input_ids"].shape[0]
    policy = sequence_logps(model(input_ids=ids, attention_mask=att).logits, ids, resp, reduction)
    with torch.no_grad():
        ref = sequence_logps(ref_model(input_ids=ids, attention_mask=att).logits, ids, resp, reduction)
    loss = dpo_loss(policy[:b], policy[b:], ref[:b], ref[b:], beta)
    r_c, r_l = dpo_rewards(policy[:b], ref[:b], beta), dpo_rewards(policy[b:], ref[b:], beta)
    return {"loss": loss, "reward_accuracy": (r_c > r_l).float().mean(), "reward_margin": (r_c - r_l).mean()}


def dpo(
    model, ref_model, fmt, pairs: Sequence[tuple[str, str, str]], *, steps: int, lr: float, final_lr: float,
    beta: float = 0.1, batch_size: int = 16, reduction: str = "sum", seed: int = 0, out_dir: str | Path,
    device: str = "cpu", eval_every: int = 0, validate: Callable | None = None, max_length: int | None = None,
    progress: bool = True, desc: str = "DPO", lora_rank: int = 0,
) -> dict:
    """DPO on (prompt, chosen, rejected) triples; `model` is trained in place, `ref_model` frozen."""
    if not pairs:
        raise InputError("dpo: no preference pairs (every prompt's candidates were scored equally?)")
    ref_model.eval().requires_grad_(False)

    def batch_fn(step: int) -> dict:
        idx = batch_indices(len(pairs), batch_size, seed, step)
        rows = [pairs[i] for i in idx]
        prompts = [r[0] for r in rows]
        return {"chosen": tokenize_pairs(fmt, prompts, [r[1] for r in rows], max_length),
                "rejected": tokenize_pairs(fmt, prompts, [r[2] for r in rows], max_length)}

    tuned = add_lora(model, lora_rank) if lora_rank > 0 else model
    opt = torch.optim.AdamW(_trainable(tuned), lr=lr, weight_decay=0.0)
    sched = linear_decay(opt, steps, final_ratio=final_lr / lr)
    accelerator = make_accelerator(device)
    ref_model.to(accelerator.device)
    trainer = Trainer(tuned, opt, sched, out_dir, accelerator=accelerator, desc=desc, progress=progress)
    loss_fn = lambda m, b: dpo_batch_loss(m, ref_model, b, beta, reduction)  # noqa: E731
    curve = _fit_with_early_stopping(trainer, batch_fn, loss_fn, steps, eval_every, validate)
    merge_lora(trainer.unwrapped)
    return {"history": trainer.history, "validation": curve}
