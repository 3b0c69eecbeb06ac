"""FreGrad's front-end (card §2): the Slaney mel filterbank (by hand and against values
from librosa), the HiFi-GAN log-mel framing (T / 256 frames, a numpy reference), and wav
I/O (round trip, dtypes, resampling, refusals)."""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.fregrad.audio import (
    HOP,
    OFFICIAL_MEL,
    PAPER_MEL,
    SAMPLE_RATE,
    MelConfig,
    hz_to_mel,
    load_mel,
    mel_filterbank,
    mel_spectrogram,
    mel_to_hz,
    normalize_audio,
    read_wav,
    trim_to_hop,
    write_wav,
)


def sine(freq, seconds=1.0, sr=SAMPLE_RATE, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def peak_frequency(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * sr / len(x)


# --- the Slaney mel scale and filterbank --------------------------------------------------------


def test_slaney_mel_scale_by_hand():
    assert hz_to_mel(1000.0) == pytest.approx(15.0, abs=1e-12)  # 1000 / (200/3)
    assert hz_to_mel(200.0) == pytest.approx(3.0, abs=1e-12)  # linear below 1 kHz
    assert hz_to_mel(8000.0) == pytest.approx(15 + 27 * math.log(8) / math.log(6.4), abs=1e-12)
    assert hz_to_mel(8000.0) == pytest.approx(45.24564, abs=1e-5)
    f = np.array([0.0, 80.0, 999.0, 1000.0, 1001.0, 5000.0, 11025.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, rtol=1e-12, atol=1e-9)


def triangle_edges(cfg):
    return mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))


@pytest.mark.parametrize("cfg", [OFFICIAL_MEL, PAPER_MEL], ids=["fmin0", "fmin80"])
def test_filterbank_structure(cfg):
    fb = mel_filterbank(cfg).double().numpy()
    assert fb.shape == (80, 513) and mel_filterbank(cfg).dtype == torch.float32
    assert (fb >= 0).all()
    freqs = np.fft.rfftfreq(1024, 1 / 22050)
    assert (fb[:, freqs >= cfg.fmax] == 0).all() and (fb[:, freqs <= cfg.fmin] == 0).all()
    edges = triangle_edges(cfg)
    for m in range(80):
        row = fb[m]
        lo, centre, hi = edges[m], edges[m + 1], edges[m + 2]
        assert (row[(freqs <= lo) | (freqs >= hi)] == 0).all()
        # the peak is at one of the two bins around the centre frequency f_{m+1}
        near = {int(np.floor(centre / freqs[1])), int(np.ceil(centre / freqs[1]))}
        assert int(np.argmax(row)) in near
        # Slaney normalisation: height 2 / (f_{m+2} - f_m) at the centre, so unit area in Hz
        height = 2.0 / (hi - lo)
        k = int(np.argmax(row))
        expected = height * min((freqs[k] - lo) / (centre - lo), (hi - freqs[k]) / (hi - centre))
        assert row[k] == pytest.approx(expected, rel=1e-6)
        if hi - lo > 20 * freqs[1]:  # wide triangles: the Riemann sum is the area
            assert row.sum() * freqs[1] == pytest.approx(1.0, rel=0.01)


# librosa 0.11.0, librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
# (and fmin=80 for PAPER_MEL), read in a throwaway venv; librosa is not a dependency here.
LIBROSA_FMIN0 = {(0, 1): 0.01552772056311369, (0, 2): 0.022651389241218567, (1, 2): 0.004202025476843119,
                 (10, 19): 0.026492536067962646, (10, 21): 0.0, (40, 80): 0.014895469881594181,
                 (79, 358): 0.003265992971137166, (79, 371): 0.0001254465605597943}
LIBROSA_FMIN80 = {(0, 4): 0.004666662309318781, (0, 5): 0.02105199731886387, (40, 83): 0.013555708341300488,
                  (79, 358): 0.0034411714877933264, (79, 371): 0.0001321751478826627}
LIBROSA_SUMS = {0.0: 3.7136881975075084, 80.0: 3.714930196334535}  # fb.sum(dtype=float64)


@pytest.mark.parametrize("cfg,values", [(OFFICIAL_MEL, LIBROSA_FMIN0), (PAPER_MEL, LIBROSA_FMIN80)], ids=["fmin0", "fmin80"])
def test_filterbank_matches_librosa_values(cfg, values):
    fb = mel_filterbank(cfg)
    for (row, col), ref in values.items():
        assert fb[row, col].item() == pytest.approx(ref, abs=1e-8)
    assert fb.double().sum().item() == pytest.approx(LIBROSA_SUMS[cfg.fmin], abs=1e-6)
    # librosa.mel_frequencies(82, fmin=0, fmax=8000)[[1, 40, 80]]
    if cfg.fmin == 0.0:
        np.testing.assert_allclose(triangle_edges(cfg)[[1, 40, 80]], [37.23921026, 1656.7874827, 7698.59321831], rtol=1e-9)


def test_mel_config_flag_and_validation():
    assert OFFICIAL_MEL == MelConfig() and OFFICIAL_MEL.fmin == 0.0 and PAPER_MEL.fmin == 80.0
    assert (MelConfig().n_mels, MelConfig().n_fft, MelConfig().hop_length, MelConfig().fmax) == (80, 1024, 256, 8000.0)
    with pytest.raises(ConfigError, match="fmax"):
        MelConfig(fmax=12000.0)
    with pytest.raises(ConfigError, match="hop"):
        MelConfig(win_length=2048)


# --- the log-mel --------------------------------------------------------------------------------


def numpy_log_mel(x, cfg=OFFICIAL_MEL):
    """The HiFi-GAN recipe written out: reflect pad, frame loop, periodic Hann, rfft."""
    pad = (cfg.n_fft - cfg.hop_length) // 2
    x = np.pad(x.astype(np.float64), (pad, pad), mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.n_fft) / cfg.n_fft)  # periodic
    frames = [x[i : i + cfg.n_fft] * window for i in range(0, len(x) - cfg.n_fft + 1, cfg.hop_length)]
    magnitude = np.sqrt(np.abs(np.fft.rfft(np.array(frames), axis=-1)) ** 2 + 1e-9).T
    return np.log(np.maximum(mel_filterbank(cfg).double().numpy() @ magnitude, 1e-5))


