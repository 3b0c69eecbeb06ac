"""The speech world: determinism, disjoint splits, the FreGrad audio pipeline, caching,
the procedural speaker's pitch, and espeak-ng (where installed) with its fallback."""

import shutil
import time
from dataclasses import replace

import numpy as np
import pytest

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.world import (
    HOP,
    SAMPLE_RATE,
    SPEECH_VERSION,
    SPLIT_PAIRS,
    SpeechConfig,
    load_speech,
    make_speech,
    normalise_audio,
    procedural_speak,
    resolve_backend,
    speak,
    speech_cache_path,
    trim_silence,
)
from paperzoo.world import speech

PROCEDURAL = SpeechConfig(n_utterances=6, n_eval=4, backend="procedural")
ESPEAK = replace(PROCEDURAL, backend="espeak")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def corpus():
    return {split: make_speech(PROCEDURAL, seed=0, split=split) for split in ("train", "eval")}


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        (x.text, x.voice, x.index, x.pitch, x.speed) == (y.text, y.voice, y.index, y.pitch, y.speed) and np.array_equal(x.audio, y.audio)
        for x, y in zip(a, b)
    )


def _check_clip(u, config: SpeechConfig):
    x = u.audio
    assert x.dtype == np.float32 and x.ndim == 1 and np.isfinite(x).all()
    assert len(x) % HOP == 0
    assert config.min_seconds * SAMPLE_RATE <= len(x) <= config.max_seconds * SAMPLE_RATE
    assert abs(np.abs(x).max() - 0.95) < 1e-6


def test_constants():
    assert (SAMPLE_RATE, HOP) == (22050, 256)
    assert PROCEDURAL.min_samples >= 62 * HOP  # one FreGrad training crop fits in every clip


def test_determinism(corpus):
    assert _same(corpus["train"], make_speech(PROCEDURAL, seed=0, split="train"))
    other = make_speech(PROCEDURAL, seed=1, split="train")
    assert [u.text for u in other] != [u.text for u in corpus["train"]]
    # A smaller split is a prefix of a larger one.
    assert _same(corpus["train"][:3], make_speech(replace(PROCEDURAL, n_utterances=3), seed=0, split="train"))


def test_splits_are_disjoint(corpus):
    train, eval_ = set(SPLIT_PAIRS["train"]), set(SPLIT_PAIRS["eval"])
    assert train and eval_ and not train & eval_
    assert len(train | eval_) == len(speech.NOUNS) * len(speech.VERBS)
    for split, utterances in corpus.items():
        texts = [u.text for u in utterances]
        assert len(set(texts)) == len(texts)
        for text in texts:  # the sentence's (noun, verb) pair is one of its split's
            words = set(text.split())
            pairs = {(n, v) for n, plural in speech.NOUNS for v, v_plural in speech.VERBS if words & {n, plural} and words & {v, v_plural}}
            assert pairs and pairs <= set(SPLIT_PAIRS[split]), (split, text)
    assert not {u.text for u in corpus["train"]} & {u.text for u in corpus["eval"]}
    bigger = replace(PROCEDURAL, n_utterances=12, n_eval=12)
    assert not {u.text for u in make_speech(bigger, seed=3, split="train")} & {u.text for u in make_speech(bigger, seed=3, split="eval")}


def test_clip_invariants(corpus):
    for utterances in corpus.values():
        assert [u.index for u in utterances] == list(range(len(utterances)))
        for u in utterances:
            _check_clip(u, PROCEDURAL)
            assert u.voice in PROCEDURAL.voices
            assert PROCEDURAL.pitch[0] <= u.pitch <= PROCEDURAL.pitch[1] and PROCEDURAL.speed[0] <= u.speed <= PROCEDURAL.speed[1]


def test_long_sentences_are_fitted():
    config = replace(PROCEDURAL, n_utterances=12, max_seconds=1.5)
    for u in make_speech(config, seed=0):
        _check_clip(u, config)


