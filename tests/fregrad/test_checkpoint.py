"""Loading an official FreGrad checkpoint (card §6): the test writes one in the official
layout ({step, model, optimizer, params, scaler}, DDP `module.` prefixes, pytorch_wavelets'
Haar buffers, params with the float32 zero-SNR schedule the official params.py computes)
from a randomly initialised model, loads it, and checks the outputs are identical."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from paperzoo.core.errors import CheckpointError
from paperzoo.fregrad.checkpoint import load_official
from paperzoo.fregrad.config import config
from paperzoo.fregrad.model import Vocoder

R = 1 / math.sqrt(2)


def official_zero_snr_float32(n=50):
    """Eq. 8 the way the official params.py computes it (float32, in place)."""
    betas = torch.linspace(1e-4, 0.05, n)
    root = torch.cumprod(1 - betas, 0).sqrt()
    first, last = root[0].clone(), root[-1].clone() - 1e-4
    root = (root - last) * first / (first - last)
    g = root**2
    return (1 - torch.cat([g[:1], g[1:] / g[:-1]])).tolist()


def official_params(**overrides):
    params = dict(batch_size=16, learning_rate=2e-4, audio_channels=2, sample_rate=22050, n_mels=80, n_fft=1024,
                  hop_samples=256, fmin=0, fmax=8000, crop_mel_frames=62, use_prior=True, condition_prior=False,
                  condition_prior_global=False, std_min=0.1, max_energy_override=4.0, residual_layers=30,
                  residual_channels=32, dilation_cycle_length=7, noise_schedule=official_zero_snr_float32(),
                  inference_noise_schedule=official_zero_snr_float32(), enable_remove_cutoff_alias=True)
    params.update(overrides)
    return params


def write_official(path, model, params, haar=(R, R)):
    state = {}
    for name, value in model.state_dict().items():
        state[f"module.{name}"] = value.clone()
    for i in range(len(model.residual_layers)):
        prefix = f"module.residual_layers.{i}.dilated_conv."
        state[prefix + "dwt.h0"] = torch.tensor([[[haar[0], haar[1]]]])
        state[prefix + "dwt.h1"] = torch.tensor([[[R, -R]]])
        state[prefix + "idwt.g0"] = torch.tensor([[[R, R]]])
        state[prefix + "idwt.g1"] = torch.tensor([[[R, -R]]])
    torch.save({"step": 1000000, "model": state, "optimizer": {"state": {}, "param_groups": []}, "params": params,
                "scaler": {}}, path)


def perturbed(name):
    torch.manual_seed(0)
    model = Vocoder(name)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


def test_official_fregrad_checkpoint_loads_with_identical_outputs(tmp_path):
    model = perturbed("fregrad")
    write_official(tmp_path / "weights-1000000.pt", model, official_params())
    stats = tmp_path / "stats_priorgrad"
    stats.mkdir()
    np.save(stats / "energy_min_train.npy", np.float32(0.0283))
    np.save(stats / "energy_max_train.npy", np.float32(7.5))
    loaded = load_official(tmp_path / "weights-1000000.pt", stats)
    assert len(torch.load(tmp_path / "weights-1000000.pt")["model"]) == 254 + 120  # parameters + Haar buffers
    assert replace(loaded.config, betas=None) == config("fregrad")
    assert list(loaded.config.betas) == official_params()["noise_schedule"]  # it samples with the file's betas
    assert loaded.prior_stats.energy_min == pytest.approx(0.0283)
    assert loaded.prior_stats.energy_max == 4.0  # E_max overridden, as the code does
    x, mel, t = torch.randn(1, 2, 512), torch.randn(1, 80, 4), torch.tensor([7])
    model.eval(), loaded.eval()
    torch.testing.assert_close(loaded(x, mel, t), model(x, mel, t), rtol=0, atol=0)
    # and it saves in our layout
    loaded.save_pretrained(tmp_path / "ours")
    assert Vocoder.from_pretrained(tmp_path / "ours").prior_stats == loaded.prior_stats


def test_priorgrad_layout_and_linear_schedule(tmp_path):
    model = perturbed("tiny-priorgrad")
    cfg = model.config
    params = official_params(residual_channels=cfg.residual_channels, residual_layers=cfg.residual_layers,
                             dilation_cycle_length=cfg.dilation_cycle, noise_schedule=np.linspace(1e-4, 0.05, 50).tolist())
    del params["audio_channels"], params["enable_remove_cutoff_alias"]
    torch.save({"step": 1, "model": model.state_dict(), "optimizer": {}, "params": params, "scaler": {}}, tmp_path / "pg.pt")
    loaded = load_official(tmp_path / "pg.pt")
    assert loaded.config.family == "priorgrad" and loaded.config.schedule == "linear" and loaded.prior_stats is None
    assert loaded.config.embedding_dim == 256  # read from the weights
    x, mel, t = torch.randn(1, 1, 512), torch.randn(1, 80, 2), torch.tensor([7])
    torch.testing.assert_close(loaded(x, mel, t), model(x, mel, t), rtol=0, atol=0)
    params["residual_channels"] = 64  # params that disagree with the weights
    torch.save({"step": 1, "model": model.state_dict(), "optimizer": {}, "params": params, "scaler": {}}, tmp_path / "pg.pt")
    with pytest.raises(CheckpointError, match="has shape"):
        load_official(tmp_path / "pg.pt")


def test_bad_official_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_official(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_official(tmp_path / "junk.pt")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="official layout"):
        load_official(tmp_path / "other.pt")
    model = perturbed("fregrad")
    write_official(tmp_path / "db2.pt", model, official_params(), haar=(0.48, 0.83))
    with pytest.raises(CheckpointError, match="not a Haar filter"):
        load_official(tmp_path / "db2.pt")
    write_official(tmp_path / "sched.pt", model, official_params(noise_schedule=[0.01] * 50))
    with pytest.raises(CheckpointError, match="noise_schedule"):
        load_official(tmp_path / "sched.pt")
    write_official(tmp_path / "ok.pt", model, official_params())
    with pytest.raises(CheckpointError, match="energy_min_train.npy"):
        load_official(tmp_path / "ok.pt", tmp_path / "no-stats")


def test_convert_command(tmp_path):
    from click.testing import CliRunner

    from paperzoo.cli import main

    model = perturbed("fregrad")
    write_official(tmp_path / "weights.pt", model, official_params())
    (tmp_path / "stats").mkdir()
    np.save(tmp_path / "stats" / "energy_min_train.npy", np.float32(0.03))
    np.save(tmp_path / "stats" / "energy_max_train.npy", np.float32(6.0))
    result = CliRunner().invoke(main, ["fregrad", "convert", str(tmp_path / "weights.pt"), "--stats", str(tmp_path / "stats"),
                                       "--out", str(tmp_path / "ours")])
    assert result.exit_code == 0, result.output
    assert "1,782,548 parameters" in result.output
    back = Vocoder.from_pretrained(tmp_path / "ours")
    x, mel, t = torch.randn(1, 2, 256), torch.randn(1, 80, 2), torch.tensor([1])
    torch.testing.assert_close(back(x, mel, t), model(x, mel, t), rtol=0, atol=0)