def test_mel_spectrogram_frames_and_numpy_reference():
    x = np.random.default_rng(0).standard_normal(40 * HOP).astype(np.float32) * 0.1
    mel = mel_spectrogram(torch.from_numpy(x))
    assert mel.shape == (80, 40) and mel.dtype == torch.float32
    ref = numpy_log_mel(x)
    assert ref.shape == (80, 40)
    np.testing.assert_allclose(mel.numpy(), ref, atol=1e-4)
    for frames in (2, 3, 62):
        assert mel_spectrogram(torch.zeros(frames * HOP) + 0.01).shape[-1] == frames
    assert mel_spectrogram(torch.randn(40 * HOP + 100)).shape[-1] == 40  # T // hop when T is not a multiple


def test_mel_spectrogram_matches_librosa_values():
    # librosa 0.11.0: ln(max(librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    #   @ sqrt(|librosa.stft(np.pad(x, 384, mode="reflect"), n_fft=1024, hop_length=256, center=False)|^2 + 1e-9), 1e-5))
    t = np.arange(22050) / 22050
    x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    mel = mel_spectrogram(torch.from_numpy(x))
    assert mel.shape == (80, 86)
    for (row, col), ref in {(9, 20): -2.4117887020111084, (10, 20): 0.7216211557388306, (54, 20): -1.3502048254013062,
                            (55, 20): -1.5792763233184814, (10, 0): 1.126682162284851}.items():
        assert mel[row, col].item() == pytest.approx(ref, abs=1e-5)


def test_mel_spectrogram_batched_and_floor():
    x = torch.randn(2, 3, 20 * HOP)
    mel = mel_spectrogram(x)
    assert mel.shape == (2, 3, 80, 20)
    torch.testing.assert_close(mel[1, 2], mel_spectrogram(x[1, 2]))
    silent = mel_spectrogram(torch.zeros(10 * HOP))
    torch.testing.assert_close(silent, torch.full_like(silent, math.log(1e-5)))
    with pytest.raises(InputError, match="T >"):
        mel_spectrogram(torch.zeros(300))


def test_sine_peaks_at_its_mel_band():
    mel = mel_spectrogram(torch.from_numpy(sine(1000.0)))
    centres = triangle_edges(OFFICIAL_MEL)[1:-1]
    expected = int(np.argmin(np.abs(centres - 1000.0)))
    assert int(mel.mean(-1).argmax()) == expected
    assert centres[expected] - 50 < 1000 < centres[expected] + 50


# --- wav I/O --------------------------------------------------------------------------------------


def test_wav_round_trip_and_clipping(tmp_path):
    x = np.random.default_rng(1).uniform(-1, 1, 5000).astype(np.float32)
    path = write_wav(tmp_path / "out" / "a.wav", torch.from_numpy(x))
    rate, raw = wavfile.read(path)
    assert rate == SAMPLE_RATE and raw.dtype == np.int16
    y = read_wav(path)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() <= 1.0 / 32768 + 1e-7  # int16 quantisation
    write_wav(tmp_path / "b.wav", np.array([[2.0, -2.0, 0.5]]))
    np.testing.assert_allclose(read_wav(tmp_path / "b.wav"), [32767 / 32768, -1.0, 0.5])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.wav", "out"]  # no temporary files left
    with pytest.raises(InputError, match="NaN"):
        write_wav(tmp_path / "c.wav", np.array([0.0, np.nan]))


