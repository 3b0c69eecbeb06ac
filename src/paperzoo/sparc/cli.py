"""`paperzoo sparc ...`: train, evaluate, demo and reproduce SPARC (torch is imported inside commands)."""

from pathlib import Path

import click

from paperzoo.core.cli import (
    Group, device_option, model_option, out_option, reproduce_command, resolve_device, seed_option,
)


@click.group(cls=Group)
def cli():
    """SPARC: sparse fine-grained contrastive alignment (arXiv 2401.09865)."""


@cli.command()
def configs():
    """List the named configs with their encoder parameter counts."""
    import torch

    from paperzoo.sparc.config import registry
    from paperzoo.sparc.encoders import TextTransformer, VisionTransformer

    with torch.device("meta"):
        for name in registry.names():
            c = registry.get(name)
            nv = sum(p.numel() for p in VisionTransformer(c.vision).parameters())
            nt = sum(p.numel() for p in TextTransformer(c.text).parameters())
            click.echo(f"{name:<10} vision {nv / 1e6:8.2f}M (P={c.vision.num_patches:>3})   text {nt / 1e6:8.2f}M   d={c.embed_dim}")


@cli.command()
@click.option("--config", "config_name", default="tiny", show_default=True, help="Named model config (see `paperzoo sparc configs`).")
@click.option("--train-config", default=None, help="Named training config (default: tiny for tiny, paper-vit-b otherwise).")
@click.option("--data", multiple=True, default=["world"], show_default=True,
              help="'world', a folder with captions.jsonl, or webdataset .tar shards (repeat the option).")
@click.option("--tokenizer", default="world", show_default=True, help="'world' or a local Hugging Face tokenizer folder.")
@click.option("--steps", type=int, default=None, help="Optimiser steps (default: the training config's).")
@click.option("--batch-size", type=int, default=None, help="Batch size per process.")
@click.option("--lr", type=float, default=None, help="Peak learning rate.")
@click.option("--lambda-fine", type=float, default=None, help="lambda_f of Eq. 7; 0 trains the CLIP baseline.")
@click.option("--weighting", type=click.Choice(["sparse", "softmax"]), default=None, help="Alignment weights (softmax: App. A ablation).")
@click.option("--sigma", type=float, default=None, help="Sparsity threshold (default 1/P; 0 = no sparsity).")
@click.option("--mixed-precision", type=click.Choice(["no", "fp16", "bf16"]), default="no", show_default=True)
@click.option("--checkpoint-every", type=int, default=200, show_default=True, help="Steps between resumable checkpoints.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.")
@out_option("runs/sparc", "Run folder: model/, checkpoint/, history.json.")
@device_option
@seed_option
def train(config_name, train_config, data, tokenizer, steps, batch_size, lr, lambda_fine, weighting, sigma,
          mixed_precision, checkpoint_every, resume, out, device, seed):
    """Train SPARC (or CLIP with --lambda-fine 0) on the scene world or local data."""
    from dataclasses import replace

    from paperzoo.sparc.config import registry
    from paperzoo.sparc.train import train as run

    config = registry.get(config_name)
    changes = {k: v for k, v in {"lambda_fine": lambda_fine, "weighting": weighting, "sigma": sigma}.items() if v is not None}
    config = replace(config, **changes)
    train_config = train_config or ("tiny" if config_name.startswith("tiny") else "paper-vit-b")
    data = data[0] if len(data) == 1 else list(data)
    model, history = run(
        config, train_config, out_dir=out, data=data, tokenizer=tokenizer, seed=seed, device=resolve_device(device),
        mixed_precision=mixed_precision, resume=resume, checkpoint_every=checkpoint_every,
        steps=steps, batch_size=batch_size, lr=lr,
    )
    click.echo(f"final loss {history[-1]['loss']:.4f} (global {history[-1]['global']:.4f}, fine {history[-1]['fine']:.4f})")
    click.echo(f"wrote {out / 'model'}")


class HiddenArgument(click.Argument):
    """A positional argument kept for an old spelling, left out of the usage line."""

    def get_usage_pieces(self, ctx):
        return []


MODEL_HELP = "A trained model: a checkpoint folder (`train`'s OUT/model), or 'tiny' for the tiny SPARC model of --seed (trained once on first use, cached)."


def legacy_model(model, old, old_name: str):
    """--model, or the old spelling (`evaluate CHECKPOINT`, `demo --checkpoint`) when only that was given."""
    if old is None:
        return model
    if model not in (None, "tiny"):
        raise click.UsageError(f"give the model once: --model {model} or the old {old_name} {old}, not both")
    return old


@cli.command()
@click.argument("checkpoint", required=False, default=None, type=click.Path(path_type=Path), cls=HiddenArgument)
@model_option("tiny", MODEL_HELP)
@click.option("--count", type=int, default=1000, show_default=True, help="Held-out world scenes to evaluate on.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@out_option(None, "Also write the metrics as JSON to this file.")
@device_option
@seed_option
def evaluate(checkpoint, model, count: int, as_json: bool, out, device: str, seed: int):
    """Evaluate a trained model on held-out world scenes: localisation, segmentation, retrieval, compositional.

    --seed picks the tiny model (with --model tiny) and the draw of the compositional hard negatives."""
    import json

    from paperzoo.core.atomic import atomic_path
    from paperzoo.core.errors import InputError
    from paperzoo.sparc.evaluate import EVAL_SEED, evaluate as run
    from paperzoo.sparc.model import SparcModel
    from paperzoo.sparc.train import load_model, world_scene_config
    from paperzoo.world.scenes import load_scenes

    if count < 1:
        raise InputError(f"--count must be >= 1, got {count}")
    device = resolve_device(device)
    spec = legacy_model(model, checkpoint, "CHECKPOINT")
    # The old positional spelling always named a folder; keep its error for a missing one.
    net = SparcModel.from_pretrained(spec, map_location=device) if checkpoint is not None else load_model(spec, seed, device)
    scene_config = world_scene_config(net.config)
    metrics = run(net, load_scenes(scene_config, EVAL_SEED, count, split="eval"), scene_config, seed=seed)
    if out is not None:
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        for k, v in metrics.items():
            click.echo(f"{k:<22} {v:.4f}" if isinstance(v, float) else f"{k:<22} {v}")
        if out is not None:
            click.echo(f"wrote {out}")


@cli.command()
@model_option("tiny", MODEL_HELP)
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None, hidden=True, help="Old spelling of --model FOLDER.")
@click.option("--index", type=int, default=0, show_default=True, help="Which held-out scene to show.")
@out_option("sparc_demo.png", "PNG to write.")
@device_option
@seed_option
def demo(model, checkpoint, index, out, device, seed):
    """Token -> patch heatmaps: for each caption word, where the model looks in the image."""
    from paperzoo.sparc.demo import demo as run

    path = run(model=legacy_model(model, checkpoint, "--checkpoint"), index=index, out=out,
               device=resolve_device(device), seed=seed)
    click.echo(f"wrote {path}")


cli.add_command(reproduce_command(
    "sparc",
    "SPARC vs CLIP and the two ablations on the scene world; writes OUT/sparc/ and OUT/REPORT.md.",
    "Fewer steps, one seed: a smoke run (numbers are not the reported ones).",
))
