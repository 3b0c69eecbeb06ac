"""`paperzoo vmamba ...`: named configs and FLOPs, checkpoint checks, training on the world
and on ImageNet, the ERF demo and the small-scale reproduction."""

from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, out_option, reproduce_command, resolve_device, seed_option


@click.group(cls=Group)
def cli():
    """VMamba: visual state space model (arXiv 2401.10166)."""


@cli.command()
@click.option("--resolution", type=int, default=224, show_default=True, help="Square input size for the FLOPs column.")
def configs(resolution):
    """List the named configs: our parameter count, the official code's (exact) and the paper's (rounded), and FLOPs."""
    import torch

    from paperzoo.vmamba.config import OFFICIAL_PARAMS, PAPER_PARAMS_M, registry
    from paperzoo.vmamba.flops import flops
    from paperzoo.vmamba.model import VMamba

    click.echo(f"{'config':<16}{'params':>14}{'official':>14}{'paper':>8}  GFLOPs@{resolution}")
    for name in registry.names():
        with torch.device("meta"):
            n = sum(p.numel() for p in VMamba(name).parameters())
        official, paper = OFFICIAL_PARAMS.get(name), PAPER_PARAMS_M.get(name)
        click.echo(f"{name:<16}{n:>14,}{(f'{official:,}' if official else '-'):>14}{(f'{paper:g}M' if paper else '-'):>8}  "
                   f"{flops(name, resolution) / 1e9:.2f}")


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--config", "config_name", required=True, help="Named config the release file belongs to (e.g. vmamba-t).")
@click.option("--ema", is_flag=True, help="Load the 'model_ema' weights instead of 'model'.")
@click.option("--trust-checkpoint", is_flag=True, help="Allow pickled objects besides tensors (release files pickle their config).")
def check(checkpoint, config_name, ema, trust_checkpoint):
    """Load an official release checkpoint strictly and report what it holds."""
    from paperzoo.vmamba.checkpoint import load_official

    model = load_official(checkpoint, config_name, ema=ema, trust_pickle=trust_checkpoint)
    n = sum(p.numel() for p in model.parameters())
    click.echo(f"{checkpoint}: loads into {config_name} strictly ({n:,} parameters)")


@cli.command()
@click.option("--model", default="vmamba-nano", show_default=True,
              help="vmamba-nano, conv-nano (the Conv baseline), vit-nano, or any named config (see `configs`).")
@click.option("--task", type=click.Choice(["same-colour", "shape", "colour"]), default="same-colour", show_default=True,
              help="same-colour: do the two large, far-apart objects share a colour (global); shape: one object's shape "
                   "(local); colour: one object's colour (local, the easiest).")
