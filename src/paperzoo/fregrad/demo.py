"""`paperzoo fregrad demo`: one held-out sentence of the speech world vocoded by tiny FreGrad
and tiny PriorGrad from its ground-truth mel; three wavs and a PNG of the three mels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

import torch

from paperzoo.core.cache import cache_dir
from paperzoo.core.cli import model_source
from paperzoo.core.errors import CheckpointError
from paperzoo.fregrad.audio import mel_spectrogram, write_wav
from paperzoo.fregrad.config import config, configs
from paperzoo.fregrad.data import mel_config, world_corpus
from paperzoo.fregrad.metrics import mr_stft
from paperzoo.fregrad.model import Vocoder
from paperzoo.fregrad.plots import mel_figure
from paperzoo.fregrad.reproduce import FULL, MAIN, run_one
from paperzoo.fregrad.vocode import vocode

TINY_NAMES = tuple(n for n in configs() if n.startswith("tiny-"))


def trained_tiny(name: str, steps: int = 600, seed: int = 0, device: str = "cpu") -> Path:
    """The model folder of a short run of a tiny-* config, trained once and then reused from the
    cache (`--model NAME` in `vocode`, `evaluate` and `demo`)."""
    budget = replace(FULL, steps=steps, checkpoint_every=0)
    run_dir = cache_dir("fregrad", "demo", f"{name}-{steps}-seed{seed}")
    run_one(name, seed, budget, run_dir, world_corpus("train", 0), world_corpus("eval", 0), eval_count=1, device=device)
    return run_dir / "model"


def run(out: str | Path, models: tuple[str, ...] = MAIN, runs: str | Path | None = None, steps: int = 600,
        device: str = "cpu", seed: int = 0) -> Iterator[str]:
    """`models`: named tiny configs (a short run each, cached) or model folders; with `runs` (a
    reproduce folder), its tiny-fregrad and tiny-priorgrad models instead."""
    out = Path(out)
    eval_corpus = world_corpus("eval", 0)
    loaded = {}
    for value in (MAIN if runs is not None else models):
        if runs is not None:
            folder = next(iter(sorted(Path(runs).glob(f"{value}-seed*/model"))), None)
            if folder is None:
                raise CheckpointError(f"{runs}: no {value}-seed*/model folder (run `paperzoo fregrad reproduce` first)")
            label = value
        else:
            kind, source = model_source(value, TINY_NAMES)
            if kind == "config":
                yield f"{value}: {steps} training steps (trained once, then reused from the cache) ..."
                folder = trained_tiny(value, steps, seed, device)
            else:
                folder = source
            label = value if kind == "config" else Path(source).name
        loaded[label] = Vocoder.from_pretrained(folder).to(device)
    clip = torch.from_numpy(eval_corpus.clip(0))
    mc = mel_config(config(MAIN[0]))
    truth = mel_spectrogram(clip, mc)
    mels = {"ground truth": truth.numpy()}
    write_wav(out / "ground_truth.wav", clip.numpy())
    for name, model in loaded.items():
        wave = vocode(model, truth.to(device), model.prior_stats, seed=seed, progress=True).cpu()
        write_wav(out / f"{name}.wav", wave.numpy())
        mels[f"{name} (MR-STFT {mr_stft(wave, clip):.3f})"] = mel_spectrogram(wave, mc).numpy()
        yield f"wrote {out / (name + '.wav')}"
    yield f"wrote {mel_figure(mels, out / 'mels.png')}"
