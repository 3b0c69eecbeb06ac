"""`paperzoo fregrad ...`: named configs, training (speech world or LJSpeech), vocoding a wav
or a mel, official checkpoints, the demo, evaluation and the small-scale reproduction."""

from pathlib import Path

import click

from paperzoo.core.cli import (Group, device_option, model_option, out_option, reproduce_command, resolve_device,
                               seed_option)


@click.group(cls=Group)
def cli():
    """FreGrad: lightweight and fast frequency-aware diffusion vocoder (arXiv 2401.10032), with its
    PriorGrad / DiffWave baseline."""


MODEL_HELP = ("A model folder (from `train`, `convert` or `demo`), an official weights-*.pt file (with --stats), or a "
              "tiny-* config name: a short run of it (600 steps), trained once and reused from the cache.")


def model_options(f):
    """`--model NAME|FOLDER|FILE.pt`; `--checkpoint` is the old spelling, kept as a hidden alias."""
    f = click.option("--checkpoint", "checkpoint", type=click.Path(path_type=Path), default=None, hidden=True)(f)
    return model_option(None, MODEL_HELP)(f)


def _load(model, checkpoint, stats_dir, trust_checkpoint, device, seed):
    """The vocoder named by --model (or --checkpoint), on `device`."""
    from paperzoo.core.cli import model_source
    from paperzoo.fregrad.demo import TINY_NAMES, trained_tiny
    from paperzoo.fregrad.load import load_vocoder

    value = model if model is not None else checkpoint
    if value is None:
        raise click.UsageError("name the model with --model NAME|FOLDER (or an official weights-*.pt file)")
    if Path(value).is_file():  # an official checkpoint file
        return load_vocoder(value, stats_dir, trust_checkpoint).to(device)
    kind, source = model_source(value, TINY_NAMES)
    if kind == "config":
        click.echo(f"{value}: a 600-step run, trained once on first use, then reused from the cache")
        source = trained_tiny(source, 600, seed, device)
    return load_vocoder(source, stats_dir, trust_checkpoint).to(device)


@cli.command()
def configs():
    """List the named configs with exact parameter counts, beside the reference count (fregrad: the
    official module's; the others: card §2's; the paper rounds to 1.78M / 2.62M)."""
    from paperzoo.fregrad.config import PAPER_PARAMS, config, configs as names
    from paperzoo.fregrad.model import parameter_count

    click.echo(f"{'config':<28}{'family':<11}{'params':>12}{'reference':>12}")
    for name in names():
        paper = PAPER_PARAMS.get(name)
        click.echo(f"{name:<28}{config(name).family:<11}{parameter_count(name):>12,}{(f'{paper:,}' if paper else '-'):>12}")


def _corpus(data: str, filelist, seed: int):
    from paperzoo.fregrad.data import ljspeech_corpus, world_corpus

    if data == "world":
        return world_corpus("train", seed), None
    root = Path(data)
    return ljspeech_corpus(root, filelist), root / "stats_priorgrad"


@cli.command()
@click.option("--config", "config_name", default="tiny-fregrad", show_default=True,
              help="Named config (see `configs`): fregrad, priorgrad, diffwave, tiny-fregrad, tiny-priorgrad, ablations.")
@click.option("--data", default="world", show_default=True,
              help="'world' (the espeak-ng speech world) or an LJSpeech-1.1 folder (wavs/*.wav).")
@click.option("--filelist", type=click.Path(path_type=Path), default=None,
              help="With an LJSpeech folder: the training filelist (e.g. the official filelists/train.txt).")
@click.option("--steps", type=int, default=1500, show_default=True, help="Paper: 1,000,000.")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Over all processes (paper: 16).")
@click.option("--crop-frames", type=int, default=32, show_default=True, help="Mel frames per training crop (paper: 62).")
@click.option("--lr", type=float, default=None,
              help="Adam learning rate; default 2e-4 (the paper's) for the paper configs, 1e-3 for the tiny-* configs.")
