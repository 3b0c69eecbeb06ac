"""Loading the official checkpoints (kaistmm/fregrad's `weights-1000000.pt`, and
PriorGrad-vocoder's, which share the layout) into `Vocoder` (card §6).

An official file is a torch pickle {step, model, optimizer, params, scaler}: `params` is the
run's hyperparameter dict (its noise_schedule already the zero-SNR betas for FreGrad) and
`model` a state dict whose names match ours one to one (we kept the official module names),
except for
- a `module.` prefix when it was saved from DDP (stripped);
- `residual_layers.*.dilated_conv.{dwt.h0, dwt.h1, idwt.g0, idwt.g1}`: pytorch_wavelets' Haar
  filter buffers (120 of them in FreGrad). They are checked to be the Haar filters and
  dropped: our Freq-DConv computes the transform itself.
The prior's statistics come from the official `stats_priorgrad/energy_{min,max}_train.npy`
(the release asks for that folder beside the data); E_max is overridden by the checkpoint's
`max_energy_override`. The loaded config keeps the file's `noise_schedule` (float32 values) as
`betas`, so the model samples with the schedule the official sampler uses. Use the official mel
front-end (fmin 0) with it. Parity with the official code: tests/fregrad/test_official_parity.py.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from paperzoo.core.errors import CheckpointError
from paperzoo.fregrad.config import FREGRAD, PRIORGRAD, VocoderConfig
from paperzoo.fregrad.diffusion import training_betas
from paperzoo.fregrad.model import Vocoder
from paperzoo.fregrad.prior import EnergyStats

HAAR_BUFFERS = ("dwt.h0", "dwt.h1", "idwt.g0", "idwt.g1")


def _read(path: Path, trust_pickle: bool) -> dict:
    if not path.is_file():
        raise CheckpointError(f"official checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as err:  # unpickling errors come in many types
        hint = "" if trust_pickle else " (if you trust the file, allow full unpickling with --trust-checkpoint)"
        raise CheckpointError(f"official checkpoint {path} is unreadable ({type(err).__name__}: {err}){hint}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "params" not in ckpt:
        raise CheckpointError(f"{path}: expected the official layout {{step, model, optimizer, params, scaler}}, "
                              f"got {sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__}")
    return ckpt


def config_from_params(params: dict, path: Path | str = "checkpoint") -> VocoderConfig:
    """Our config for an official `params` dict (FreGrad when audio_channels is 2, else PriorGrad)."""
    try:
        bands = int(params.get("audio_channels", 1))
        base = FREGRAD if bands == 2 else PRIORGRAD
        config = replace(
            base, residual_channels=int(params["residual_channels"]), residual_layers=int(params["residual_layers"]),
            dilation_cycle=int(params["dilation_cycle_length"]), n_mels=int(params["n_mels"]),
            hop=int(params["hop_samples"]), sample_rate=int(params["sample_rate"]), fmin=float(params.get("fmin", 0)),
            fmax=float(params.get("fmax", 8000)), std_min=float(params.get("std_min", 0.1)),
            max_energy=params.get("max_energy_override"), steps=len(params["noise_schedule"]),
            cutoff_filter=bool(params.get("enable_remove_cutoff_alias", bands == 2)),
            prior="separate" if bands == 2 else ("single" if params.get("use_prior", True) else "none"))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its params lack or mangle a field ({err!r})") from None
    betas = torch.tensor(params["noise_schedule"], dtype=torch.float64)
    for schedule in ("zero-snr", "linear"):
        candidate = replace(config, schedule=schedule)
        if torch.allclose(betas, training_betas(candidate), rtol=1e-3, atol=1e-6):
            # sample with the checkpoint's own (float32) betas, as the official sampler does
            return replace(candidate, betas=tuple(betas.tolist()))
    raise CheckpointError(f"{path}: its noise_schedule is neither the zero-SNR nor the linear schedule of "
                          f"{len(betas)} steps (first betas {betas[:3].tolist()})")


def _check_haar(name: str, value: torch.Tensor) -> None:
    v = value.detach().double().flatten()
    if v.numel() != 2 or not torch.allclose(v.abs(), torch.full_like(v, 1 / math.sqrt(2)), atol=1e-5):
        raise CheckpointError(f"checkpoint buffer {name} is not a Haar filter (got {v.tolist()}); only 'haar' (db1) "
                              "Freq-DConv checkpoints are supported")


def official_state_dict(state: dict) -> dict:
    """The official model state dict in our names: prefix stripped, Haar buffers checked and dropped."""
    out = {}
    for name, value in state.items():
        name = name.removeprefix("module.")
        if name.endswith(HAAR_BUFFERS):
            _check_haar(name, value)
            continue
        out[name] = value
    return out


def read_stats(stats_dir: str | Path, max_energy: float | None) -> EnergyStats:
    stats_dir = Path(stats_dir)
    files = [stats_dir / f"energy_{k}_train.npy" for k in ("min", "max")]
    for f in files:
        if not f.is_file():
            raise CheckpointError(f"prior statistics {f} not found (the official stats_priorgrad folder holds "
                                  "energy_min_train.npy and energy_max_train.npy)")
    try:
        lo, hi = (float(np.load(f, allow_pickle=False)) for f in files)
    except (ValueError, OSError) as err:
        raise CheckpointError(f"prior statistics in {stats_dir} are unreadable ({err})") from None
    return EnergyStats(lo, hi if max_energy is None else float(max_energy))


def load_official(path: str | Path, stats_dir: str | Path | None = None, trust_pickle: bool = False) -> Vocoder:
    """An official FreGrad (or PriorGrad-vocoder) checkpoint as a `Vocoder`, loaded strictly;
    `stats_dir` (the official stats_priorgrad folder) sets its prior statistics."""
    path = Path(path)
    ckpt = _read(path, trust_pickle)
    config = config_from_params(dict(ckpt["params"]), path)
    state = official_state_dict(ckpt["model"])
    embedding = state.get("diffusion_embedding.projection1.weight")
    if embedding is not None and embedding.ndim == 2:  # 512 in the releases; the code hard-codes it, we read it
        config = replace(config, embedding_dim=int(embedding.shape[0]))
    model = Vocoder(config)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path} does not match the {config.family} model its params describe: missing "
                              f"{missing[:4]}, unexpected {unexpected[:4]}")
    bad = [k for k in state if state[k].shape != expected[k].shape]
    if bad:
        raise CheckpointError(f"{path}: {bad[0]} has shape {tuple(state[bad[0]].shape)}, expected {tuple(expected[bad[0]].shape)}")
    model.load_state_dict(state)
    if stats_dir is not None:
        model.prior_stats = read_stats(stats_dir, config.max_energy)
    return model
