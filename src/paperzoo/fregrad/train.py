"""Training a vocoder (§4.1) on the shared Trainer: Adam (0.9, 0.999) at a constant 2e-4,
batch 16 of 62-frame crops, no gradient clipping, T = 50; the same loop trains FreGrad and
PriorGrad / DiffWave (the loss and the model's domain follow the config).

One step (Eqs. 3, 9, 10): crop -> mel and prior sigma of the crop -> Haar sub-bands x_0
(FreGrad) -> t ~ U{0..T-1}, ε ~ N(0, Σ) -> x_t -> ε̂ = ε_θ(x_t, t, X) -> loss.
Runs unchanged under `accelerate launch` (each process takes its share of every batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from paperzoo.core.errors import ConfigError
from paperzoo.core.seeding import seed_everything
from paperzoo.core.trainer import Trainer, make_accelerator
from paperzoo.fregrad.config import VocoderConfig, registry
from paperzoo.fregrad.data import Corpus, corpus_stats, crop_audio, training_batch
from paperzoo.fregrad.diffusion import q_sample, training_betas
from paperzoo.fregrad.loss import RESOLUTIONS, vocoder_loss
from paperzoo.fregrad.model import Vocoder
from paperzoo.fregrad.prior import EnergyStats
from paperzoo.fregrad.schedule import gammas


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1_000_000
    batch_size: int = 16  # over all processes
    crop_frames: int = 62
    lr: float = 2e-4
    checkpoint_every: int = 50_000
    mixed_precision: str = "no"


# card §5: batch 8 of 32-frame crops, 1,500 steps; lr 1e-3 instead of 2e-4 for so short a run (README)
TINY_TRAIN = TrainConfig(steps=1500, batch_size=8, crop_frames=32, lr=1e-3, checkpoint_every=500)


def diffusion_loss(model: nn.Module, batch: dict) -> dict:
    """Eqs. 3 and 10 for one batch (random t and ε drawn here, from torch's seeded RNG)."""
    config: VocoderConfig = batch["config"]
    x0, mel, sigma = batch["x0"], batch["mel"], batch["sigma"]
    gamma = gammas(training_betas(config)).to(x0)
    t = torch.randint(0, config.steps, (x0.shape[0],), device=x0.device)
    noise = torch.randn_like(x0) * sigma
    pred = model(q_sample(x0, t, noise, gamma), mel, t)
    return vocoder_loss(pred.float(), noise, sigma, config.mag_weight, config.mag_res)


@torch.no_grad()
def validation_loss(model: nn.Module, batch: dict, seed: int = 0) -> dict[str, float]:
    """The training loss on a fixed batch with fixed draws of t and ε (seeded), so that two
    models, or one model before and after training, are compared on the same terms. Every
    step t is visited in turn across the batch rows, as the official validation loop samples t."""
    config: VocoderConfig = batch["config"]
    x0, mel, sigma = batch["x0"], batch["mel"], batch["sigma"]
    g = torch.Generator().manual_seed(seed)
    gamma = gammas(training_betas(config)).to(x0)
    t = torch.arange(x0.shape[0]) % config.steps
    noise = torch.randn(x0.shape, generator=g) * sigma
    pred = model(q_sample(x0, t, noise, gamma), mel, t)
    return {k: float(v) for k, v in vocoder_loss(pred, noise, sigma, config.mag_weight, config.mag_res).items()}


def train(config: VocoderConfig | str, corpus: Corpus, out_dir: str | Path, seed: int = 0, device: str = "cpu",
          train_config: TrainConfig = TINY_TRAIN, stats: EnergyStats | None = None, resume: bool = False,
          progress: bool = True, desc: str | None = None) -> tuple[Vocoder, list[dict]]:
    """Train from scratch (or resume from OUT/checkpoint); writes OUT/model (weights, config, prior stats)."""
    config = registry.get(config)
    tc = train_config
    longest = max(fft for fft, _, _ in RESOLUTIONS[config.mag_res])
    if config.mag_weight > 0 and tc.crop_frames * config.hop // config.bands <= longest // 2:
        raise ConfigError(f"crop of {tc.crop_frames} frames is too short for L_mag's {longest}-point STFT on "
                          f"{config.hop // config.bands} samples per frame and band; use at least "
                          f"{longest // 2 * config.bands // config.hop + 1} frames")
    stats = stats or corpus_stats(corpus, config, progress=progress)
    seed_everything(seed)
    model = Vocoder(config)
    model.prior_stats = stats
    accelerator = make_accelerator(device, tc.mixed_precision)
    rank, world = accelerator.process_index, accelerator.num_processes

    def batch_fn(step: int) -> dict:
        audio = crop_audio(corpus, step, tc.batch_size, tc.crop_frames, config.hop, seed)[rank::world]
        return {**training_batch(audio, config, stats), "config": config}

    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr, betas=(0.9, 0.999))
    trainer = Trainer(model, optimizer, None, out_dir, accelerator=accelerator, checkpoint_every=tc.checkpoint_every,
                      desc=desc or f"train {config.family}", progress=progress)
    history = trainer.fit(batch_fn, diffusion_loss, tc.steps, resume=resume)
    trainer.save_final()
    trained = trainer.unwrapped
    trained.prior_stats = stats
    return trained, history