@click.option("--checkpoint-every", type=int, default=500, show_default=True, help="Steps between resumable checkpoints.")
@click.option("--mixed-precision", type=click.Choice(["no", "bf16", "fp16"]), default="no", show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.")
@out_option("runs/fregrad", "Run folder: model/ (weights, config, prior statistics), checkpoint/, history.json.")
@device_option
@seed_option
def train(config_name, data, filelist, steps, batch_size, crop_frames, lr, checkpoint_every, mixed_precision, resume,
          out, device, seed):
    """Train a vocoder. The paper's run on several GPUs:

    accelerate launch -m paperzoo fregrad train --config fregrad --data LJSpeech-1.1
    --filelist filelists/train.txt --steps 1000000 --batch-size 16 --crop-frames 62"""
    from paperzoo.fregrad.config import config
    from paperzoo.fregrad.data import corpus_stats
    from paperzoo.fregrad.train import TrainConfig
    from paperzoo.fregrad.train import train as run

    cfg = config(config_name)
    corpus, stats_dir = _corpus(data, filelist, seed)
    stats = corpus_stats(corpus, cfg, stats_dir=stats_dir)
    lr = lr if lr is not None else (1e-3 if config_name.startswith("tiny-") else 2e-4)
    tc = TrainConfig(steps=steps, batch_size=batch_size, crop_frames=crop_frames, lr=lr,
                     checkpoint_every=checkpoint_every, mixed_precision=mixed_precision)
    _, history = run(cfg, corpus, out, seed, resolve_device(device), tc, stats=stats, resume=resume,
                     desc=f"train {config_name}")
    click.echo(f"{config_name}: {steps} steps, final loss {history[-1]['loss']:.4f}; model in {out / 'model'}")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@model_options
@click.option("--stats", "stats_dir", type=click.Path(path_type=Path), default=None,
              help="The official stats_priorgrad folder (needed with an official .pt file).")
@click.option("--trust-checkpoint", is_flag=True, help="Allow full unpickling of an official file you trust.")
@out_option("vocoded.wav", "The wav to write (22,050 Hz, 16-bit).")
@device_option
@seed_option
def vocode(source, model, checkpoint, stats_dir, trust_checkpoint, out, device, seed):
    """Synthesise a waveform from SOURCE: a .wav (its mel is computed: copy synthesis; another
    sample rate is resampled to 22,050 Hz with a warning) or a .npy natural-log mel [80, frames]."""
    import warnings

    import torch

    from paperzoo.core.errors import InputError
    from paperzoo.fregrad.audio import load_mel, mel_spectrogram, normalize_audio, read_wav, trim_to_hop, write_wav
    from paperzoo.fregrad.data import mel_config
    from paperzoo.fregrad.vocode import vocode as synthesise

    model = _load(model, checkpoint, stats_dir, trust_checkpoint, resolve_device(device), seed)
    cfg = model.config
    suffix = source.suffix.lower()
    if suffix == ".wav":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            audio = trim_to_hop(normalize_audio(read_wav(source, cfg.sample_rate)), cfg.hop)
        for w in caught:  # "resampled from X Hz to 22,050 Hz": say so on the command line
            click.echo(f"note: {w.message}")
        mel = mel_spectrogram(torch.from_numpy(audio), mel_config(cfg))
    elif suffix == ".npy":
        mel = load_mel(source, cfg.n_mels)
    else:
        raise InputError(f"{source}: expected a .wav file or a .npy mel, got {suffix or 'no suffix'!r}")
    wave = synthesise(model, mel, model.prior_stats, seed=seed, progress=True)
    write_wav(out, wave.cpu().numpy(), cfg.sample_rate)
    click.echo(f"wrote {out} ({wave.numel() / cfg.sample_rate:.2f} s, {mel.shape[-1]} frames, {cfg.family})")


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--stats", "stats_dir", type=click.Path(path_type=Path), required=True,
              help="The official stats_priorgrad folder (energy_min_train.npy, energy_max_train.npy).")
