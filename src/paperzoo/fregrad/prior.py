"""The data-dependent prior N(0, Σ) of PriorGrad (Lee et al. 2022) and FreGrad's per-band
version (§3.3, "Prior distribution").

From the log-mel X (natural log) of a clip, the frame energy is the root of the summed mel
power. PriorGrad uses all bins; FreGrad one energy per sub-band, the low band from the mel
bins below 40 and the high band from the rest:

    E_l = sqrt(sum_{k<40} e^{X_k}),  E_h = sqrt(sum_{k>=40} e^{X_k})
    sigma = max((E - E_min) / (E_max - E_min), std_min)

with E_min / E_max the smallest / largest full-band frame energy of the training set and
E_max overridden to 4.0 (the code's `max_energy_override`). Each frame's sigma is repeated
for the hop / bands samples it covers, so Σ = diag(sigma^2) has one entry per sample of a
band. Code details kept as written: only E_l (the full-band E in PriorGrad) is clipped at
E_max before normalising; with `prior_filter="official"` each band's sigma sequence is
band-filtered (biquad.py) and clamped at std_min again.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from paperzoo.core.errors import InputError
from paperzoo.fregrad.biquad import band_filter
from paperzoo.fregrad.config import VocoderConfig


@dataclass(frozen=True)
class EnergyStats:
    """Training-set frame energies (full band): the prior's normalisation."""

    energy_min: float
    energy_max: float

    def __post_init__(self):
        if not self.energy_max > self.energy_min >= 0:
            raise InputError(f"EnergyStats: need 0 <= energy_min < energy_max, got {self.energy_min}, {self.energy_max}")


def frame_energy(log_mel: Tensor, bins: slice = slice(None)) -> Tensor:
    """[..., n_mels, frames] -> [..., frames]: sqrt of the summed mel power over `bins`."""
    return log_mel[..., bins, :].exp().sum(-2).sqrt()


def energy_stats(log_mels, max_energy: float | None = 4.0) -> EnergyStats:
    """E_min / E_max over the frames of a training set of log-mels (each [n_mels, frames]);
    E_max is replaced by `max_energy` when given (the code's override)."""
    lo, hi = float("inf"), float("-inf")
    for m in log_mels:
        e = frame_energy(m)
        lo, hi = min(lo, float(e.min())), max(hi, float(e.max()))
    if lo == float("inf"):
        raise InputError("energy_stats: no training mels given")
    return EnergyStats(lo, hi if max_energy is None else max_energy)


def _normalise(energy: Tensor, stats: EnergyStats, config: VocoderConfig, clip_max: bool) -> Tensor:
    if clip_max and config.max_energy is not None:
        energy = energy.clamp(max=config.max_energy)
    sigma = ((energy - stats.energy_min) / (stats.energy_max - stats.energy_min)).clamp(min=config.std_min)
    if config.prior_filter == "official":
        sigma = band_filter(sigma, high_cutoff=15.0).clamp(min=config.std_min)
    return sigma


def frame_sigma(log_mel: Tensor, stats: EnergyStats, config: VocoderConfig) -> Tensor:
    """Per-frame sigma: [..., n_mels, frames] -> [..., bands, frames] (ones for prior "none")."""
    if log_mel.shape[-2] != config.n_mels:
        raise InputError(f"prior: the mel has {log_mel.shape[-2]} bins, the config expects {config.n_mels}")
    ones = torch.ones_like(log_mel[..., 0, :])
    if config.prior == "none":
        return ones.unsqueeze(-2).expand(*ones.shape[:-1], config.bands, ones.shape[-1]).clone()
    if config.prior == "single":
        sigma = _normalise(frame_energy(log_mel), stats, config, clip_max=True)
        return sigma.unsqueeze(-2).expand(*sigma.shape[:-1], config.bands, sigma.shape[-1]).clone()
    low = _normalise(frame_energy(log_mel, slice(None, config.prior_split)), stats, config, clip_max=True)
    high = _normalise(frame_energy(log_mel, slice(config.prior_split, None)), stats, config, clip_max=False)
    return torch.stack((low, high), dim=-2)


def sample_sigma(log_mel: Tensor, stats: EnergyStats, config: VocoderConfig) -> Tensor:
    """sigma per band sample: [B, n_mels, frames] -> [B, bands, frames * hop / bands]."""
    return frame_sigma(log_mel, stats, config).repeat_interleave(config.hop // config.bands, dim=-1)
