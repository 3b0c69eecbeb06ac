"""Two-stage instruction tuning (paper §3, Fig. 1): stage-1 SFT, then stage-2 context-enhanced
instruction tuning, on `paperzoo.core.trainer.Trainer` (accelerate: the same code on a CPU and
under `accelerate launch`).

Both stages minimise the masked language-model loss on the latest assistant answer (App. A.1,
"We use the Latest Answer from Assistant as the supervision"),

    L(θ) = - Σ_{t ∈ answer} log p_θ(x_t | x_<t) / |answer|          (mean over the batch's answer tokens)

(`supervise="all"` puts it on every assistant answer). Stage 1 trains on the SFT blend, stage 2
continues from the stage-1 weights on the stage-2 blend: the world's (`blends.py`), or local data
(`data.py`: NVIDIA's ChatQA-Training-Data folder by the card's weights, or your JSONL). The paper fine-tunes all
weights; `lora_rank > 0` trains LoRA adapters through `peft` instead (ours, a deviation for small
hardware), merged into the weights at the end of each stage, so a stage's output is always a plain
Hugging Face folder.

Optimiser: AdamW with the recipe's betas and weight decay, linear warm-up then cosine decay to
`min_lr`, gradient clipping (the release config: Adam (0.9, 0.95), wd 0.1, clip 1.0, cosine to
1e-8; the v1 paper gives none). A stage's batches are a pure function of (seed, step), and each
process of a multi-process launch takes its slice of the global batch, so `resume=True` after an
interruption ends with the weights an uninterrupted run would have (Trainer's checkpoints).
No gradient accumulation: the global batch must fit the processes at once.

The paper starts from a pretrained foundation LLM; the tiny decoder's analogue is language-model
pretraining on world documents (`tune_stage` on `blends.pretraining(seed)`, plain texts, the loss
on every token) before stage 1.

Layout of `out_dir`: `stage1/` and `stage2/`, each with `checkpoint/` (for resume, removed
once the stage is done) and `model/` (a generator folder, `Generator.from_pretrained`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Sequence

import torch

from paperzoo.chatqa.config import StageRecipe, TuningRecipe, recipe as get_recipe
from paperzoo.chatqa.generator import Generator
from paperzoo.core.errors import ConfigError, InputError
from paperzoo.core.lora import add_lora, merge_lora
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.sft import masked_lm_loss, pad_examples
from paperzoo.core.trainer import CHECKPOINT_DIR, Trainer, WholeState, make_accelerator

# A sample source: (step, n) -> n samples, each with .messages, .context, .instruction (blends.Sample),
# or plain texts (language-model pretraining: the loss on every token).
SampleFn = Callable[[int, int], Sequence]
def answer_loss(model, batch: dict) -> dict[str, torch.Tensor]:
    """The Trainer's loss: L(θ) above (`core.sft.masked_lm_loss`) on a `pad_examples` batch."""
    return {"loss": masked_lm_loss(model, batch)}


def tune_stage(
    gen: Generator, stage: StageRecipe, samples: SampleFn, out_dir: str | Path, *,
    device: str = "auto", mixed_precision: str = "no", resume: bool = False, lora_rank: int = 0,
    lora_alpha: int = 16, lora_dropout: float = 0.0, checkpoint_every: int = 0, progress: bool = True,
    desc: str = "stage",
) -> dict:
    """Train `gen.model` in place for `stage.steps` steps on `samples(step, batch_size)`.

    Returns {"history": the logged losses}. `out_dir` holds the resume checkpoint. With
    `lora_rank > 0` the adapters are merged back at the end (gen.model stays a plain model).
    """
    if stage.steps == 0:
        return {"history": []}
    accelerator = make_accelerator(device, mixed_precision)
    n_proc, rank = accelerator.num_processes, accelerator.process_index
    if stage.batch_size % n_proc:
        raise ConfigError(f"global batch {stage.batch_size} does not split over {n_proc} processes")
    per_proc = stage.batch_size // n_proc
    model = add_lora(gen.model, lora_rank, lora_alpha, lora_dropout) if lora_rank > 0 else gen.model
    tuned = WholeState(model)
    params = [p for p in tuned.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=stage.lr, betas=tuple(stage.betas), weight_decay=stage.weight_decay)
    sched = warmup_cosine(opt, stage.warmup, stage.steps, final_ratio=stage.min_lr / stage.lr)
    trainer = Trainer(tuned, opt, sched, out_dir, accelerator=accelerator, checkpoint_every=checkpoint_every,
                      grad_clip=stage.grad_clip, desc=desc, progress=progress)
    max_length = min(stage.max_length or gen.window, gen.window)

    def batch_fn(step: int) -> dict:
        batch = list(samples(step, stage.batch_size))
        if len(batch) != stage.batch_size:
            raise InputError(f"{desc}: the sample source gave {len(batch)} samples for a batch of {stage.batch_size}")
        mine = batch[rank * per_proc: (rank + 1) * per_proc]
        rows = [gen.text_example(s, max_length) if isinstance(s, str) else
                gen.example(s.messages, s.context, s.instruction, supervise=stage.supervise, max_length=max_length)
                for s in mine]
        return pad_examples(rows, gen.pad_id)

    trainer.fit(batch_fn, answer_loss, stage.steps, resume=resume)
    gen.model = merge_lora(trainer.unwrapped.inner)
    gen.model.eval()
    return {"history": trainer.history}