@click.option("--trust-checkpoint", is_flag=True, help="Allow full unpickling of a file you trust.")
@out_option("fregrad-official", "The model folder to write (safetensors + config + prior statistics).")
def convert(checkpoint, stats_dir, trust_checkpoint, out):
    """Convert an official FreGrad (or PriorGrad-vocoder) checkpoint into a paperzoo model folder."""
    from paperzoo.fregrad.checkpoint import load_official
    from paperzoo.fregrad.model import parameter_count

    model = load_official(checkpoint, stats_dir, trust_pickle=trust_checkpoint)
    model.save_pretrained(out)
    click.echo(f"{checkpoint}: {model.config.family}, {parameter_count(model.config):,} parameters, loaded strictly; wrote {out}")


@cli.command()
@model_options
@click.option("--stats", "stats_dir", type=click.Path(path_type=Path), default=None, help="The official stats_priorgrad folder.")
@click.option("--data", default="world", show_default=True, help="'world' (held-out speech) or an LJSpeech-1.1 folder.")
@click.option("--filelist", type=click.Path(path_type=Path), default=None, help="With LJSpeech: e.g. the official filelists/test.txt.")
@click.option("--count", type=int, default=16, show_default=True, help="Clips to score.")
@click.option("--trust-checkpoint", is_flag=True)
@out_option(None, "Also write the scores here as JSON.")
@device_option
@seed_option
def evaluate(model, checkpoint, stats_dir, data, filelist, count, trust_checkpoint, out, device, seed):
    """Table 1's metrics (MR-STFT, log-mel MAE, MCD13, F0 RMSE) and the real-time factor on held-out clips."""
    from paperzoo.fregrad.data import ljspeech_corpus, world_corpus
    from paperzoo.fregrad.evaluate import evaluate as run

    model = _load(model, checkpoint, stats_dir, trust_checkpoint, resolve_device(device), seed)
    corpus = world_corpus("eval", 0) if data == "world" else ljspeech_corpus(data, filelist)
    scores = run(model, corpus, n=count, seed=seed, progress=True)
    click.echo("  ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    if out is not None:
        import json

        from paperzoo.core.atomic import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(scores, indent=1) + "\n")
        click.echo(f"wrote {out}")


@cli.command()
@click.option("--model", "models", multiple=True, default=("tiny-fregrad", "tiny-priorgrad"), show_default=True,
              metavar="NAME|FOLDER", help="A tiny-* config (a short run, trained once and cached) or a model folder; "
                                          "repeat for several.")
@click.option("--runs", type=click.Path(path_type=Path), default=None,
              help="A reproduce folder (OUT/fregrad/runs) to take the trained models from; default: train (or reuse "
                   "from the cache) a short run of each.")
@click.option("--steps", type=int, default=600, show_default=True, help="Training steps when no --runs are given.")
@out_option("fregrad-demo", "Folder for the wavs and mels.png.")
@device_option
@seed_option
def demo(models, runs, steps, out, device, seed):
    """Vocode one held-out sentence with tiny FreGrad and tiny PriorGrad (or the --model given);
    write the wavs (ground truth and one per model) and a PNG of their mel-spectrograms."""
    from paperzoo.fregrad.demo import run

    for line in run(out, models=tuple(models), runs=runs, steps=steps, device=resolve_device(device), seed=seed):
        click.echo(line)


cli.add_command(reproduce_command(
    "fregrad",
    "Tiny FreGrad vs tiny PriorGrad trained identically (3 seeds), Table 1's metrics, the speed ratios and Table "
    "2's ablations; writes OUT/fregrad/ and OUT/REPORT.md (finished runs are cached; an interrupted one resumes).",
    "A smoke run of the pipeline (200 steps of 8-frame crops, one seed, 2 sentences, no ablations): not a result.",
))
