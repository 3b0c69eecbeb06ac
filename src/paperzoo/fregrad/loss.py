"""FreGrad's training objective (§3.3, Eqs. 9-10):

    L = sum_{i in {l, h}} ||ε^i - ε̂^i||^2_{Σ_i^-1} + λ L_mag(ε^i, ε̂^i),   λ = 0.1

The first term is PriorGrad's Mahalanobis loss, computed as the code does: the mean over
samples of ((ε̂ - ε) / sigma)^2, per band. L_mag is the log-magnitude part of a
multi-resolution STFT loss on the wavelet-domain noise (no spectral-convergence term: the
paper found it hurt): the mean over resolutions of L1(log|STFT ε|, log|STFT ε̂|), power
clamped at 1e-7. With one band and λ = 0 this is PriorGrad's loss; with sigma = 1, DiffWave's.

Resolutions (config `mag_res`): "official" (FFT 512 / 1024 / 256, hop 50 / 120 / 30, window
300 / 600 / 128, as the code trains) or "paper" (FFT 512 / 1024 / 2048, window 240 / 600 /
1200; hops 50 / 120 / 240 are not stated and follow Parallel WaveGAN).
"""

from __future__ import annotations

import torch
from torch import Tensor

RESOLUTIONS = {  # (fft, hop, window)
    "official": ((512, 50, 300), (1024, 120, 600), (256, 30, 128)),
    "paper": ((512, 50, 240), (1024, 120, 600), (2048, 240, 1200)),
}


def stft_magnitude(x: Tensor, fft: int, hop: int, win: int) -> Tensor:
    """|STFT| of [B, N] (Hann window, centred), power clamped at 1e-7."""
    spec = torch.stft(x, fft, hop, win, torch.hann_window(win, device=x.device, dtype=x.dtype), return_complex=True)
    return (spec.real**2 + spec.imag**2).clamp(min=1e-7).sqrt()


def log_magnitude_loss(target: Tensor, pred: Tensor, resolutions: str = "official") -> Tensor:
    """L_mag of Eq. 10 for [B, N] signals: the mean over resolutions of the log-magnitude L1."""
    total = 0.0
    for fft, hop, win in RESOLUTIONS[resolutions]:
        total = total + (stft_magnitude(target, fft, hop, win).log() - stft_magnitude(pred, fft, hop, win).log()).abs().mean()
    return total / len(RESOLUTIONS[resolutions])


def prior_mse(pred: Tensor, target: Tensor, sigma: Tensor) -> Tensor:
    """||ε - ε̂||^2_{Σ^-1} as the code computes it: mean(((ε̂ - ε) / sigma)^2)."""
    return ((pred - target) / sigma).pow(2).mean()


def vocoder_loss(pred: Tensor, noise: Tensor, sigma: Tensor, mag_weight: float = 0.1,
                 resolutions: str = "official") -> dict[str, Tensor]:
    """Eq. 10 summed over bands. pred, noise, sigma: [B, bands, N]. Returns the total and its parts."""
    mse = sum(prior_mse(pred[:, i], noise[:, i], sigma[:, i]) for i in range(pred.shape[1]))
    out = {"mse": mse}
    if mag_weight > 0:
        out["mag"] = sum(log_magnitude_loss(noise[:, i], pred[:, i], resolutions) for i in range(pred.shape[1]))
        out["loss"] = mse + mag_weight * out["mag"]
    else:
        out["loss"] = mse
    return out