def test_normalise_audio_is_the_fregrad_pipeline():
    pcm = np.zeros(1000, np.int16)
    pcm[10], pcm[600], pcm[999] = -16384, 8192, 30000
    x = normalise_audio(pcm[:900])  # peak |-16384| -> 0.95, then 900 -> 768 samples (3 hops)
    expected = pcm[:900].astype(np.float64) / 32768.0
    expected = (expected / np.abs(expected).max() * 0.95)[:768]
    assert x.dtype == np.float32 and len(x) == 768 and np.allclose(x, expected, atol=1e-7)
    assert x[10] == pytest.approx(-0.95)
    assert not normalise_audio(np.zeros(600, np.int16)).any()


def test_trim_silence_keeps_a_margin():
    pcm = np.zeros(SAMPLE_RATE, np.int16)
    pcm[5000:6000] = 1000
    pcm[4000] = 2  # below 0.5 % of the peak: silence
    out = trim_silence(pcm)
    margin = int(0.05 * SAMPLE_RATE)
    assert len(out) == 1000 + 2 * margin and np.array_equal(out[margin:-margin], pcm[5000:6000])
    assert len(trim_silence(np.zeros(100, np.int16))) == 0


def test_cache_round_trip(monkeypatch):
    path = speech_cache_path(PROCEDURAL, 0, "eval")
    assert f"v{SPEECH_VERSION}" in path.name and "procedural" in path.name and path.suffix == ".npz"
    assert path != speech_cache_path(PROCEDURAL, 1, "eval") != speech_cache_path(PROCEDURAL, 0, "train")
    assert path != speech_cache_path(replace(PROCEDURAL, max_seconds=2.0), 0, "eval")
    first = load_speech(PROCEDURAL, 0, "eval")
    assert path.exists() and _same(first, make_speech(PROCEDURAL, 0, "eval"))

    def boom(*args, **kwargs):
        raise AssertionError("the cached corpus was regenerated")

    with monkeypatch.context() as m:
        m.setattr(speech, "make_speech", boom)
        m.setattr(speech, "_make", boom)
        assert _same(load_speech(PROCEDURAL, 0, "eval"), first)
    path.write_bytes(b"not a zip")  # a corrupt file is regenerated and rewritten
    assert _same(load_speech(PROCEDURAL, 0, "eval"), first)
    assert _same(load_speech(PROCEDURAL, 0, "eval"), first)


def _autocorrelation_f0(x: np.ndarray) -> float:
    x = x - x.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1:]
    lo, hi = SAMPLE_RATE // 300, SAMPLE_RATE // 80
    return SAMPLE_RATE / (lo + int(np.argmax(ac[lo:hi])))