@click.option("--steps", type=int, default=1500, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--checkpoint-every", type=int, default=200, show_default=True, help="Steps between resumable checkpoints.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.")
@out_option("runs/vmamba", "Run folder: model/, checkpoint/, history.json.")
@device_option
@seed_option
def train(model, task, steps, batch_size, lr, checkpoint_every, resume, out, device, seed):
    """Train a classifier on a scene-world task and report held-out accuracy."""
    from paperzoo.vmamba.train import TrainConfig, accuracy
    from paperzoo.vmamba.train import train as run

    tc = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=min(100, max(1, steps // 10)))
    net, history = run(model, task, out, seed, resolve_device(device), tc, resume=resume, checkpoint_every=checkpoint_every)
    click.echo(f"{model} on {task}: final training loss {history[-1]['loss']:.3f}; "
               f"held-out accuracy {accuracy(net.cpu(), task, n=500):.3f} (500 scenes); model in {out / 'model'}")


@cli.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--config", "config_name", default="vmamba-t", show_default=True, help="Named config (see `configs`).")
@click.option("--epochs", type=int, default=300, show_default=True)
@click.option("--warmup-epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=1024, show_default=True, help="Over all processes.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Peak learning rate (cosine to 5e-6).")
@click.option("--image-size", type=int, default=224, show_default=True)
@click.option("--workers", type=int, default=8, show_default=True, help="Data-loading processes per training process.")
@click.option("--mixed-precision", type=click.Choice(["no", "bf16", "fp16"]), default="bf16", show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint (saved after every epoch).")
@out_option("runs/vmamba-imagenet", "Run folder: checkpoint/, model/, model_ema/, history.json.")
@device_option
@seed_option
def imagenet(root, config_name, epochs, warmup_epochs, batch_size, lr, image_size, workers, mixed_precision, resume,
             out, device, seed):
    """Train a named config on an ImageNet-layout folder (ROOT/train/<class>/*, ROOT/val/<class>/*)
    with the paper's recipe (App. E): AdamW, cosine, mixup/cutmix, RandAugment, EMA.

    On several GPUs: accelerate launch --num_processes 8 -m paperzoo vmamba imagenet ROOT"""
    from paperzoo.vmamba.imagenet import ImageNetRecipe, train_imagenet

    recipe = ImageNetRecipe(epochs=epochs, warmup_epochs=warmup_epochs, batch_size=batch_size, lr=lr,
                            image_size=image_size, workers=workers, mixed_precision=mixed_precision)
    history = train_imagenet(config_name, root, out, recipe, resolve_device(device), seed, resume=resume)
    last = history[-1]
    click.echo(f"{config_name}: epoch {last['epoch']}, val top-1 {last['top1']:.4f} (EMA {last['top1_ema']:.4f}); "
               f"models in {out / 'model'} and {out / 'model_ema'}")


@cli.command()
@click.option("--model", "models", multiple=True, metavar="NAME|FOLDER",
              help="A model to show (repeat for several): a config name, freshly initialised (vmamba-nano, conv-nano, "
                   "vit-nano, or any of `configs`), or a trained model folder (`vmamba train`'s OUT, or OUT/model). "
                   "Default: vmamba-nano, conv-nano and vit-nano at initialisation.")
@click.option("--runs", type=click.Path(path_type=Path), default=None, hidden=True,
              help="Old spelling: a folder with <model>-seed*/model run folders (e.g. reproduction/vmamba/runs/same-colour).")
@click.option("--images", "count", type=int, default=32, show_default=True, help="Images to average over.")
@out_option("erf.png", "The PNG to write.")
@device_option
@seed_option
def demo(models, runs, count, out, device, seed):
    """Effective receptive fields of VMamba, the ViT and the Conv baseline side by side, as a PNG."""
    import torch

    from paperzoo.core.cli import model_source
    from paperzoo.core.errors import CheckpointError
    from paperzoo.core.seeding import seed_everything
    from paperzoo.vmamba.config import registry
    from paperzoo.vmamba.erf import erf_area, erf_figure, erf_map
    from paperzoo.vmamba.tasks import task_batch
    from paperzoo.vmamba.train import MODELS, build, load_trained

    device = resolve_device(device)
    if runs is not None:  # the old --runs FOLDER: the first seed of each nano model in it
        found = [next(iter(sorted(Path(runs).glob(f"{name}-seed*/model"))), None) for name in MODELS]
        if None in found:
            raise CheckpointError(f"{runs}: no {MODELS[found.index(None)]}-seed*/model folder")
        models = tuple(models) + tuple(str(f) for f in found)
    models = models or MODELS
    images = task_batch("same-colour", seed, count, split="eval").images.to(device)
    maps, trained = {}, []
    for value in models:
        kind, source = model_source(value, list(registry.names()) + ["vit-nano"])
        if kind == "folder":
            net, label = load_trained(source), str(source)
            trained.append(label)
        else:
            seed_everything(seed)
            net, label = build(source, 2), f"{source} (init)"
        maps[label] = erf_map(net.to(device), images)
        click.echo(f"{label}: ERF area {erf_area(maps[label]):.3f}")
    state = "trained" if len(trained) == len(maps) else "at initialisation" if not trained else "trained and initialised"
    click.echo(f"wrote {erf_figure(maps, out, f'Effective receptive fields, {state}')}")


@cli.command()
@click.option("--lever", "levers", multiple=True, help="A lever to measure (repeatable); default: all of them, in order: "
              "recipe, warmup-500, lr-3e-4, lr-3e-3, smooth-0.1, stem-v1, norm-bn, steps-3000, dt-small, mlp-head "
              "(see plateau.py).")
@click.option("--seeds", type=int, default=3, show_default=True)
@click.option("--steps", type=int, default=None, help="Training steps per run (default: the world budget, 1500).")
@click.option("--eval-count", type=int, default=2000, show_default=True, help="Held-out scenes per run.")
@out_option("reproduction", "Report folder: runs go to OUT/vmamba/plateau/, the table and plot beside them.")
@device_option
def plateau(levers, seeds, steps, eval_count, out, device):
    """Why VMamba-nano and Conv-nano stay at chance on the global task on some seeds: one training or
    architecture lever at a time, on both models and several seeds, counting the seeds that leave the
    plateau (about 10 CPU-minutes per lever and seed: ~6 VMamba-nano, ~3 Conv-nano, measured; finished runs
    are cached and reused)."""
    from dataclasses import replace

    from paperzoo.core.atomic import atomic_path
    from paperzoo.vmamba.plateau import LEVERS, plot, run, table
    from paperzoo.vmamba.reproduce import FULL

    budget = replace(FULL, steps=steps, warmup_steps=min(FULL.warmup_steps, steps // 10)) if steps else FULL
    rows = run(out, tuple(levers) or tuple(LEVERS), seeds, budget, eval_count, resolve_device(device))
    text = table(rows)
    folder = Path(out) / "vmamba" / "plateau"
    with atomic_path(folder / "plateau.md") as tmp:
        tmp.write_text(text + "\n")
    click.echo(text)
    click.echo(f"wrote {folder / 'plateau.md'} and {plot(rows, folder / 'plateau.png')}")


cli.add_command(reproduce_command(
    "vmamba",
    "VMamba-nano vs ViT-nano vs Conv-nano on the global and local world tasks, the scan ablation, and the "
    "resolution, ERF and FLOPs claims; writes OUT/vmamba/ and OUT/REPORT.md (it prints its expected time "
    "first; finished runs are cached and reused).",
    "60 steps, one seed: a smoke run of the pipeline, not a result.",
))
