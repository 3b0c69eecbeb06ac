"""Mel -> waveform: the prior from the mel (§3.3), the reverse diffusion (Eq. 4), and for
FreGrad the inverse Haar transform of the two denoised sub-bands (Eq. 5).

With `config.cutoff_filter` (the code's default) both sub-bands are band-filtered before
the iDWT (5 Hz high-pass, 5.5 kHz low-pass at the sub-band rate; biquad.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from paperzoo.core.errors import InputError
from paperzoo.fregrad.biquad import band_filter
from paperzoo.fregrad.diffusion import p_sample_loop
from paperzoo.fregrad.dwt import haar_idwt
from paperzoo.fregrad.prior import EnergyStats, sample_sigma


def from_bands(x: Tensor, cutoff_filter: bool = False, sample_rate: int = 22050) -> Tensor:
    """[B, bands, N] in the model's domain -> waveform [B, N * bands]."""
    if x.shape[1] == 1:
        return x[:, 0]
    low, high = x[:, 0], x[:, 1]
    if cutoff_filter:
        low, high = (band_filter(b, high_cutoff=5.0, sample_rate=sample_rate / 2) for b in (low, high))
    return haar_idwt(low, high)


@torch.no_grad()
def vocode(model, log_mel: Tensor, stats: EnergyStats, betas: Tensor | None = None, seed: int | None = None,
           progress: bool = False) -> Tensor:
    """log-mel [n_mels, frames] or [B, n_mels, frames] -> waveform [frames * hop] or [B, frames * hop], in [-1, 1]."""
    config = model.config
    single = log_mel.ndim == 2
    mel = log_mel[None] if single else log_mel
    if mel.ndim != 3 or mel.shape[1] != config.n_mels:
        raise InputError(f"vocode: expected a log-mel [{config.n_mels}, frames] (or batched), got shape {tuple(log_mel.shape)}")
    if mel.shape[-1] < 1 or not torch.isfinite(mel).all():
        raise InputError("vocode: the mel is empty or holds non-finite values")
    device = next(model.parameters()).device
    mel = mel.to(device=device, dtype=torch.float32)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    sigma = sample_sigma(mel, stats, config)
    x = p_sample_loop(model, mel, sigma, betas=betas, generator=generator, progress=progress)
    audio = from_bands(x, config.cutoff_filter, config.sample_rate).clamp(-1.0, 1.0)
    return audio[0] if single else audio
