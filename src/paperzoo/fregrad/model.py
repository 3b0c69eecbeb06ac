"""The denoiser ε_θ(x_t, t, X): DiffWave's backbone (Kong et al. 2021) as FreGrad and
PriorGrad use it (§3, Figs. 2-3).

    x_t [B, bands, N] -> 1x1 conv -> ReLU -> 30 residual blocks -> sum(skips) / sqrt(30)
      -> 1x1 conv -> ReLU -> 1x1 conv (zero-initialised) -> ε̂ [B, bands, N]

with N = L / bands samples per band (FreGrad: the two Haar sub-bands of length L/2;
PriorGrad: the waveform). Each residual block (Fig. 2):

    y = x + Linear(emb(t))                         (the step, broadcast over time)
    y = dilated_conv(y) + Conv1x1(mel_up)          (Freq-DConv in FreGrad, §3.2)
    y = sigmoid(y_gate) * tanh(y_filter)
    residual, skip = Conv1x1(y)                    x <- (x + residual) / sqrt(2)

The mel is upsampled to one value per band sample by two transposed 2-D convs (x16 x8 in
FreGrad, x16 x16 in PriorGrad), and the step t by a sinusoidal table through a two-layer
SiLU MLP; a fractional t interpolates the table (used by fast schedules). Module names
follow the official code so its checkpoints load one to one (checkpoint.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.fregrad.config import VocoderConfig, registry
from paperzoo.fregrad.freq_dconv import FreqDConv
from paperzoo.fregrad.prior import EnergyStats

STATS_NAME = "prior_stats.json"


def kaiming_conv1d(*args, **kwargs) -> nn.Conv1d:
    """DiffWave's 1x1 convs: Kaiming-normal weights, PyTorch's default bias."""
    layer = nn.Conv1d(*args, **kwargs)
    nn.init.kaiming_normal_(layer.weight)
    return layer


class DiffusionEmbedding(nn.Module):
    """t -> sin/cos(t * 10^(4 j / 63)), j < 64 -> Linear 128 -> E -> SiLU -> Linear E -> E -> SiLU."""

    def __init__(self, max_steps: int, width: int):
        super().__init__()
        steps = torch.arange(max_steps, dtype=torch.float32)[:, None]
        table = steps * 10.0 ** (torch.arange(64, dtype=torch.float32)[None] * 4.0 / 63.0)
        self.register_buffer("embedding", torch.cat([table.sin(), table.cos()], dim=1), persistent=False)
        self.projection1 = nn.Linear(128, width)
        self.projection2 = nn.Linear(width, width)

    def forward(self, t: Tensor) -> Tensor:
        if t.dtype in (torch.int32, torch.int64):
            x = self.embedding[t]
        else:  # fractional steps: linear interpolation between table rows
            low, high = t.floor().long(), t.ceil().long()
            x = self.embedding[low] + (self.embedding[high] - self.embedding[low]) * (t - low)[:, None]
        return F.silu(self.projection2(F.silu(self.projection1(x))))


class SpectrogramUpsampler(nn.Module):
    """[B, n_mels, frames] -> [B, n_mels, frames * prod(strides)], LeakyReLU(0.4) after each conv."""

    def __init__(self, strides: tuple[int, ...]):
        super().__init__()
        for i, s in enumerate(strides, 1):
            self.add_module(f"conv{i}", nn.ConvTranspose2d(1, 1, [3, 2 * s], stride=[1, s], padding=[1, s // 2]))
        self.depth = len(strides)

    def forward(self, mel: Tensor) -> Tensor:
        x = mel.unsqueeze(1)
        for i in range(1, self.depth + 1):
            x = F.leaky_relu(getattr(self, f"conv{i}")(x), 0.4)
        return x.squeeze(1)


class ResidualBlock(nn.Module):
    def __init__(self, config: VocoderConfig, dilation: int):
        super().__init__()
        c = config.residual_channels
        if config.freq_dconv:
            self.dilated_conv = FreqDConv(c, 2 * c, 3, dilation=dilation)
        elif config.kaiming_dilated:
            self.dilated_conv = kaiming_conv1d(c, 2 * c, 3, padding=dilation, dilation=dilation)
        else:
            self.dilated_conv = nn.Conv1d(c, 2 * c, 3, padding=dilation, dilation=dilation)
        self.diffusion_projection = nn.Linear(config.embedding_dim, c)
        self.conditioner_projection = kaiming_conv1d(config.n_mels, 2 * c, 1)
        self.output_projection = kaiming_conv1d(c, 2 * c, 1)

    def forward(self, x: Tensor, mel: Tensor, emb: Tensor) -> tuple[Tensor, Tensor]:
        y = x + self.diffusion_projection(emb).unsqueeze(-1)
        y = self.dilated_conv(y) + self.conditioner_projection(mel)
        gate, filt = y.chunk(2, dim=1)
        residual, skip = self.output_projection(torch.sigmoid(gate) * torch.tanh(filt)).chunk(2, dim=1)
        return (x + residual) / math.sqrt(2.0), skip


class Vocoder(PretrainedMixin, nn.Module):
    """FreGrad or PriorGrad / DiffWave, by config: `Vocoder("tiny-fregrad")`.

    forward(x_t [B, bands, N], mel [B, n_mels, frames], t [B] or [1]) -> ε̂ [B, bands, N],
    with N = frames * hop / bands. `prior_stats` (the training set's energy range, prior.py)
    travels with the weights: `save_pretrained` writes it beside them.
    """

    config_class = VocoderConfig

    def __init__(self, config: VocoderConfig | str):
        super().__init__()
        self.config = config = registry.get(config)
        c = config.residual_channels
        self.input_projection = kaiming_conv1d(config.bands, c, 1)
        self.diffusion_embedding = DiffusionEmbedding(config.steps, config.embedding_dim)
        self.spectrogram_upsampler = SpectrogramUpsampler(config.upsample_strides)
        self.residual_layers = nn.ModuleList(
            ResidualBlock(config, 2 ** (i % config.dilation_cycle)) for i in range(config.residual_layers))
        self.skip_projection = kaiming_conv1d(c, c, 1)
        self.output_projection = kaiming_conv1d(c, config.bands, 1)
        nn.init.zeros_(self.output_projection.weight)
        self.prior_stats: EnergyStats | None = None

    def save_extra(self, folder: Path) -> None:
        if self.prior_stats is not None:
            s = self.prior_stats
            (folder / STATS_NAME).write_text(json.dumps({"energy_min": s.energy_min, "energy_max": s.energy_max}) + "\n")

    def load_extra(self, folder: Path) -> None:
        path = folder / STATS_NAME
        if path.is_file():
            try:
                self.prior_stats = EnergyStats(**json.loads(path.read_text()))
            except (ValueError, TypeError) as err:
                raise CheckpointError(f"{path} is corrupt ({err})") from None

    def forward(self, x: Tensor, mel: Tensor, t: Tensor) -> Tensor:
        cfg = self.config
        if x.ndim != 3 or x.shape[1] != cfg.bands or mel.ndim != 3 or mel.shape[1] != cfg.n_mels:
            raise InputError(f"Vocoder: expected x [B, {cfg.bands}, N] and mel [B, {cfg.n_mels}, frames], "
                             f"got {tuple(x.shape)} and {tuple(mel.shape)}")
        if x.shape[-1] * cfg.bands != mel.shape[-1] * cfg.hop:
            raise InputError(f"Vocoder: {mel.shape[-1]} mel frames need {mel.shape[-1] * cfg.hop // cfg.bands} samples "
                             f"per band, got {x.shape[-1]}")
        h = F.relu(self.input_projection(x))
        emb = self.diffusion_embedding(t)
        mel = self.spectrogram_upsampler(mel)
        skip = None
        for layer in self.residual_layers:
            h, s = layer(h, mel, emb)
            skip = s if skip is None else skip + s
        h = F.relu(self.skip_projection(skip / math.sqrt(len(self.residual_layers))))
        return self.output_projection(h)


def parameter_count(config: VocoderConfig | str) -> int:
    """Exact, without allocating weights (meta device)."""
    with torch.device("meta"):
        return sum(p.numel() for p in Vocoder(config).parameters())
