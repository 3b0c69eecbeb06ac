"""Scoring a vocoder on held-out clips (Table 1's metrics, metrics.py) and its speed.

Each clip is vocoded from its ground-truth mel (the copy-synthesis setting of the paper)
with a seeded sampler, and compared with the clip: log-mel MAE, MR-STFT, MCD13 and F0 RMSE,
averaged over clips, plus the real-time factor (seconds of compute per second of audio).

The "prior noise" reference is what the sampler starts from, x_T ~ N(0, Σ), passed through
the same output path (iDWT for FreGrad): a trained vocoder must beat it (card §5).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from paperzoo.fregrad.data import Corpus, mel_config
from paperzoo.fregrad.audio import mel_spectrogram
from paperzoo.fregrad.metrics import f0_rmse, log_mel_mae, mcd13, mr_stft
from paperzoo.fregrad.prior import EnergyStats, sample_sigma
from paperzoo.fregrad.vocode import from_bands, vocode

METRICS = ("mr_stft", "mae", "mcd13", "f0_rmse")


def score(pred: torch.Tensor, target: torch.Tensor, mel_cfg) -> dict[str, float]:
    return {"mr_stft": mr_stft(pred, target), "mae": log_mel_mae(pred, target, mel_cfg),
            "mcd13": mcd13(pred, target, mel_cfg), "f0_rmse": f0_rmse(pred, target)}


def _mean(rows: list[dict]) -> dict[str, float]:
    out = {}
    for k in rows[0]:
        vals = [r[k] for r in rows if not math.isnan(r[k])]
        out[k] = float(np.mean(vals)) if vals else float("nan")
    return out


@torch.no_grad()
def evaluate(model, corpus: Corpus, stats: EnergyStats | None = None, n: int | None = None, seed: int = 0,
             progress: bool = False, outputs: list | None = None) -> dict[str, float]:
    """Mean metrics over the first `n` clips, plus "rtf" and "seconds" (of audio); the vocoded
    clips are appended to `outputs` when it is given."""
    stats = stats or model.prior_stats
    mc = mel_config(model.config)
    rows, compute, audio_seconds = [], 0.0, 0.0
    for i in tqdm(range(min(n or len(corpus), len(corpus))), desc="evaluate", leave=False, disable=not progress):
        clip = torch.from_numpy(corpus.clip(i))
        mel = mel_spectrogram(clip, mc)
        start = time.perf_counter()
        pred = vocode(model, mel, stats, seed=seed + i)
        compute += time.perf_counter() - start
        audio_seconds += len(clip) / model.config.sample_rate
        rows.append(score(pred, clip, mc))
        if outputs is not None:
            outputs.append(pred)
    return {**_mean(rows), "rtf": compute / audio_seconds, "seconds": audio_seconds}


def prior_noise_scores(config, corpus: Corpus, stats: EnergyStats, n: int | None = None, seed: int = 0) -> dict[str, float]:
    """The metrics of x_T ~ N(0, Σ) through the output path: the floor a trained model must beat."""
    mc = mel_config(config)
    rows = []
    for i in range(min(n or len(corpus), len(corpus))):
        clip = torch.from_numpy(corpus.clip(i))
        mel = mel_spectrogram(clip, mc)
        sigma = sample_sigma(mel[None], stats, config)
        g = torch.Generator().manual_seed(seed + i)
        noise = (torch.randn(sigma.shape, generator=g) * sigma).clamp(-1, 1)
        rows.append(score(from_bands(noise, config.cutoff_filter, config.sample_rate)[0].clamp(-1, 1), clip, mc))
    return _mean(rows)
