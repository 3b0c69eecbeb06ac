"""Waveform I/O and the log-mel front-end that conditions FreGrad (card §2, "Training").

FreGrad inherits PriorGrad's and HiFi-GAN's data pipeline, and a vocoder only works with
the mel it was trained on, so this file reproduces that front-end exactly rather than
"a" log-mel:

    wav int16 / 32768 -> peak-normalise to 0.95 (librosa.util.normalize * 0.95)
    X = ln(max(M |STFT(x)|, 1e-5))                         (the prior of §3.3 reads X)

with M the 80-band Slaney mel filterbank (librosa.filters.mel's default: Slaney's mel
scale, linear below 1 kHz and logarithmic above, each triangle area-normalised by
2 / (f_{m+2} - f_m)), n_fft = win = 1024 (periodic Hann), hop 256, fmax 8 kHz, and
HiFi-GAN's framing: reflect-pad (n_fft - hop)/2 on both sides, `center=False`, magnitude
sqrt(re^2 + im^2 + 1e-9). A waveform of T = k * 256 samples gives exactly k frames, the
length the x128 upsampler of each Haar band (L/2 = 128 k) expects.

fmin is a flag: the paper says 80 Hz, the official code (and its checkpoint) uses 0 Hz.
`MelConfig()` is the official setting, `PAPER_MEL` the paper's.

No torchaudio or librosa at runtime: the filterbank is computed here (tests check it
against values from librosa 0.11.0), wavs are read with scipy.io.wavfile and resampled
with scipy.signal.resample_poly.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.io import wavfile
from scipy.signal import resample_poly
from torch import Tensor

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import ConfigError, InputError

SAMPLE_RATE = 22050
HOP = 256
MAX_WAV_VALUE = 32768.0  # int16 full scale, the official pipeline's divisor
PEAK = 0.95  # librosa.util.normalize(audio) * 0.95
LOG_CLAMP = 1e-5  # X = ln(max(mel, 1e-5)), so X >= ln(1e-5) = -11.51


@dataclass(frozen=True)
class MelConfig:
    """The mel front-end. Defaults are the official code's (fmin = 0); see `PAPER_MEL`."""

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = HOP
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0

    def __post_init__(self) -> None:
        if not (0 < self.hop_length <= self.win_length <= self.n_fft and self.n_mels > 0):
            raise ConfigError(f"MelConfig: expected 0 < hop <= win <= n_fft and n_mels > 0, got {self}")
        if not 0.0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(f"MelConfig: expected 0 <= fmin < fmax <= sample_rate / 2, got fmin={self.fmin}, fmax={self.fmax}")


OFFICIAL_MEL = MelConfig()  # kaistmm/fregrad params.py: fmin 0, the released checkpoint's front-end
PAPER_MEL = MelConfig(fmin=80.0)  # §4.1 of the paper: fmin 80 Hz


# --- the Slaney mel scale (Auditory Toolbox; librosa's htk=False) -------------------------