@pytest.mark.parametrize(
    "data,expected",
    [
        (np.array([16384, -32768], dtype=np.int16), [0.5, -1.0]),
        (np.array([2**30, -(2**31)], dtype=np.int32), [0.5, -1.0]),
        (np.array([192, 0], dtype=np.uint8), [0.5, -1.0]),
        (np.array([0.5, -1.0], dtype=np.float32), [0.5, -1.0]),
        (np.array([[16384, 0], [-32768, -32768]], dtype=np.int16), [0.25, -1.0]),  # stereo -> mean
    ],
    ids=["int16", "int32", "uint8", "float32", "stereo"],
)
def test_read_wav_dtypes(tmp_path, data, expected):
    wavfile.write(tmp_path / "x.wav", SAMPLE_RATE, data)
    np.testing.assert_allclose(read_wav(tmp_path / "x.wav"), expected)


@pytest.mark.parametrize("rate", [44100, 16000])
def test_resampling_keeps_frequency(tmp_path, rate):
    wavfile.write(tmp_path / "s.wav", rate, (sine(440.0, sr=rate) * 32767).astype(np.int16))
    with pytest.warns(UserWarning, match=f"resampled from {rate:,} Hz to 22,050 Hz"):
        y = read_wav(tmp_path / "s.wav")
    assert len(y) == SAMPLE_RATE
    assert peak_frequency(y, SAMPLE_RATE) == pytest.approx(440.0, abs=1.0)
    assert np.abs(y[1000:-1000]).max() == pytest.approx(0.5, rel=0.01)


def test_read_wav_refusals(tmp_path):
    wavfile.write(tmp_path / "s16k.wav", 16000, (sine(440.0, sr=16000) * 32767).astype(np.int16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=r"s16k\.wav is sampled at 16,000 Hz, expected 22,050 Hz"):
            read_wav(tmp_path / "s16k.wav", resample=False)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.wav is empty"):
        read_wav(tmp_path / "empty.wav")
    wavfile.write(tmp_path / "none.wav", SAMPLE_RATE, np.zeros(0, dtype=np.int16))
    with pytest.raises(InputError, match=r"none\.wav holds zero samples"):
        read_wav(tmp_path / "none.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(InputError, match=r"cannot read .*junk\.wav"):
        read_wav(tmp_path / "junk.wav")
    with pytest.raises(InputError, match=r"no such file: .*missing\.wav"):
        read_wav(tmp_path / "missing.wav")


def test_normalize_and_trim():
    x = np.array([0.1, -0.4, 0.2], dtype=np.float32)
    np.testing.assert_allclose(normalize_audio(x), x * 0.95 / 0.4, rtol=1e-6)
    torch.testing.assert_close(normalize_audio(torch.from_numpy(x)), torch.from_numpy(x) * (0.95 / 0.4))
    zeros = np.zeros(10, dtype=np.float32)
    assert (normalize_audio(zeros) == 0).all()
    assert trim_to_hop(np.zeros(3 * HOP + 17)).shape == (3 * HOP,)
    assert trim_to_hop(torch.zeros(2, 512)).shape == (2, 512)
    with pytest.raises(InputError, match="shorter than one hop"):
        trim_to_hop(np.zeros(100))


# --- mels from a TTS model ------------------------------------------------------------------------


def test_load_mel(tmp_path):
    mel = np.random.default_rng(2).normal(-5, 2, (80, 31)).astype(np.float32)
    np.save(tmp_path / "a.npy", mel)
    np.save(tmp_path / "b.npy", mel[None])
    torch.testing.assert_close(load_mel(tmp_path / "a.npy"), torch.from_numpy(mel))
    torch.testing.assert_close(load_mel(tmp_path / "b.npy"), torch.from_numpy(mel))
    np.save(tmp_path / "c.npy", np.zeros((100, 31), dtype=np.float32))
    with pytest.raises(InputError, match=r"got 100 bins, expected 80.*natural-log.*card §2"):
        load_mel(tmp_path / "c.npy")
    np.save(tmp_path / "d.npy", mel.T)
    with pytest.raises(InputError, match="transposed"):
        load_mel(tmp_path / "d.npy")
    np.save(tmp_path / "e.npy", np.zeros((80, 0), dtype=np.float32))
    with pytest.raises(InputError, match="zero frames"):
        load_mel(tmp_path / "e.npy")
    bad = mel.copy()
    bad[3, 4] = np.nan
    np.save(tmp_path / "f.npy", bad)
    with pytest.raises(InputError, match="NaN"):
        load_mel(tmp_path / "f.npy")
    with pytest.raises(InputError, match="no such file"):
        load_mel(tmp_path / "g.npy")