def two_stage(
    gen: Generator, recipe: str | TuningRecipe, out_dir: str | Path, *, stage1: SampleFn | None, stage2: SampleFn | None,
    device: str = "auto", mixed_precision: str = "no", resume: bool = False,
    checkpoint_every: int = 0, progress: bool = True,
) -> tuple[Generator, dict]:
    """Stage 1 (SFT) then stage 2 (context-enhanced) on `gen`, each written to `out_dir/stageK/model`.

    A stage whose sample source is None is skipped (the "stage-1 only" and "w/o stage-1"
    ablations). With `resume`, a stage whose model folder is complete is loaded instead of
    retrained, and an interrupted stage continues from its checkpoint.
    Returns (the tuned generator, {"stage1": history, "stage2": history}).
    """
    rec = get_recipe(recipe)
    out_dir = Path(out_dir)
    histories: dict[str, list] = {}
    for name, stage, samples in (("stage1", rec.stage1, stage1), ("stage2", rec.stage2, stage2)):
        if samples is None:
            continue
        folder = out_dir / name
        if resume and (folder / "model" / "config.json").is_file():
            gen = Generator.from_pretrained(folder / "model")
            histories[name] = []
            continue
        out = tune_stage(gen, stage, samples, folder, device=device, mixed_precision=mixed_precision,
                         resume=resume, lora_rank=rec.lora_rank, lora_alpha=rec.lora_alpha,
                         lora_dropout=rec.lora_dropout, checkpoint_every=checkpoint_every, progress=progress,
                         desc=f"chatqa {name}")
        histories[name] = out["history"]
        accelerator = make_accelerator(device, mixed_precision)
        if accelerator.is_main_process:
            gen.save_pretrained(folder / "model")
            shutil.rmtree(folder / CHECKPOINT_DIR, ignore_errors=True)
        accelerator.wait_for_everyone()
    return gen, histories


def main(argv: Sequence[str] | None = None) -> None:
    """`[accelerate launch] python -m paperzoo.chatqa.tuning --model NAME|FOLDER --out DIR
    [--data ROOT_OR_JSONL] [--sft-data JSONL_OR_ROOT]`: stage 1 then stage 2, on local data
    (`data.py`: a ChatQA-Training-Data folder or your JSONL) or by default on the world blends,
    the same code on one CPU process or under `accelerate launch` on several processes or GPUs
    (each takes its slice of every batch)."""
    import argparse
    import sys
    from dataclasses import replace

    from paperzoo.chatqa import data
    from paperzoo.chatqa.generator import load_generator

    p = argparse.ArgumentParser(prog="python -m paperzoo.chatqa.tuning", description=main.__doc__)
    p.add_argument("--model", default="tiny", help="a generator config name (tiny, smollm2-135m-instruct) or a local HF folder")
    p.add_argument("--out", required=True, help="the run folder (stage1/, stage2/)")
    p.add_argument("--recipe", default="tiny")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stages", default="1,2", help="which stages: 1,2 / 1 / 2")
    p.add_argument("--steps1", type=int, default=None)
    p.add_argument("--steps2", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="the global batch of both stages")
    p.add_argument("--lora-rank", type=int, default=None, help="> 0: LoRA adapters (ours; the paper tunes fully)")
    p.add_argument("--device", default="auto")
    p.add_argument("--mixed-precision", default="no", choices=("no", "fp16", "bf16"))
    p.add_argument("--resume", action="store_true")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between resume checkpoints (0: none)")
    p.add_argument("--data", default=None, help="stage-2 data: a ChatQA-Training-Data folder (every source by the "
                   "card's weights) or a JSONL of conversations; default: the world blend")
    p.add_argument("--sft-data", default=None, help="stage-1 data: a JSONL (its records without context) or a "
                   "ChatQA-Training-Data folder (its sft/); default: --data's sft/ when it is such a folder, "
                   "else the world's SFT tasks")
    args = p.parse_args(argv)
    rec = get_recipe(args.recipe)
    s1, s2 = rec.stage1, rec.stage2
    if args.steps1 is not None:
        s1 = replace(s1, steps=args.steps1)
    if args.steps2 is not None:
        s2 = replace(s2, steps=args.steps2)
    if args.batch_size is not None:
        s1, s2 = replace(s1, batch_size=args.batch_size), replace(s2, batch_size=args.batch_size)
    rec = replace(rec, stage1=s1, stage2=s2, lora_rank=rec.lora_rank if args.lora_rank is None else args.lora_rank)
    stages = set(args.stages.split(","))
    stage1, stage2 = data.stage_sources(args.seed, args.data, args.sft_data, rec.unanswerable, stages)
    if make_accelerator(args.device, args.mixed_precision).is_main_process:
        for k, source in enumerate((stage1, stage2), start=1):
            if isinstance(source, data.TrainingData):
                print(f"stage {k}: {source.summary()}", file=sys.stderr)
    gen = load_generator(args.model)
    two_stage(gen, rec, args.out, stage1=stage1, stage2=stage2, device=args.device,
              mixed_precision=args.mixed_precision, resume=args.resume, checkpoint_every=args.checkpoint_every)
    if make_accelerator(args.device, args.mixed_precision).is_main_process:
        print(Path(args.out) / ("stage2" if "2" in stages else "stage1") / "model")


if __name__ == "__main__":
    main()
