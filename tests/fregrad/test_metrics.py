"""Table 1's metrics as the card infers them: zero on identical audio, growing with noise,
MR-STFT's closed form for a scaled signal, MCD13 against its formula written out, and YIN
F0 on harmonic pulse trains of known pitch."""

import math

import numpy as np
import pytest
import torch

from paperzoo.core.errors import InputError
from paperzoo.fregrad.audio import SAMPLE_RATE, mel_spectrogram
from paperzoo.fregrad.metrics import f0_rmse, log_mel_mae, mcd13, mr_stft, yin_f0

METRICS = [mr_stft, log_mel_mae, mcd13, f0_rmse]


def pulse_train(f0, seconds=1.0, sr=SAMPLE_RATE, top=4000.0):
    """A band-limited harmonic pulse train: sum_k sin(2 pi k f0 t) / k up to `top` Hz."""
    t = np.arange(int(seconds * sr)) / sr
    harmonics = range(1, int(top / f0) + 1)
    return (0.3 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in harmonics)).astype(np.float32)


@pytest.fixture(scope="module")
def voice():
    return pulse_train(180.0)


def test_identical_inputs_score_zero(voice):
    for metric in METRICS:
        assert metric(voice, voice) == pytest.approx(0.0, abs=1e-6), metric.__name__
    assert mr_stft(torch.from_numpy(voice), voice) == 0.0  # torch and numpy mix


def test_metrics_grow_with_noise(voice):
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(voice)).astype(np.float32)
    for metric in (mr_stft, log_mel_mae, mcd13):
        scores = [metric(voice + level * noise, voice) for level in (0.001, 0.01, 0.1)]
        assert 0 < scores[0] < scores[1] < scores[2], (metric.__name__, scores)
    assert 0 < f0_rmse(voice + 0.001 * noise, voice) < 1.0  # light noise barely moves the pitch


def test_mr_stft_of_a_scaled_signal():
    # |S(a x)| = a |S(x)|, so SC = |1 - a| and the log term = |ln a| at every resolution
    x = np.random.default_rng(1).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    for a in (0.5, 2.0):
        assert mr_stft(a * x, x) == pytest.approx(abs(1 - a) + abs(math.log(a)), rel=1e-4)


def test_mcd13_against_the_formula():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(8192).astype(np.float32) * 0.1
    y = x + rng.standard_normal(8192).astype(np.float32) * 0.05
    X, Y = mel_spectrogram(torch.from_numpy(x)).double().numpy(), mel_spectrogram(torch.from_numpy(y)).double().numpy()
    K, frames = X.shape
    total = 0.0
    for t in range(frames):
        squared = 0.0
        for n in range(1, 14):
            cos = np.cos(np.pi * n * (np.arange(K) + 0.5) / K)
            c, c_hat = 2 / K * np.sum(X[:, t] * cos), 2 / K * np.sum(Y[:, t] * cos)
            squared += (c - c_hat) ** 2
        total += 10 / np.log(10) * np.sqrt(2 * squared)
    assert mcd13(y, x) == pytest.approx(total / frames, rel=1e-5)


@pytest.mark.parametrize("f0", [150.0, 220.0])
def test_yin_recovers_pulse_train_pitch(f0):
    estimate, voiced = yin_f0(pulse_train(f0))
    assert voiced.all() and estimate.shape == (1 + (SAMPLE_RATE - 1024) // 256,)
    assert np.abs(estimate / f0 - 1).max() < 0.01


def test_f0_rmse_of_a_pitch_shifted_copy():
    assert f0_rmse(pulse_train(210.0), pulse_train(200.0)) == pytest.approx(10.0, rel=0.02)  # 5 % of 200 Hz


def test_f0_rmse_is_nan_without_common_voiced_frames(voice):
    noise = np.random.default_rng(3).standard_normal(len(voice)).astype(np.float32) * 0.1
    assert math.isnan(f0_rmse(noise, voice))
    assert math.isnan(f0_rmse(np.zeros_like(voice), voice))
    _, voiced = yin_f0(np.zeros(4096))
    assert not voiced.any()


def test_crop_and_batches(voice):
    assert mr_stft(voice[:-300], voice) == 0.0 and mcd13(voice, voice[:5000]) == 0.0
    batch = np.stack([voice, voice * 0.5])
    assert log_mel_mae(batch, batch) == 0.0
    assert f0_rmse(batch[:, :-10], batch) == 0.0


def test_input_errors(voice):
    for metric in METRICS:
        with pytest.raises(InputError, match="empty"):
            metric(np.zeros(0), voice)
        with pytest.raises(InputError, match="batch shapes differ"):
            metric(np.stack([voice, voice]), voice)
        with pytest.raises(InputError, match="at least"):
            metric(voice[:200], voice)
    with pytest.raises(InputError, match="NaN"):
        mcd13(np.full(4096, np.nan), voice)
