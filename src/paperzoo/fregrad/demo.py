"""`paperzoo fregrad demo`: one held-out sentence of the speech world vocoded by tiny FreGrad
and tiny PriorGrad from its ground-truth mel; three wavs and a PNG of the three mels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

import torch

from paperzoo.core.cache import cache_dir
from paperzoo.core.errors import CheckpointError
from paperzoo.fregrad.audio import mel_spectrogram, write_wav
from paperzoo.fregrad.config import config
from paperzoo.fregrad.data import mel_config, world_corpus
from paperzoo.fregrad.metrics import mr_stft
from paperzoo.fregrad.model import Vocoder
from paperzoo.fregrad.plots import mel_figure
from paperzoo.fregrad.reproduce import FULL, MAIN, run_one
from paperzoo.fregrad.vocode import vocode


def run(out: str | Path, runs: str | Path | None = None, steps: int = 600, device: str = "cpu", seed: int = 0) -> Iterator[str]:
    out = Path(out)
    train_corpus, eval_corpus = world_corpus("train", 0), world_corpus("eval", 0)
    models = {}
    for name in MAIN:
        if runs is not None:
            folder = next(iter(sorted(Path(runs).glob(f"{name}-seed*/model"))), None)
            if folder is None:
                raise CheckpointError(f"{runs}: no {name}-seed*/model folder (run `paperzoo fregrad reproduce` first)")
        else:  # a short run, cached so that a second demo starts at once
            budget = replace(FULL, steps=steps)
            run_dir = cache_dir("fregrad", "demo", f"{name}-{steps}-seed{seed}")
            yield f"{name}: {steps} training steps (trained once, then reused from {run_dir}) ..."
            run_one(name, seed, budget, run_dir, train_corpus, eval_corpus, eval_count=1, device=device)
            folder = run_dir / "model"
        models[name] = Vocoder.from_pretrained(folder).to(device)
    clip = torch.from_numpy(eval_corpus.clip(0))
    mc = mel_config(config(MAIN[0]))
    truth = mel_spectrogram(clip, mc)
    mels = {"ground truth": truth.numpy()}
    write_wav(out / "ground_truth.wav", clip.numpy())
    for name, model in models.items():
        wave = vocode(model, truth.to(device), model.prior_stats, seed=seed, progress=True).cpu()
        write_wav(out / f"{name}.wav", wave.numpy())
        mels[f"{name} (MR-STFT {mr_stft(wave, clip):.3f})"] = mel_spectrogram(wave, mc).numpy()
        yield f"wrote {out / (name + '.wav')}"
    yield f"wrote {mel_figure(mels, out / 'mels.png')}"