_F_SP = 200.0 / 3  # Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # = 15 mel at 1 kHz
_LOGSTEP = math.log(6.4) / 27.0  # 27 mel per factor 6.4 in frequency above 1 kHz


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney mel: f / (200/3) below 1 kHz, 15 + ln(f / 1000) / (ln 6.4 / 27) above."""
    f = np.asarray(f, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, f / _F_SP)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log_part, m * _F_SP)


def mel_filterbank(cfg: MelConfig = OFFICIAL_MEL) -> Tensor:
    """(n_mels, n_fft // 2 + 1) float32: librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax).

    n_mels + 2 edge frequencies f_0 .. f_{n_mels+1} are equally spaced in Slaney mel between
    fmin and fmax; triangle m rises from f_m to f_{m+1} and falls to f_{m+2}, and is scaled
    by 2 / (f_{m+2} - f_m) so that every triangle has unit area in Hz (norm="slaney").
    """
    edges = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    fft_freqs = np.linspace(0.0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]  # (n_mels + 2, bins): f_m - f
    rising = -ramps[:-2] / widths[:-1, None]  # (f - f_m) / (f_{m+1} - f_m)
    falling = ramps[2:] / widths[1:, None]  # (f_{m+2} - f) / (f_{m+2} - f_{m+1})
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney area normalisation
    return torch.from_numpy(weights.astype(np.float32))


@lru_cache(maxsize=8)
def _filterbank_and_window(cfg: MelConfig) -> tuple[Tensor, Tensor]:
    # torch.hann_window is periodic by default, as in HiFi-GAN / PriorGrad / FreGrad
    return mel_filterbank(cfg), torch.hann_window(cfg.win_length)


def mel_spectrogram(audio: Tensor, cfg: MelConfig = OFFICIAL_MEL) -> Tensor:
    """audio (..., T) -> natural-log mel X (..., n_mels, T // hop) float32 (HiFi-GAN's framing).

    For T a multiple of hop the frame count is exactly T / hop: the padded length is
    T + n_fft - hop, so (T + n_fft - hop - n_fft) / hop + 1 = T / hop frames.
    """
    audio = torch.as_tensor(audio)
    pad = (cfg.n_fft - cfg.hop_length) // 2
    if audio.ndim < 1 or audio.shape[-1] <= pad or audio.shape[-1] + 2 * pad < cfg.n_fft:
        raise InputError(
            f"mel_spectrogram: expected audio (..., T) with T > {max(pad, cfg.n_fft - 2 * pad - 1)} samples, "
            f"got shape {tuple(audio.shape)}"
        )
    lead, length = audio.shape[:-1], audio.shape[-1]
    x = audio.reshape(-1, 1, length).float()
    x = F.pad(x, (pad, pad), mode="reflect").squeeze(1)
    basis, window = _filterbank_and_window(cfg)
    spec = torch.stft(
        x,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window.to(x.device),
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    mel = torch.matmul(basis.to(x.device), magnitude)
    log_mel = torch.log(torch.clamp(mel, min=LOG_CLAMP))
    return log_mel.reshape(*lead, cfg.n_mels, log_mel.shape[-1])


# --- waveforms -----------------------------------------------------------------------------


def _to_float(data: np.ndarray) -> np.ndarray:
    """PCM of any scipy.io.wavfile dtype -> float in [-1, 1) (int16 / 32768, as the official code)."""
    if data.dtype == np.int16:
        return data.astype(np.float32) / MAX_WAV_VALUE
    if data.dtype == np.int32:  # 32-bit, and 24-bit which scipy left-justifies into int32
        return (data.astype(np.float64) / 2.0**31).astype(np.float32)
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.floating):
        return data.astype(np.float32)
    raise InputError(f"unsupported wav sample type {data.dtype}")


def read_wav(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, resample: bool = True) -> np.ndarray:
    """A wav file -> float32 mono (T,) at `sample_rate`, int16 scaled by 1/32768.

    Stereo is averaged to mono. A file at another rate is resampled with a polyphase filter
    (scipy.signal.resample_poly, the rational factor reduced by their gcd) and a one-line
    warning says so; with resample=False it is refused, since a vocoder fed the wrong rate
    produces plausible-looking but wrong audio.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"read_wav: no such file: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"read_wav: {path} is empty (0 bytes)")
    try:
        rate, data = wavfile.read(path)
    except Exception as err:  # scipy raises ValueError / EOFError / struct.error for non-wav input
        raise InputError(f"read_wav: cannot read {path} as a wav file ({err})") from err
    audio = _to_float(data)
    if audio.ndim == 2:  # (T, channels)
        audio = audio.mean(axis=1)
    if audio.size == 0:
        raise InputError(f"read_wav: {path} holds zero samples")
    if rate != sample_rate:
        if not resample:
            raise InputError(
                f"read_wav: {path} is sampled at {rate:,} Hz, expected {sample_rate:,} Hz (pass resample=True to convert)"
            )
        g = math.gcd(int(rate), int(sample_rate))
        audio = resample_poly(audio.astype(np.float64), sample_rate // g, rate // g).astype(np.float32)
        warnings.warn(f"read_wav: {path} resampled from {rate:,} Hz to {sample_rate:,} Hz", stacklevel=2)
    return np.ascontiguousarray(audio, dtype=np.float32)


def normalize_audio(x: np.ndarray | Tensor, peak: float = PEAK) -> np.ndarray | Tensor:
    """Peak-normalise to `peak` (librosa.util.normalize(x) * 0.95, the official pipeline after /32768).

    An all-zero signal is returned unchanged (librosa leaves it alone too).
    """
    if isinstance(x, Tensor):
        top = x.abs().max().item() if x.numel() else 0.0
    else:
        x = np.asarray(x)
        top = float(np.abs(x).max()) if x.size else 0.0
    if top <= np.finfo(np.float32).tiny:
        return x
    return x * (peak / top)


def trim_to_hop(x: np.ndarray | Tensor, hop: int = HOP) -> np.ndarray | Tensor:
    """Drop the last T mod hop samples, so that T = frames * hop and mel and waveform align."""
    length = x.shape[-1]
    if length < hop:
        raise InputError(f"trim_to_hop: audio of {length} samples is shorter than one hop ({hop})")
    return x[..., : length - length % hop]


def write_wav(path: str | os.PathLike, audio: np.ndarray | Tensor, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write (T,) or (1, T) float audio as 16-bit PCM (clipped to [-1, 1]), atomically."""
    if isinstance(audio, Tensor):
        audio = audio.detach().cpu().float().numpy()
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 2 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.ndim != 1 or audio.size == 0:
        raise InputError(f"write_wav: expected non-empty mono audio (T,) or (1, T), got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise InputError(f"write_wav: audio for {path} holds NaN or inf")
    pcm = np.clip(np.round(np.clip(audio, -1.0, 1.0) * MAX_WAV_VALUE), -32768, 32767).astype(np.int16)
    path = Path(path)
    with atomic_path(path) as tmp:
        wavfile.write(tmp, sample_rate, pcm)
    return path


# --- mels from elsewhere (TTS acoustic models) -----------------------------------------------


def load_mel(path: str | os.PathLike, n_mels: int = 80) -> Tensor:
    """A .npy log-mel (n_mels, frames) or (1, n_mels, frames) -> float32 (n_mels, frames).

    The mel must be this file's front-end (natural log, clamp 1e-5, Slaney 80-band, hop 256);
    a mel from another recipe (log10, dB, other ranges) loads but will vocode badly.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"load_mel: no such file: {path}")
    try:
        mel = np.load(path, allow_pickle=False)
    except Exception as err:
        raise InputError(f"load_mel: cannot read {path} as a .npy array ({err})") from err
    if mel.ndim == 3 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.ndim != 2:
        raise InputError(f"load_mel: {path} has shape {mel.shape}, expected ({n_mels}, frames) or (1, {n_mels}, frames)")
    if mel.shape[0] != n_mels:
        hint = " (it looks transposed: frames first)" if mel.shape[1] == n_mels else ""
        raise InputError(
            f"load_mel: {path}: got {mel.shape[0]} bins, expected {n_mels}{hint}; the mel must be the "
            f"natural-log 80-band mel of card §2 (n_fft 1024, hop 256, fmax 8 kHz, ln(max(mel, 1e-5)))"
        )
    if mel.shape[1] == 0:
        raise InputError(f"load_mel: {path} holds zero frames")
    if not np.issubdtype(mel.dtype, np.number) or not np.isfinite(mel).all():
        raise InputError(f"load_mel: {path} holds NaN, inf or non-numeric values")
    return torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))
