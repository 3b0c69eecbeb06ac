"""Spoken sentences: a small English corpus for training and evaluating a vocoder (FreGrad).

A vocoder learns mel -> waveform, so what matters is real speech acoustics (voiced pulses,
formants, fricative noise, silences, many speakers), not the meaning of the words. The
sentences come from a small grammar over a fixed word list,

    "the green bird flies over seven small houses"
    "three quiet robots sleep near the tower slowly"

and are spoken by Debian's `espeak-ng` with a voice, pitch (30-70) and speed (140-190
words per minute) drawn per utterance. Where espeak-ng is missing (or with
`backend="procedural"`) a source-filter synthesiser speaks the same sentences instead: a
glottal pulse train whose F0 glides per syllable, shaped by four time-varying formant
resonators, with band-passed noise for fricatives and stop bursts and pauses between words.

Every clip goes through the data pipeline of the official FreGrad / PriorGrad code, after
trimming the near-silence the renderer leaves at both ends:

    x = pcm / 32768                      (int16 WAV -> float)
    x = x / max|x| * 0.95                (librosa.util.normalize, then the 0.95 gain)
    x = x[: len(x) // 256 * 256]         (a whole number of hop-256 frames)

at 22,050 Hz. Clips are at least `min_seconds` (0.72 s: one 62-frame training crop of
15,872 samples fits) and at most `max_seconds`; a sentence that renders too short gains
words, one that renders too long loses its optional phrases.

Train and eval never share a sentence: each sentence is built around a (subject noun,
verb) pair, and a fixed fifth of all pairs belongs to eval only. Everything is a pure
function of (config, seed, split); `load_speech` caches a split as one .npz.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import wave
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.signal import butter, lfilter, sosfilt

from paperzoo.core.atomic import atomic_path
from paperzoo.core.cache import cache_dir
from paperzoo.core.errors import ConfigError, InputError

# Bump when the grammar, the renderers or the pipeline change, so cached corpora are regenerated.
SPEECH_VERSION = 1

SAMPLE_RATE = 22050
HOP = 256  # FreGrad's STFT hop; clips are whole multiples of it
PEAK = 0.95  # peak amplitude after normalisation, as in the official data pipeline
ESPEAK = "espeak-ng"
ESPEAK_TIMEOUT = 30.0  # seconds for one call; a sentence takes ~20 ms
BACKENDS: tuple[str, ...] = ("auto", "espeak", "procedural")
SPLITS: dict[str, int] = {"train": 0, "eval": 1}

SILENCE_THRESHOLD = 0.005  # |x| below this fraction of the clip's peak counts as silence (-46 dB)
SILENCE_MARGIN = 0.05  # seconds of the quiet edge kept at both ends, so onsets and decays stay whole

# espeak-ng voices: an English accent + a voice variant (f* female, m* male).
ACCENTS: tuple[str, ...] = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029")
VARIANTS: tuple[str, ...] = ("f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7")
VOICES: tuple[str, ...] = tuple(f"{a}+{v}" for a in ACCENTS for v in VARIANTS)
_VOICE_RE = re.compile(r"^[a-z][a-z0-9-]*(\+[a-z][a-z0-9]*)?$")  # never an option such as "-w"

# ---------------------------------------------------------------------------- grammar

ADJECTIVES: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "white", "black", "small", "big",
    "tall", "quiet", "happy", "old", "young", "bright", "brave", "sleepy",
)
NOUNS: tuple[tuple[str, str], ...] = (  # (singular, plural)
    ("bird", "birds"), ("cat", "cats"), ("dog", "dogs"), ("frog", "frogs"), ("horse", "horses"), ("rabbit", "rabbits"),
    ("farmer", "farmers"), ("sailor", "sailors"), ("robot", "robots"), ("teacher", "teachers"), ("painter", "painters"),
    ("dragon", "dragons"), ("lion", "lions"), ("tiger", "tigers"), ("monkey", "monkeys"), ("baker", "bakers"),
)
VERBS: tuple[tuple[str, str], ...] = (  # (with a singular subject, with a plural subject)
    ("runs", "run"), ("jumps", "jump"), ("sings", "sing"), ("sleeps", "sleep"), ("waits", "wait"), ("walks", "walk"),
    ("swims", "swim"), ("dances", "dance"), ("flies", "fly"), ("climbs", "climb"), ("hides", "hide"), ("rests", "rest"),
)
PREPOSITIONS: tuple[str, ...] = ("over", "under", "near", "behind", "beside", "past", "around", "toward")
PLACES: tuple[tuple[str, str], ...] = (
    ("house", "houses"), ("river", "rivers"), ("tree", "trees"), ("bridge", "bridges"), ("garden", "gardens"), ("hill", "hills"),
    ("wall", "walls"), ("table", "tables"), ("road", "roads"), ("tower", "towers"), ("field", "fields"), ("cloud", "clouds"),
)
NUMBERS: tuple[str, ...] = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
ADVERBS: tuple[str, ...] = ("slowly", "quickly", "today", "again", "quietly", "at night", "every day", "in the morning")

EVAL_FRACTION = 0.2


def _pair_rank(pair: tuple[str, str]) -> str:
    return hashlib.sha256("|".join(pair).encode()).hexdigest()


# (noun, verb) pairs by split: a fixed hash order, the first fifth eval. Every sentence holds
# exactly one subject noun and one main verb, so the two splits can never share a sentence.
_PAIRS = sorted(((n[0], v[0]) for n in NOUNS for v in VERBS), key=_pair_rank)
_N_EVAL_PAIRS = round(EVAL_FRACTION * len(_PAIRS))
SPLIT_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "train": tuple(sorted(_PAIRS[_N_EVAL_PAIRS:])),
    "eval": tuple(sorted(_PAIRS[:_N_EVAL_PAIRS])),
}
_NOUN = {s: (s, p) for s, p in NOUNS}
_VERB = {s: (s, p) for s, p in VERBS}


def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _noun_phrase(rng: np.random.Generator, forms: tuple[str, str], plural: bool) -> str:
    """'the [adj] noun' or '<number> [adj] nouns'."""
    words = [_choice(rng, NUMBERS) if plural else "the"]
    if rng.random() < 0.5:
        words.append(_choice(rng, ADJECTIVES))
    words.append(forms[1] if plural else forms[0])
    return " ".join(words)


def draw_sentence(rng: np.random.Generator, split: str) -> tuple[list[str], int]:
    """A sentence as phrases: subject, verb, then an optional place phrase and adverb.

    Returns (phrases, n_required): phrases[n_required:] may be dropped to shorten it.
    """
    noun, verb = _choice(rng, SPLIT_PAIRS[split])
    plural = rng.random() < 0.3
    phrases = [_noun_phrase(rng, _NOUN[noun], plural), _VERB[verb][1 if plural else 0]]
    if rng.random() < 0.6:
        phrases.append(f"{_choice(rng, PREPOSITIONS)} {_noun_phrase(rng, _choice(rng, PLACES), rng.random() < 0.3)}")
    if rng.random() < 0.3:
        phrases.append(_choice(rng, ADVERBS))
    return phrases, 2


# ---------------------------------------------------------------------------- config


@dataclass(frozen=True)
class SpeechConfig:
    n_utterances: int = 300  # train split
    n_eval: int = 16  # eval split
    min_seconds: float = 0.72  # >= one 62-frame crop (15,872 samples) of FreGrad training
    max_seconds: float = 3.0
    backend: str = "auto"  # "auto" (espeak-ng when installed), "espeak" or "procedural"
    voices: tuple[str, ...] = VOICES
    pitch: tuple[int, int] = (30, 70)  # espeak-ng -p range (0-99; 50 is the voice's own)
    speed: tuple[int, int] = (140, 190)  # espeak-ng -s range, words per minute

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ConfigError(f"SpeechConfig.backend: unknown {self.backend!r}; allowed: {', '.join(BACKENDS)}")
        if self.n_utterances < 1 or self.n_eval < 1:
            raise ConfigError(f"SpeechConfig: n_utterances and n_eval must be >= 1, got {self.n_utterances} and {self.n_eval}")
        if not HOP / SAMPLE_RATE <= self.min_seconds < self.max_seconds:
            raise ConfigError(
                f"SpeechConfig: need {HOP / SAMPLE_RATE:.4f} <= min_seconds < max_seconds, got {self.min_seconds} and {self.max_seconds}"
            )
        if isinstance(self.voices, str):
            raise ConfigError(f"SpeechConfig.voices: expected a tuple of espeak-ng voices, got the string {self.voices!r}")
        object.__setattr__(self, "voices", tuple(self.voices))
        bad = [v for v in self.voices if not _VOICE_RE.match(v)]
        if bad or not self.voices:
            raise ConfigError(f"SpeechConfig.voices: {bad or 'empty'}; expected espeak-ng voice names such as 'en-us+f3'")
        for name, low, high in (("pitch", 0, 99), ("speed", 80, 450)):
            lo, hi = (int(v) for v in getattr(self, name))
            if not low <= lo <= hi <= high:
                raise ConfigError(f"SpeechConfig.{name}: {getattr(self, name)!r}; expected (lo, hi) with {low} <= lo <= hi <= {high}")
            object.__setattr__(self, name, (lo, hi))

    @property
    def min_samples(self) -> int:
        return int(np.ceil(self.min_seconds * SAMPLE_RATE))

    @property
    def max_samples(self) -> int:
        """The longest clip: a whole number of hops."""
        return int(self.max_seconds * SAMPLE_RATE) // HOP * HOP


@dataclass(frozen=True)
class Utterance:
    text: str
    audio: np.ndarray  # (T,) float32 at SAMPLE_RATE, peak 0.95, T a multiple of HOP
    voice: str  # espeak-ng voice, e.g. "en-us+f3"; the procedural backend derives its speaker from it
    index: int  # position in its split
    pitch: int = 50  # espeak-ng -p
    speed: int = 175  # espeak-ng -s, words per minute

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def resolve_backend(config: SpeechConfig) -> str:
    """'espeak' or 'procedural': what `config.backend` means on this machine."""
    installed = shutil.which(ESPEAK) is not None
    if config.backend == "espeak" and not installed:
        raise ConfigError(
            f"SpeechConfig.backend='espeak': {ESPEAK} is not on PATH; install it (apt-get install espeak-ng) "
            "or use backend='auto' or 'procedural'"
        )
    if config.backend == "auto":
        return "espeak" if installed else "procedural"
    return config.backend


# ---------------------------------------------------------------------------- pipeline


def trim_silence(pcm: np.ndarray, threshold: float = SILENCE_THRESHOLD, margin: float = SILENCE_MARGIN) -> np.ndarray:
    """Drop the near-silence before the first and after the last sample above `threshold` x peak,
    keeping `margin` seconds of it. pcm (T,) int16 -> (T',) int16."""
    level = np.abs(pcm.astype(np.int32))
    loud = np.flatnonzero(level > threshold * level.max()) if len(level) else []
    if len(loud) == 0:
        return pcm[:0]
    keep = int(margin * SAMPLE_RATE)
    return pcm[max(0, loud[0] - keep): loud[-1] + 1 + keep]


def normalise_audio(pcm: np.ndarray) -> np.ndarray:
    """The official FreGrad / PriorGrad pipeline: int16 -> float, peak 0.95, whole hops.

    pcm (T,) int16 -> (T // HOP * HOP,) float32. An all-zero clip stays zero (librosa's
    `normalize` leaves it too).
    """
    x = pcm.astype(np.float64) / 32768.0
    peak = np.abs(x).max() if len(x) else 0.0
    if peak > 0:
        x = x / peak * PEAK
    return x[: len(x) // HOP * HOP].astype(np.float32)


def _fit(pcm: np.ndarray, config: SpeechConfig) -> np.ndarray:
    """Trimmed, cropped to max_samples, whole hops: the int16 samples of the final clip.

    Dropping the last < HOP samples here instead of after the gain changes nothing: they lie
    in the quiet margin (SILENCE_MARGIN > HOP samples), so the peak is never among them.
    """
    pcm = trim_silence(pcm)[: config.max_samples]
    return pcm[: len(pcm) // HOP * HOP]


# ---------------------------------------------------------------------------- espeak-ng


def speak(text: str, voice: str = "en-us", pitch: int = 50, speed: int = 175) -> np.ndarray:
    """One espeak-ng call: `text` spoken by `voice`; returns the WAV's samples, (T,) int16 at 22,050 Hz.

    Raises InputError when espeak-ng is missing, rejects the voice, times out, or writes
    something other than 16-bit mono 22,050 Hz.
    """
    if not text.strip():
        raise InputError("text: empty; expected words to speak")
    if not _VOICE_RE.match(voice):
        raise InputError(f"voice: {voice!r} is not an espeak-ng voice name such as 'en-us+f3'")
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise InputError(f"{ESPEAK}: not on PATH; install it (apt-get install espeak-ng) or use the procedural backend")
    fd, tmp = tempfile.mkstemp(prefix="paperzoo-speak-", suffix=".wav")
    os.close(fd)
    try:
        cmd = [exe, "-v", voice, "-p", str(int(pitch)), "-s", str(int(speed)), "-w", tmp, "--", text]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=ESPEAK_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise InputError(f"{ESPEAK}: no answer within {ESPEAK_TIMEOUT:.0f} s for voice {voice!r} and text {text!r}") from None
        if done.returncode != 0:
            raise InputError(f"{ESPEAK} -v {voice}: exit status {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
        try:
            with wave.open(tmp, "rb") as w:
                form = (w.getframerate(), w.getnchannels(), w.getsampwidth())
                frames = w.readframes(w.getnframes())
        except (wave.Error, EOFError) as e:
            raise InputError(f"{ESPEAK} -v {voice}: unreadable WAV ({e})") from e
        if form != (SAMPLE_RATE, 1, 2):
            raise InputError(f"{ESPEAK} -v {voice}: wrote (rate, channels, bytes) {form}; expected ({SAMPLE_RATE}, 1, 2)")
        return np.frombuffer(frames, dtype="<i2").astype(np.int16)
    finally:
        os.unlink(tmp)


@functools.lru_cache(maxsize=1)
def _espeak_version() -> str:
    """espeak-ng's version, part of the cache key: another version speaks differently."""
    try:
        out = subprocess.run([ESPEAK, "--version"], capture_output=True, text=True, timeout=ESPEAK_TIMEOUT).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    found = re.search(r"\d+(\.\d+)+", out)
    return found.group(0) if found else "unknown"


# ---------------------------------------------------------------------------- procedural speech

# F1, F2, F3 in Hz of an adult male vocal tract (after Peterson & Barney 1952); F4 is fixed.
_VOWELS: dict[str, tuple[float, float, float]] = {
    "a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (390, 1990, 2550),
    "o": (570, 840, 2410), "u": (440, 1020, 2240), "y": (300, 2100, 2700),
}
_SONORANTS: dict[str, tuple[float, float, float]] = {
    "m": (280, 1000, 2200), "n": (280, 1500, 2500), "l": (360, 1300, 2700),
    "r": (420, 1300, 1600), "w": (300, 700, 2200), "y": (300, 2100, 2700),
}
_F4 = 3400.0
_BANDWIDTHS = np.array([80.0, 100.0, 150.0, 250.0])  # B1..B4 in Hz
# Frication noise bands (Hz): "s"-like hiss, "sh"-like hush, weak broadband breath ("f", "th", "h").
_NOISE_BANDS: dict[str, tuple[float, float]] = {"hiss": (3500, 9000), "hush": (1800, 5500), "breath": (700, 8000)}
_FRICATIVES: dict[str, tuple[str, bool]] = {  # letter or digraph -> (band, voiced)
    "s": ("hiss", False), "c": ("hiss", False), "x": ("hiss", False), "z": ("hiss", True),
    "sh": ("hush", False), "ch": ("hush", False), "j": ("hush", True),
    "f": ("breath", False), "ph": ("breath", False), "th": ("breath", False), "h": ("breath", False), "v": ("breath", True),
}
_STOPS: dict[str, str] = {"p": "breath", "b": "breath", "t": "hiss", "d": "hiss", "k": "hush", "g": "hush", "q": "hush", "ck": "hush"}
_NOISE_LEVEL = {"hiss": 0.35, "hush": 0.3, "breath": 0.12}
_BLOCK = 256  # samples per step of the time-varying formant filters (11.6 ms)


@dataclass
class _Phone:
    seconds: float
    voicing: float  # amplitude of the glottal source
    formants: tuple[float, float, float] | None  # F1-F3 target while voiced (None: take the neighbours')
    noise: str | None = None  # band of the frication noise
    noise_level: float = 0.0
    syllable: bool = False  # a vowel nucleus: F0 glides across it


def _phones(word: str) -> list[_Phone]:
    """Rough letter-to-sound rules; enough for speech-like timing, spectra and F0 (not intelligibility)."""
    if len(word) > 3 and word.endswith("e") and word[-2] not in _VOWELS:
        word = word[:-1]  # silent final e: "house", "dance"
    phones: list[_Phone] = []
    i = 0
    while i < len(word):
        two, one = word[i: i + 2], word[i]
        if len(two) == 2 and two[0] in _VOWELS and two[1] in "aeiouw" and two[0] != "y":  # a long vowel / diphthong
            target = _VOWELS.get(two[1], _SONORANTS["w"])
            phones += [_Phone(0.075, 1.0, _VOWELS[two[0]], syllable=True), _Phone(0.06, 0.9, target)]
            i += 2
        elif two in _FRICATIVES or two in _STOPS:
            phones += _consonant(two)
            i += 2
        elif one == "y" and i == 0:
            phones.append(_Phone(0.05, 0.5, _SONORANTS["y"]))
            i += 1
        elif one in _VOWELS:
            phones.append(_Phone(0.085, 1.0, _VOWELS[one], syllable=True))
            i += 1
        elif two == "ng":
            phones.append(_Phone(0.07, 0.5, _SONORANTS["n"]))
            i += 2
        else:
            phones += _consonant(one)
            i += 1
        while i < len(word) and word[i] == word[i - 1] and word[i] not in _VOWELS:  # "rabbit": one b
            i += 1
    return phones


def _consonant(c: str) -> list[_Phone]:
    if c in _SONORANTS:
        return [_Phone(0.055, 0.5, _SONORANTS[c])]
    if c in _FRICATIVES:
        band, voiced = _FRICATIVES[c]
        return [_Phone(0.08, 0.3 if voiced else 0.0, None, band, _NOISE_LEVEL[band])]
    if c in _STOPS:  # closure, then a short burst
        return [_Phone(0.045, 0.0, None), _Phone(0.015, 0.0, None, _STOPS[c], 0.6)]
    return [_Phone(0.05, 0.3, None)]


@functools.lru_cache(maxsize=None)
def _band_filter(name: str) -> np.ndarray:
    low, high = _NOISE_BANDS[name]
    return butter(4, [low, min(high, 0.95 * SAMPLE_RATE / 2)], btype="bandpass", fs=SAMPLE_RATE, output="sos")


@functools.lru_cache(maxsize=None)
def _highpass() -> np.ndarray:
    return butter(2, 60, btype="highpass", fs=SAMPLE_RATE, output="sos")


def _smooth(x: np.ndarray, seconds: float = 0.006) -> np.ndarray:
    """Two passes of a centred moving average (a triangle ~2 x `seconds` wide): envelope ramps."""
    w = max(1, int(seconds * SAMPLE_RATE))
    for _ in range(2):
        c = np.cumsum(np.concatenate([np.zeros(w // 2 + 1), x, np.full(w - w // 2, x[-1])]))
        x = (c[w:] - c[:-w])[: len(x)] / w
    return x


def voice_params(voice: str, pitch: int, speed: int) -> tuple[float, float, float]:
    """(base F0 in Hz, vocal-tract scale, duration scale) of the procedural speaker for an espeak-ng
    voice: female variants ('+f*') speak at 160-220 Hz with a 17 % shorter tract, others at 100-140 Hz;
    pitch 30..70 spans that range; durations scale as 170 / speed."""
    variant = voice.partition("+")[2] or "m3"
    female = variant.startswith("f")
    number = int(variant[1:]) if variant[1:].isdigit() else 3
    t = (min(max(pitch, 30), 70) - 30) / 40
    base = (160 + 60 * t) if female else (100 + 40 * t)
    tract = (1.17 if female else 1.0) * (1 + 0.02 * (number - 3))
    return base, tract, 170.0 / speed


def procedural_speak(text: str, voice: str = "en-us", pitch: int = 50, speed: int = 175, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Speech-like audio for `text` from a source-filter model, where espeak-ng is missing.

    Source: an impulse train at F0(t) (a smooth contour through one rising or falling glide per
    syllable, declining over the sentence, within 90-250 Hz) with a -6 dB/octave tilt, plus
    band-passed noise for fricatives and stop bursts. Filter: four cascaded resonators
    (F1-F4, scaled by the speaker's tract length) whose frequencies move smoothly from phone
    to phone, updated every 256 samples. Words are separated by 40-100 ms pauses.

    Returns pcm (T,) int16 at 22,050 Hz (as a WAV would hold it) and f0 (T,) float32, the
    source's F0 in Hz on voiced samples and 0 elsewhere.
    """
    words = re.findall(r"[a-z]+", text.lower())
    if not words:
        raise InputError(f"text: {text!r} holds no letters to speak")
    rng = np.random.default_rng(seed)
    base, tract, stretch = voice_params(voice, pitch, speed)
    lead = 0.15
    # Phones -> a sample timeline.
    phones: list[_Phone] = [_Phone(lead, 0.0, None)]
    for k, word in enumerate(words):
        if k:
            phones.append(_Phone(float(rng.uniform(0.04, 0.1)), 0.0, None))
        for p in _phones(word):
            p.seconds *= stretch * float(rng.uniform(0.85, 1.15))
            if p.syllable:
                p.voicing *= float(rng.uniform(0.7, 1.0))
            phones.append(p)
    phones.append(_Phone(lead, 0.0, None))
    ends = np.cumsum([round(p.seconds * SAMPLE_RATE) for p in phones])
    starts = np.concatenate([[0], ends[:-1]])
    n = int(ends[-1])
    n = n + (-n) % _BLOCK
    t = np.arange(n) / SAMPLE_RATE

    voicing = np.zeros(n)
    noise_gain = {band: np.zeros(n) for band in _NOISE_BANDS}
    anchor_t, anchor_f = [], []  # formant anchors (s, (F1, F2, F3))
    f0_t, f0_v = [], []
    duration = n / SAMPLE_RATE
    for p, a, b in zip(phones, starts, ends):
        voicing[a:b] = p.voicing
        if p.noise:
            noise_gain[p.noise][a:b] = p.noise_level
        if p.formants is not None:  # hold the target over the middle of the phone
            anchor_t += [(a + 0.25 * (b - a)) / SAMPLE_RATE, (a + 0.75 * (b - a)) / SAMPLE_RATE]
            anchor_f += [p.formants, p.formants]
        if p.syllable:  # a glide across the nucleus, on a line falling 20 % over the sentence
            decline = 1.1 - 0.2 * (a / SAMPLE_RATE) / duration
            f_start = base * decline * float(np.exp(rng.normal(0, 0.06)))
            f_end = f_start * float(np.exp(rng.uniform(-0.15, 0.15)))
            f0_t += [(a + 0.1 * (b - a)) / SAMPLE_RATE, (b - 0.1 * (b - a)) / SAMPLE_RATE]
            f0_v += [f_start, f_end]
    if not f0_t:  # no vowel letter ("hmm"): a flat contour
        f0_t, f0_v = [0.0, duration], [base, base]
    if not anchor_t:
        anchor_t, anchor_f = [0.0], [_VOWELS["e"]]

    # F0 contour: monotone cubic through the glide ends (no overshoot), held flat outside them.
    if len(f0_t) > 1:
        contour = PchipInterpolator(np.asarray(f0_t), np.asarray(f0_v))(np.clip(t, f0_t[0], f0_t[-1]))
    else:
        contour = np.full(n, f0_v[0])
    contour = np.clip(contour, 90.0, 250.0)
    voicing = _smooth(voicing)  # ramps instead of clicks

    # Glottal source: one impulse each time the phase sum_t F0 / fs passes an integer.
    phase = np.cumsum(contour / SAMPLE_RATE)
    pulses = np.zeros(n)
    pulses[1:][np.diff(np.floor(phase)) > 0] = 1.0
    source = lfilter([1.0], [1.0, -0.9], pulses) * voicing
    source += 0.02 * rng.standard_normal(n) * voicing  # a little breathiness

    # Vocal tract: a cascade of four resonators, retuned every block. Resonator i (formant F_i,
    # bandwidth B_i): H_i(z) = (1 + a1 + a2) / (1 + a1 z^-1 + a2 z^-2), r = exp(-pi B_i / fs),
    # a1 = -2 r cos(2 pi F_i / fs), a2 = r^2; the numerator sets the gain at DC to 1.
    centres = (np.arange(n // _BLOCK) + 0.5) * _BLOCK / SAMPLE_RATE
    formants = np.stack([np.interp(centres, anchor_t, [f[j] for f in anchor_f]) for j in range(3)] + [np.full(len(centres), _F4)], 1)
    formants = formants * tract  # (blocks, 4)
    r = np.exp(-np.pi * _BANDWIDTHS / SAMPLE_RATE)
    a1 = -2 * r * np.cos(2 * np.pi * formants / SAMPLE_RATE)
    a2 = np.broadcast_to(r**2, a1.shape)
    sos = np.zeros(formants.shape + (6,))
    sos[..., 0] = 1 + a1 + a2
    sos[..., 3], sos[..., 4], sos[..., 5] = 1.0, a1, a2
    voiced = source.copy()
    zi = np.zeros((4, 2))
    for k in range(len(centres)):  # lfilter per section: a third of sosfilt's per-call cost
        cut = slice(k * _BLOCK, (k + 1) * _BLOCK)
        for j in range(4):
            voiced[cut], zi[j] = lfilter(sos[k, j, :3], sos[k, j, 3:], voiced[cut], zi=zi[j])
    voiced /= np.sqrt(np.mean(voiced[voicing > 0.5] ** 2)) if np.any(voicing > 0.5) else 1.0

    audio = voiced
    for band, gain in noise_gain.items():
        if gain.any():
            noise = sosfilt(_band_filter(band), rng.standard_normal(n))
            audio = audio + _smooth(gain) * noise / noise.std()
    audio = sosfilt(_highpass(), audio)
    pcm = np.round(audio / np.abs(audio).max() * 0.5 * 32767).astype(np.int16)
    f0 = np.where(voicing > 0.05, contour, 0.0).astype(np.float32)
    return pcm, f0


# ---------------------------------------------------------------------------- corpus


def _check_split(split: str) -> int:
    if split not in SPLITS:
        raise InputError(f"split: unknown {split!r}; allowed: {', '.join(SPLITS)}")
    return SPLITS[split]


@dataclass(frozen=True)
class _Plan:
    """What utterance `index` says and who says it, before rendering."""

    index: int
    phrases: tuple[str, ...]
    n_required: int
    voice: str
    pitch: int
    speed: int
    seed: np.random.SeedSequence


def _plans(config: SpeechConfig, seed: int, split: str) -> list[_Plan]:
    """Utterance k is drawn from SeedSequence([seed, split, k, attempt]); a sentence already in
    the split is redrawn with the next attempt, so a split never repeats a sentence and a
    smaller split is a prefix of a larger one."""
    sid = _check_split(split)
    n = config.n_utterances if split == "train" else config.n_eval
    seen: set[str] = set()
    plans = []
    for k in range(n):
        for attempt in range(1000):
            ss = np.random.SeedSequence([int(seed), sid, k, attempt])
            rng = np.random.default_rng(ss)
            phrases, n_required = draw_sentence(rng, split)
            if " ".join(phrases) not in seen:
                break
        seen.add(" ".join(phrases))
        voice = _choice(rng, config.voices)
        pitch = int(rng.integers(config.pitch[0], config.pitch[1] + 1))
        speed = int(rng.integers(config.speed[0], config.speed[1] + 1))
        plans.append(_Plan(k, tuple(phrases), n_required, voice, pitch, speed, ss.spawn(1)[0]))
    return plans


def _render(plan: _Plan, config: SpeechConfig, backend: str) -> tuple[str, np.ndarray]:
    """Speak a plan, fitting it to [min_seconds, max_seconds]: drop optional phrases while too
    long, add adverbs while too short, crop what is still too long. Returns (text, pcm int16)."""
    rng = np.random.default_rng(plan.seed)
    synth_seed = int(rng.integers(2**63))
    phrases, extended = list(plan.phrases), False
    for attempt in range(8):
        text = " ".join(phrases)
        if backend == "espeak":
            raw = speak(text, plan.voice, plan.pitch, plan.speed)
        else:
            raw = procedural_speak(text, plan.voice, plan.pitch, plan.speed, seed=synth_seed)[0]
        length = len(trim_silence(raw)) // HOP * HOP
        if attempt == 7:
            break
        if length > config.max_samples and len(phrases) > plan.n_required and not extended:
            phrases.pop()
        elif length < config.min_samples:
            phrases.append(_choice(rng, [a for a in ADVERBS if a not in text] or ["again"]))
            extended = True
        else:
            break
    pcm = _fit(raw, config)
    if len(pcm) < config.min_samples:
        raise InputError(f"{backend}: {text!r} renders only {len(pcm) / SAMPLE_RATE:.2f} s; need >= {config.min_seconds} s")
    return text, pcm


def _utterances(plans: list[_Plan], texts: list[str], pcms: list[np.ndarray]) -> list[Utterance]:
    return [
        Utterance(text=t, audio=normalise_audio(pcm), voice=p.voice, index=p.index, pitch=p.pitch, speed=p.speed)
        for p, t, pcm in zip(plans, texts, pcms)
    ]


def _make(config: SpeechConfig, seed: int, split: str) -> tuple[list[_Plan], list[str], list[np.ndarray]]:
    backend = resolve_backend(config)
    plans = _plans(config, seed, split)
    if backend == "espeak":  # each call is a subprocess: two at a time keep two cores busy
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            rendered = list(pool.map(lambda p: _render(p, config, backend), plans))
    else:
        rendered = [_render(p, config, backend) for p in plans]
    return plans, [r[0] for r in rendered], [r[1] for r in rendered]


def make_speech(config: SpeechConfig, seed: int, split: str = "train") -> list[Utterance]:
    """The `split` corpus: config.n_utterances (train) or config.n_eval (eval) utterances.

    A pure function of (config, seed, split) and of the backend `resolve_backend` picks.
    """
    return _utterances(*_make(config, seed, split))


def speech_cache_path(config: SpeechConfig, seed: int, split: str = "train") -> Path:
    """Cache file of a split; its name holds the version, the backend actually used, and a hash of
    (config, seed, split, and for espeak-ng its version)."""
    _check_split(split)
    backend = resolve_backend(config)
    key = [asdict(replace(config, backend=backend)), int(seed), split, SPEECH_VERSION, _espeak_version() if backend == "espeak" else None]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir("world", "speech") / f"speech-v{SPEECH_VERSION}-{backend}-{split}-{digest}.npz"


def _save(path: Path, plans: list[_Plan], texts: list[str], pcms: list[np.ndarray]) -> None:
    """One .npz: the int16 samples of every clip end to end, offsets, and per-clip metadata.

    int16 halves the file against float32 and loses nothing: `normalise_audio` of the stored
    samples is the clip exactly.
    """
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pcms])]).astype(np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz"
            np.savez_compressed(
                f,
                pcm=np.concatenate(pcms),
                offsets=offsets,
                texts=np.asarray(texts, dtype=str),
                voices=np.asarray([p.voice for p in plans], dtype=str),
                pitch=np.asarray([p.pitch for p in plans], dtype=np.int16),
                speed=np.asarray([p.speed for p in plans], dtype=np.int16),
            )


def _load(path: Path, n: int) -> list[Utterance]:
    try:
        with np.load(path, allow_pickle=False) as data:
            pcm, offsets = data["pcm"], data["offsets"]
            texts, voices = [str(t) for t in data["texts"]], [str(v) for v in data["voices"]]
            pitch, speed = data["pitch"], data["speed"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: not a readable speech corpus ({type(e).__name__}: {e})") from e
    if not (len(offsets) == n + 1 == len(texts) + 1 == len(voices) + 1 == len(pitch) + 1 == len(speed) + 1) or offsets[-1] != len(pcm):
        raise InputError(f"{path}: arrays of different lengths; the file is incomplete")
    return [
        Utterance(
            text=texts[k], audio=normalise_audio(pcm[offsets[k]: offsets[k + 1]]),
            voice=voices[k], index=k, pitch=int(pitch[k]), speed=int(speed[k]),
        )
        for k in range(n)
    ]


def load_speech(config: SpeechConfig, seed: int, split: str = "train") -> list[Utterance]:
    """`make_speech(config, seed, split)`, cached under $PAPERZOO_CACHE/world/speech.

    A missing, corrupt or mismatched cache file is regenerated and rewritten.
    """
    path = speech_cache_path(config, seed, split)
    n = config.n_utterances if split == "train" else config.n_eval
    if path.exists():
        try:
            return _load(path, n)
        except InputError:
            pass
    plans, texts, pcms = _make(config, seed, split)
    _save(path, plans, texts, pcms)
    return _utterances(plans, texts, pcms)
