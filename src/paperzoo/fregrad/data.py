"""Training data for the vocoders: the speech world (default, card §5) and LJSpeech from a
local folder (card §6), as one `Corpus` of normalised waveforms.

Every clip goes through the official pipeline: int16 / 32768, peak-normalised to 0.95, cut
to a whole number of hops. Training batches are random crops (62 frames = 15,872 samples
in the paper, `crop_frames`), drawn as a pure function of (seed, step) so a resumed run sees
the batches it would have seen; clips shorter than a crop are zero-padded (the official
collator drops them instead). The mel and the prior are computed on the crop, as the
official data loader does.

LJSpeech layout: ROOT/wavs/*.wav (22,050 Hz), and optionally the official filelists, whose
lines are paths like "LJSpeech-1.1/wavs/LJ001-0001.wav" relative to ROOT's parent (or to
ROOT, or absolute). The prior's energy statistics are read from ROOT/stats_priorgrad/
energy_{min,max}_train.npy when present (the files the official code writes and the
checkpoint release needs), else computed from the training clips and written there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from paperzoo.core.atomic import atomic_path
from paperzoo.core.cache import cache_dir
from paperzoo.core.errors import InputError
from paperzoo.fregrad.audio import MelConfig, mel_spectrogram, read_wav
from paperzoo.fregrad.config import VocoderConfig
from paperzoo.fregrad.dwt import haar_dwt
from paperzoo.fregrad.prior import EnergyStats, energy_stats, sample_sigma


def mel_config(config: VocoderConfig) -> MelConfig:
    """The mel front-end a vocoder config is conditioned on (§4.1; fmin per the config)."""
    return MelConfig(n_mels=config.n_mels, hop_length=config.hop, sample_rate=config.sample_rate, fmin=config.fmin, fmax=config.fmax)


@dataclass
class Corpus:
    """Normalised clips (float32, lengths multiples of the hop) with their names; `paths`
    (LJSpeech) are read on demand instead of held in memory."""

    names: list[str]
    clips: list[np.ndarray] | None = None
    paths: list[Path] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def clip(self, i: int) -> np.ndarray:
        if self.clips is not None:
            return self.clips[i]
        return read_wav(self.paths[i], resample=False)


def world_corpus(split: str = "train", seed: int = 0, n_utterances: int | None = None) -> Corpus:
    """The speech world (paperzoo.world.speech), cached on disk like every world dataset."""
    from paperzoo.world.speech import SpeechConfig, load_speech

    cfg = SpeechConfig() if n_utterances is None else SpeechConfig(n_utterances=n_utterances)
    utterances = load_speech(cfg, seed, split)
    return Corpus([f"{split}-{u.index:04d}" for u in utterances], clips=[u.audio for u in utterances])


def _resolve(root: Path, line: str) -> Path:
    p = Path(line)
    for candidate in (p, root.parent / p, root / p, root / "wavs" / p.name):
        if candidate.is_file():
            return candidate
    raise InputError(f"filelist entry {line!r}: no such wav under {root} (tried it as absolute, relative to {root.parent} "
                     f"and {root}, and {root / 'wavs'})")


def ljspeech_corpus(root: str | Path, filelist: str | Path | None = None) -> Corpus:
    """LJSpeech-layout clips: all of ROOT/wavs/*.wav, or those a filelist names (one per line)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder (expected an LJSpeech-1.1 folder with wavs/)")
    if filelist is not None:
        filelist = Path(filelist)
        if not filelist.is_file():
            raise InputError(f"filelist {filelist} does not exist")
        paths = [_resolve(root, line.strip()) for line in filelist.read_text().splitlines() if line.strip()]
    else:
        paths = sorted((root / "wavs").glob("*.wav"))
    if not paths:
        raise InputError(f"{root}: no wav files (expected {root / 'wavs'}/*.wav or a filelist)")
    return Corpus([p.stem for p in paths], paths=paths)


def corpus_stats(corpus: Corpus, config: VocoderConfig, stats_dir: str | Path | None = None, progress: bool = True) -> EnergyStats:
    """E_min / E_max of the training clips (E_max overridden per the config).

    With `stats_dir` (LJSpeech: ROOT/stats_priorgrad), the official npy files are read when
    present and written when computed; otherwise the result is cached by content in the cache."""
    files = None
    if stats_dir is not None:
        stats_dir = Path(stats_dir)
        files = stats_dir / "energy_min_train.npy", stats_dir / "energy_max_train.npy"
        if all(f.is_file() for f in files):
            lo, hi = (float(np.load(f, allow_pickle=False)) for f in files)
            return EnergyStats(lo, hi if config.max_energy is None else config.max_energy)
    key = hashlib.sha256(json.dumps([corpus.names, asdict(mel_config(config))]).encode())
    if corpus.clips is not None:
        for c in corpus.clips:
            key.update(np.ascontiguousarray(c).tobytes())
    cached = cache_dir("fregrad", "stats") / f"{key.hexdigest()[:16]}.json"
    if files is None and cached.is_file():
        lo, hi = json.loads(cached.read_text())
    else:
        mc = mel_config(config)
        mels = (mel_spectrogram(torch.from_numpy(corpus.clip(i)), mc)
                for i in tqdm(range(len(corpus)), desc="energy statistics", leave=False, disable=not progress))
        raw = energy_stats(mels, max_energy=None)
        lo, hi = raw.energy_min, raw.energy_max
        if files is not None:
            stats_dir.mkdir(parents=True, exist_ok=True)
            for f, v in zip(files, (lo, hi)):
                with atomic_path(f) as tmp:
                    with open(tmp, "wb") as fh:
                        np.save(fh, np.float32(v))
        else:
            with atomic_path(cached) as tmp:
                tmp.write_text(json.dumps([lo, hi]))
    return EnergyStats(lo, hi if config.max_energy is None else config.max_energy)


def crop_audio(corpus: Corpus, step: int, batch_size: int, crop_frames: int, hop: int, seed: int) -> Tensor:
    """[batch_size, crop_frames * hop] random crops for training step `step` (a pure function of seed and step)."""
    rng = np.random.default_rng([seed, step])
    length = crop_frames * hop
    out = np.zeros((batch_size, length), dtype=np.float32)
    for row, i in enumerate(rng.integers(len(corpus), size=batch_size)):
        clip = corpus.clip(int(i))
        if len(clip) > length:
            start = int(rng.integers(len(clip) - length + 1))
            out[row] = clip[start:start + length]
        else:
            out[row, : len(clip)] = clip
    return torch.from_numpy(out)


def model_input(audio: Tensor, config: VocoderConfig) -> Tensor:
    """Waveform [B, L] -> what the denoiser sees: the Haar sub-bands [B, 2, L/2] (FreGrad) or [B, 1, L]."""
    if config.bands == 1:
        return audio[:, None]
    return torch.stack(haar_dwt(audio), dim=1)


def training_batch(audio: Tensor, config: VocoderConfig, stats: EnergyStats) -> dict[str, Tensor]:
    """Crops -> {"x0": [B, bands, N], "mel": [B, n_mels, frames], "sigma": [B, bands, N]}."""
    mel = mel_spectrogram(audio, mel_config(config))
    return {"x0": model_input(audio, config), "mel": mel, "sigma": sample_sigma(mel, stats, config)}
