"""`paperzoo fregrad ...`: named configs, training (speech world or LJSpeech), vocoding a wav
or a mel, official checkpoints, the demo, evaluation and the small-scale reproduction."""

from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, out_option, reproduce_command, resolve_device, seed_option


@click.group(cls=Group)
def cli():
    """FreGrad: lightweight and fast frequency-aware diffusion vocoder (arXiv 2401.10032), with its
    PriorGrad / DiffWave baseline."""


@cli.command()
def configs():
    """List the named configs with exact parameter counts (vs the paper's)."""
    from paperzoo.fregrad.config import PAPER_PARAMS, config, configs as names
    from paperzoo.fregrad.model import parameter_count

    click.echo(f"{'config':<28}{'family':<11}{'params':>12}{'paper':>12}")
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
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True,
              help="A model folder (from `train`, `convert` or `demo`) or an official weights-*.pt file.")
@click.option("--stats", "stats_dir", type=click.Path(path_type=Path), default=None,
              help="The official stats_priorgrad folder (needed with an official .pt file).")
@click.option("--trust-checkpoint", is_flag=True, help="Allow full unpickling of an official file you trust.")
@out_option("vocoded.wav", "The wav to write (22,050 Hz, 16-bit).")
@device_option
@seed_option
def vocode(source, checkpoint, stats_dir, trust_checkpoint, out, device, seed):
    """Synthesise a waveform from SOURCE: a .wav (its mel is computed: copy synthesis; another
    sample rate is resampled to 22,050 Hz with a warning) or a .npy natural-log mel [80, frames]."""
    import warnings

    import torch

    from paperzoo.core.errors import InputError
    from paperzoo.fregrad.audio import load_mel, mel_spectrogram, normalize_audio, read_wav, trim_to_hop, write_wav
    from paperzoo.fregrad.data import mel_config
    from paperzoo.fregrad.load import load_vocoder
    from paperzoo.fregrad.vocode import vocode as synthesise

    model = load_vocoder(checkpoint, stats_dir, trust_checkpoint).to(resolve_device(device))
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
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True, help="A model folder or an official .pt file.")
@click.option("--stats", "stats_dir", type=click.Path(path_type=Path), default=None, help="The official stats_priorgrad folder.")
@click.option("--data", default="world", show_default=True, help="'world' (held-out speech) or an LJSpeech-1.1 folder.")
@click.option("--filelist", type=click.Path(path_type=Path), default=None, help="With LJSpeech: e.g. the official filelists/test.txt.")
@click.option("--count", type=int, default=16, show_default=True, help="Clips to score.")
@click.option("--trust-checkpoint", is_flag=True)
@device_option
@seed_option
def evaluate(checkpoint, stats_dir, data, filelist, count, trust_checkpoint, device, seed):
    """Table 1's metrics (MR-STFT, log-mel MAE, MCD13, F0 RMSE) and the real-time factor on held-out clips."""
    from paperzoo.fregrad.data import ljspeech_corpus, world_corpus
    from paperzoo.fregrad.evaluate import evaluate as run
    from paperzoo.fregrad.load import load_vocoder

    model = load_vocoder(checkpoint, stats_dir, trust_checkpoint).to(resolve_device(device))
    corpus = world_corpus("eval", 0) if data == "world" else ljspeech_corpus(data, filelist)
    scores = run(model, corpus, n=count, seed=seed, progress=True)
    click.echo("  ".join(f"{k} {v:.4f}" for k, v in scores.items()))


@cli.command()
@click.option("--runs", type=click.Path(path_type=Path), default=None,
              help="A reproduce folder (OUT/fregrad/runs) to take the trained models from; default: train (or reuse "
                   "from the cache) a short run of each.")
@click.option("--steps", type=int, default=600, show_default=True, help="Training steps when no --runs are given.")
@out_option("fregrad-demo", "Folder for the wavs and mels.png.")
@device_option
@seed_option
def demo(runs, steps, out, device, seed):
    """Vocode one held-out sentence with tiny FreGrad and tiny PriorGrad; write the three wavs
    (ground truth, FreGrad, PriorGrad) and a PNG of their mel-spectrograms."""
    from paperzoo.fregrad.demo import run

    for line in run(out, runs=runs, steps=steps, device=resolve_device(device), seed=seed):
        click.echo(line)


cli.add_command(reproduce_command(
    "fregrad",
    "Tiny FreGrad vs tiny PriorGrad trained identically (2 seeds), Table 1's metrics, the speed ratios and Table "
    "2's ablations; writes OUT/fregrad/ and OUT/REPORT.md (finished runs are cached).",
    "A smoke run of the pipeline (60 steps, one seed, no ablations): not a result.",
))
