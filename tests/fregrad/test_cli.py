"""`paperzoo fregrad ...` end to end on tiny models: train on an LJSpeech-layout folder,
vocode a wav (and one at 44.1 kHz, resampled with a warning) and a mel, convert an official
checkpoint, evaluate; and one clear error for each bad input the issue names."""

import json

import numpy as np
import torch
from click.testing import CliRunner

from paperzoo.cli import main
from paperzoo.fregrad.audio import read_wav, write_wav
from paperzoo.fregrad.model import Vocoder
from paperzoo.fregrad.prior import EnergyStats

SR = 22050


def tone(seconds, sr=SR, f0=150.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * f0 * t) * np.hanning(len(t))).astype(np.float32)


def tiny_model(folder):
    torch.manual_seed(0)
    model = Vocoder("tiny-fregrad")
    model.prior_stats = EnergyStats(0.03, 4.0)
    model.save_pretrained(folder)
    return folder


def invoke(*args):
    return CliRunner().invoke(main, ["fregrad", *map(str, args)])


def test_train_on_an_ljspeech_folder_then_vocode_and_evaluate(tmp_path):
    root = tmp_path / "LJSpeech-1.1"
    (root / "wavs").mkdir(parents=True)
    for i in range(2):
        write_wav(root / "wavs" / f"LJ001-000{i}.wav", tone(0.5, f0=140 + 40 * i))
    run = invoke("train", "--data", root, "--steps", 2, "--batch-size", 2, "--crop-frames", 8, "--checkpoint-every", 0,
                 "--out", tmp_path / "run", "--device", "cpu")
    assert run.exit_code == 0, run.output
    assert (root / "stats_priorgrad" / "energy_max_train.npy").is_file()
    out = invoke("vocode", root / "wavs" / "LJ001-0000.wav", "--model", tmp_path / "run" / "model",
                 "--out", tmp_path / "a.wav", "--device", "cpu")
    assert out.exit_code == 0, out.output
    wave = read_wav(tmp_path / "a.wav")
    assert len(wave) == len(tone(0.5)) // 256 * 256 and np.abs(wave).max() <= 1.0
    scores = invoke("evaluate", "--model", tmp_path / "run" / "model", "--data", root, "--count", 1, "--device", "cpu",
                    "--out", tmp_path / "scores.json")
    assert scores.exit_code == 0, scores.output
    saved = json.loads((tmp_path / "scores.json").read_text())
    assert set(saved) >= {"mr_stft", "mae", "mcd13", "rtf"} and saved["mr_stft"] > 0 and saved["rtf"] > 0


def test_vocode_a_mel_and_a_resampled_wav(tmp_path):
    model = tiny_model(tmp_path / "m")
    np.save(tmp_path / "mel.npy", np.full((80, 3), -5.0, dtype=np.float32))
    out = invoke("vocode", tmp_path / "mel.npy", "--checkpoint", model, "--out", tmp_path / "m.wav")  # the old spelling
    assert out.exit_code == 0, out.output
    assert len(read_wav(tmp_path / "m.wav")) == 3 * 256
    write_wav(tmp_path / "hi.wav", tone(0.4, sr=44100), sample_rate=44100)
    out = invoke("vocode", tmp_path / "hi.wav", "--model", model, "--out", tmp_path / "r.wav")
    assert out.exit_code == 0, out.output
    assert "resampled from 44,100 Hz to 22,050 Hz" in out.output


def test_bad_inputs_get_one_clear_error(tmp_path):
    model = tiny_model(tmp_path / "m")
    np.save(tmp_path / "mel60.npy", np.zeros((60, 4), dtype=np.float32))
    cases = {
        "60 bins": ("vocode", tmp_path / "mel60.npy", "--model", model),
        "no such checkpoint folder, and not a named config": ("vocode", tmp_path / "mel60.npy", "--model",
                                                               tmp_path / "missing"),
        "empty": ("vocode", tmp_path / "empty.wav", "--model", model),
        "expected a .wav file or a .npy mel": ("vocode", tmp_path / "x.mp3", "--model", model),
        "official checkpoint": ("convert", tmp_path / "x.pt", "--stats", tmp_path / "nostats"),
    }
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "x.mp3").write_bytes(b"ID3")
    for expected, args in cases.items():
        result = invoke(*args, "--out", tmp_path / "out.wav")
        assert result.exit_code == 1, (expected, result.output)
        assert expected in result.output and "Traceback" not in result.output, (expected, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "out.wav").exists()  # nothing half-written
    short = invoke("train", "--crop-frames", 3, "--steps", 1, "--out", tmp_path / "r")
    assert short.exit_code == 1 and "too short for L_mag" in short.output, short.output


def test_demo_writes_wavs_and_the_mel_figure(tmp_path, shared_cache):
    """Two untrained model folders (the demo's training path is `trained_tiny`, a cached
    reproduce run: core.runcache); the held-out sentence comes from the shared speech world."""
    a, b = tiny_model(tmp_path / "fg"), tiny_model(tmp_path / "fg2")
    result = invoke("demo", "--model", a, "--model", b, "--out", tmp_path / "demo", "--device", "cpu")
    assert result.exit_code == 0, result.output
    for name in ("ground_truth.wav", "fg.wav", "fg2.wav", "mels.png"):
        assert (tmp_path / "demo" / name).is_file(), name
    assert len(read_wav(tmp_path / "demo" / "fg.wav")) == len(read_wav(tmp_path / "demo" / "ground_truth.wav"))
    missing = invoke("demo", "--runs", tmp_path / "nowhere", "--out", tmp_path / "d3")
    assert missing.exit_code == 1 and "no tiny-fregrad-seed*/model folder" in missing.output


def test_model_name_trains_a_short_run_once(tmp_path, monkeypatch):
    """`--model tiny-fregrad` goes through demo.trained_tiny (stubbed here: it trains 600 steps)."""
    import paperzoo.fregrad.demo as demo

    calls = []
    folder = tiny_model(tmp_path / "m")
    monkeypatch.setattr(demo, "trained_tiny", lambda name, steps, seed, device: calls.append((name, steps, seed)) or folder)
    np.save(tmp_path / "mel.npy", np.full((80, 2), -5.0, dtype=np.float32))
    out = invoke("vocode", tmp_path / "mel.npy", "--model", "tiny-fregrad", "--seed", 3, "--out", tmp_path / "v.wav")
    assert out.exit_code == 0, out.output
    assert calls == [("tiny-fregrad", 600, 3)] and len(read_wav(tmp_path / "v.wav")) == 2 * 256
    bad = invoke("vocode", tmp_path / "mel.npy", "--model", "fregrad", "--out", tmp_path / "w.wav")
    assert bad.exit_code == 1 and "not a named config" in bad.output  # only tiny-* configs are trained on demand