@pytest.mark.parametrize("voice, pitch", [("en-us+f3", 35), ("en+m2", 50), ("en-029+m7", 70), ("en-gb-x-rp+f1", 65)])
def test_procedural_pitch_follows_its_contour(voice, pitch):
    pcm, f0 = procedural_speak("the happy lion waits past three rivers", voice, pitch, 160, seed=pitch)
    assert pcm.dtype == np.int16 and f0.shape == pcm.shape
    voiced = f0[f0 > 0]
    assert 90 <= voiced.min() and voiced.max() <= 250
    width = int(0.04 * SAMPLE_RATE)
    windows = [s for s in range(0, len(pcm) - width, width // 2) if (f0[s: s + width] > 0).all()]
    assert len(windows) > 10
    errors = np.array([abs(_autocorrelation_f0(pcm[s: s + width].astype(np.float64)) / f0[s: s + width].mean() - 1) for s in windows])
    assert np.mean(errors < 0.1) >= 0.95 and np.median(errors) < 0.03
    loudest = max(windows, key=lambda s: np.sum(pcm[s: s + width].astype(np.float64) ** 2))  # a vowel
    vowel = slice(loudest, loudest + width)
    assert _autocorrelation_f0(pcm[vowel].astype(np.float64)) == pytest.approx(f0[vowel].mean(), rel=0.1)
    if voice.endswith("f3"):  # female variants speak higher than male ones
        male = procedural_speak("the happy lion", "en-us+m3", pitch, 160)[1]
        assert np.median(voiced) > 1.3 * np.median(male[male > 0])


def test_procedural_is_fast_and_grows_with_text():
    short = procedural_speak("the cat runs", "en-us+m1", 50, 170, seed=0)[0]
    text = "the dragon runs toward five brave tables"
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        long = procedural_speak(text, "en-us+m1", 50, 170, seed=0)[0]
        best = min(best, time.perf_counter() - t)
    assert len(long) / SAMPLE_RATE >= 2.0 and best < 0.1
    assert len(long) > 1.5 * len(short)
    assert np.array_equal(long, procedural_speak(text, "en-us+m1", 50, 170, seed=0)[0])
    with pytest.raises(InputError, match="no letters"):
        procedural_speak("123 !", "en-us+m1")


def test_missing_espeak_falls_back(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    assert resolve_backend(replace(PROCEDURAL, backend="auto")) == "procedural"
    assert "procedural" in speech_cache_path(replace(PROCEDURAL, backend="auto"), 0).name
    auto = make_speech(replace(PROCEDURAL, backend="auto", n_utterances=2), seed=0)
    assert _same(auto, make_speech(replace(PROCEDURAL, n_utterances=2), seed=0))
    for call in (lambda: resolve_backend(ESPEAK), lambda: make_speech(ESPEAK, 0), lambda: load_speech(ESPEAK, 0)):
        with pytest.raises(ConfigError, match="espeak-ng is not on PATH"):
            call()
    with pytest.raises(InputError, match="espeak-ng: not on PATH"):
        speak("hello", "en-us")


def test_config_errors():
    with pytest.raises(ConfigError, match="backend"):
        SpeechConfig(backend="festival")
    with pytest.raises(ConfigError, match="min_seconds"):
        SpeechConfig(min_seconds=3.0, max_seconds=2.0)
    with pytest.raises(ConfigError, match="voices"):
        SpeechConfig(voices="en-us+f3")
    with pytest.raises(ConfigError, match="voices"):
        SpeechConfig(voices=("-w /tmp/x",))
    with pytest.raises(ConfigError, match="pitch"):
        SpeechConfig(pitch=(70, 30))
    with pytest.raises(InputError, match="split"):
        make_speech(PROCEDURAL, 0, split="test")


@needs_espeak
def test_espeak_speaks():
    short = speak("the cat runs", "en-us+f3", 50, 170)
    long = speak("the cat runs over seven small houses in the morning", "en-us+f3", 50, 170)
    assert short.dtype == np.int16 and short.ndim == 1
    assert np.abs(short).max() > 3000 and np.abs(long.astype(np.float64)).mean() > 100  # speech, not silence
    assert len(trim_silence(long)) > 2 * len(trim_silence(short))
    assert len(speak("the cat runs", "en-us+f3", 50, 120)) > len(speak("the cat runs", "en-us+f3", 50, 220))
    assert np.array_equal(short, speak("the cat runs", "en-us+f3", 50, 170))
    assert np.array_equal(speak("-w hello", "en-us"), speak("-w hello", "en-us"))  # text is never an option
    with pytest.raises(InputError, match="voice"):
        speak("hello", "nosuchvoice")
    with pytest.raises(InputError, match="empty"):
        speak("  ", "en-us")


@needs_espeak
def test_espeak_corpus():
    assert resolve_backend(SpeechConfig()) == "espeak"
    utterances = load_speech(ESPEAK, seed=0, split="eval")
    assert "espeak" in speech_cache_path(ESPEAK, 0, "eval").name
    assert _same(utterances, make_speech(ESPEAK, seed=0, split="eval"))
    for u in utterances:
        _check_clip(u, ESPEAK)
