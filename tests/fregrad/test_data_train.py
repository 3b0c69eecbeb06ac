"""Data (speech world, LJSpeech layout, crops, the prior statistics) and training (a few
steps on CPU, resume equals an uninterrupted run, the loss falls)."""

import numpy as np
import pytest
import torch

from paperzoo.core.errors import InputError
from paperzoo.fregrad.audio import write_wav
from paperzoo.fregrad.config import config
from paperzoo.fregrad.data import Corpus, corpus_stats, crop_audio, ljspeech_corpus, training_batch, world_corpus
from paperzoo.fregrad.model import Vocoder
from paperzoo.fregrad.train import TrainConfig, train, validation_loss

SR = 22050


def tone(seconds, f0=140.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8)) * np.hanning(len(t))
    x = (0.95 * x / np.abs(x).max()).astype(np.float32)
    return x[: len(x) // 256 * 256]


def small_corpus(n=3):
    return Corpus([f"c{i}" for i in range(n)], clips=[tone(0.5 + 0.2 * i, 120 + 30 * i, i) for i in range(n)])


def make_ljspeech(root, n=3):
    (root / "wavs").mkdir(parents=True)
    for i in range(n):
        write_wav(root / "wavs" / f"LJ001-{i:04d}.wav", tone(0.6, 150 + 20 * i, i))
    return root


def test_crops_are_a_pure_function_of_seed_and_step():
    corpus = small_corpus()
    a, b = crop_audio(corpus, 5, 4, 8, 256, seed=1), crop_audio(corpus, 5, 4, 8, 256, seed=1)
    assert torch.equal(a, b) and a.shape == (4, 2048)
    assert not torch.equal(a, crop_audio(corpus, 6, 4, 8, 256, seed=1))
    long = crop_audio(corpus, 0, 3, 200, 256, seed=0)  # longer than every clip: zero-padded
    assert (long[:, -256:] == 0).all()


@pytest.mark.parametrize("name", ["tiny-fregrad", "tiny-priorgrad"])
def test_training_batch_shapes(name):
    cfg = config(name)
    audio = crop_audio(small_corpus(), 0, 2, 8, 256, seed=0)
    batch = training_batch(audio, cfg, corpus_stats(small_corpus(), cfg, progress=False))
    n = 2048 // cfg.bands
    assert batch["x0"].shape == (2, cfg.bands, n) and batch["sigma"].shape == (2, cfg.bands, n)
    assert batch["mel"].shape == (2, 80, 8)
    if cfg.bands == 2:  # the Haar sub-bands of the crop, low band first
        torch.testing.assert_close(batch["x0"][:, 0], (audio[:, 0::2] + audio[:, 1::2]) / np.sqrt(2))


def test_ljspeech_folder_filelist_and_official_stats(tmp_path):
    root = make_ljspeech(tmp_path / "LJSpeech-1.1")
    corpus = ljspeech_corpus(root)
    assert corpus.names == ["LJ001-0000", "LJ001-0001", "LJ001-0002"] and corpus.clips is None
    filelist = tmp_path / "test.txt"
    filelist.write_text("LJSpeech-1.1/wavs/LJ001-0002.wav\nLJSpeech-1.1/wavs/LJ001-0000.wav\n")
    assert ljspeech_corpus(root, filelist).names == ["LJ001-0002", "LJ001-0000"]
    cfg = config("tiny-fregrad")
    stats = corpus_stats(corpus, cfg, stats_dir=root / "stats_priorgrad", progress=False)
    assert (root / "stats_priorgrad" / "energy_min_train.npy").is_file() and stats.energy_max == 4.0
    np.save(root / "stats_priorgrad" / "energy_min_train.npy", np.float32(0.5))  # the official files win
    assert corpus_stats(corpus, cfg, stats_dir=root / "stats_priorgrad").energy_min == pytest.approx(0.5)
    with pytest.raises(InputError, match="no such wav"):
        filelist.write_text("LJSpeech-1.1/wavs/LJ009-9999.wav\n")
        ljspeech_corpus(root, filelist)
    with pytest.raises(InputError, match="not a folder"):
        ljspeech_corpus(tmp_path / "nowhere")
    (tmp_path / "empty" / "wavs").mkdir(parents=True)
    with pytest.raises(InputError, match="no wav files"):
        ljspeech_corpus(tmp_path / "empty")


def test_world_corpus_is_normalised_speech():
    corpus = world_corpus("eval", 0, n_utterances=4)
    assert len(corpus) == 16  # the held-out split
    clip = corpus.clip(0)
    assert clip.dtype == np.float32 and len(clip) % 256 == 0 and np.abs(clip).max() == pytest.approx(0.95, abs=1e-6)


TINY = TrainConfig(steps=6, batch_size=2, crop_frames=8, checkpoint_every=3)


def test_resume_equals_an_uninterrupted_run(tmp_path):
    corpus = small_corpus()
    full, _ = train("tiny-fregrad", corpus, tmp_path / "full", seed=3, train_config=TINY, progress=False)
    train("tiny-fregrad", corpus, tmp_path / "part", seed=3, train_config=TrainConfig(**{**TINY.__dict__, "steps": 3}),
          progress=False)
    resumed, _ = train("tiny-fregrad", corpus, tmp_path / "part", seed=3, train_config=TINY, resume=True, progress=False)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)
    saved = Vocoder.from_pretrained(tmp_path / "full" / "model")
    assert saved.prior_stats == full.prior_stats and saved.prior_stats is not None


@pytest.mark.parametrize("name,steps", [pytest.param("tiny-fregrad", 200, marks=pytest.mark.slow),
                                        ("tiny-priorgrad", 40)])
def test_validation_loss_falls_on_a_few_clips(tmp_path, name, steps):
    """A few steps on three harmonic tones: the loss on a fixed batch (every t, fixed noise) falls
    below 0.6x the untrained model's (ratio 1 by definition). Measured: tiny-PriorGrad 0.37 after
    40 steps; tiny-FreGrad 0.93 after 40 and 0.80 after 80 steps, so it gets 200 (slow: ~25 s;
    the fast suite keeps PriorGrad's)."""
    corpus, cfg = small_corpus(), config(name)
    stats = corpus_stats(corpus, cfg, progress=False)
    batch = {**training_batch(crop_audio(corpus, 10_000, 50, 8, 256, seed=9), cfg, stats), "config": cfg}
    torch.manual_seed(0)
    before = validation_loss(Vocoder(cfg), batch)["mse"]
    model, _ = train(name, corpus, tmp_path, seed=0, progress=False, stats=stats,
                     train_config=TrainConfig(steps=steps, batch_size=4, crop_frames=8, lr=1e-3, checkpoint_every=0))
    after = validation_loss(model, batch)["mse"]
    assert after < 0.6 * before, (before, after)
