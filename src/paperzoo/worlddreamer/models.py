"""Trained tiny models, cached: the tokenizer, the STPT, the causal baseline and the video classifier.

Every unit is a `core.runcache` run (keyed by its settings, the seed and the code), so the
CLI's default model, the benchmark and `reproduce` train each model once and then reuse it;
an interrupted training resumes from its checkpoint. `tiny_models(seed)` returns the set the
CLI and the benchmark use, under `$PAPERZOO_CACHE/worlddreamer/`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from paperzoo.core.cache import cache_dir
from paperzoo.core.runcache import cached_run
from paperzoo.world.videos import ClipBatch, VideoConfig, load_clips
from paperzoo.worlddreamer.autoregressive import CausalVideoTransformer
from paperzoo.worlddreamer.classifier import VideoClassifier, train_classifier
from paperzoo.worlddreamer.config import WorldDreamerConfig, config as get_config
from paperzoo.worlddreamer.evaluate import mean_ade, to_uint8
from paperzoo.worlddreamer.stpt import STPT
from paperzoo.worlddreamer.tokenizer import FrameTokenizer, psnr
from paperzoo.worlddreamer.train import TrainConfig, train_stpt, train_tokenizer, training_tokens

SYSTEM = "worlddreamer"
EVAL_SEED = 0  # the evaluation clips are the same for every training seed


def eval_clips(video: VideoConfig, n: int) -> ClipBatch:
    return load_clips(video, EVAL_SEED, n, split="eval")


def tokenizer_unit(folder: Path, wd: WorldDreamerConfig, video: VideoConfig, recipe: TrainConfig, seed: int,
                   device: str = "cpu", progress: bool = True) -> dict:
    settings = {"unit": "tokenizer", "tokenizer": asdict(wd.tokenizer), "video": asdict(video), "seed": seed,
                "steps": recipe.tokenizer_steps, "clips": recipe.tokenizer_clips, "lr": recipe.tokenizer_lr}

    def fn(f: Path) -> dict:
        tok = train_tokenizer(wd.tokenizer, video, recipe, f, seed=seed, device=device, progress=progress)
        clips = eval_clips(video, 64)
        frames = clips.frames_float()
        rec = tok.reconstruct(frames)
        ids = tok.encode(frames)
        return {"psnr": float(psnr(rec, frames).mean()), "codebook_usage": int(ids.unique().numel()) / tok.codebook_size,
                "reconstruction_ade": mean_ade(to_uint8(rec), clips, video, from_frame=0)}

    return cached_run(folder, SYSTEM, settings, fn)


def stpt_unit(folder: Path, tokenizer_folder: Path, wd: WorldDreamerConfig, video: VideoConfig, recipe: TrainConfig,
              seed: int, kind: str = "stpt", device: str = "cpu", progress: bool = True) -> dict:
    """Train the STPT (kind "stpt") or the same-size causal baseline (kind "causal") on the tokenizer's tokens."""
    settings = {"unit": kind, "stpt": asdict(wd.stpt), "recipe": asdict(recipe), "video": asdict(video), "seed": seed,
                "tokenizer": str(tokenizer_folder)}

    def fn(f: Path) -> dict:
        tok = FrameTokenizer.from_pretrained(tokenizer_folder / "tokenizer")
        tokens = training_tokens(tok, video, recipe.train_clips, seed, tokenizer_folder / f"tokens-{recipe.train_clips}.npz", progress)
        if kind == "stpt":
            train_stpt(wd.stpt, tokens, recipe, f, seed=seed, device=device, progress=progress)
        else:
            from paperzoo.worlddreamer.train import train_causal

            train_causal(wd.stpt, tokens, recipe, f, seed=seed, device=device, progress=progress)
        history = json.loads((f / "history.json").read_text())
        return {"final_loss": history[-1]["loss"] if history else None}

    return cached_run(folder, SYSTEM, settings, fn)


def classifier_unit(folder: Path, video: VideoConfig, seed: int, steps: int = 400, device: str = "cpu",
                    progress: bool = True, eval_n: int = 256) -> dict:
    settings = {"unit": "classifier", "video": asdict(video), "seed": seed, "steps": steps, "eval": eval_n}

    def fn(f: Path) -> dict:
        from paperzoo.worlddreamer.classifier import caption_accuracy

        model = train_classifier(video, f, steps=steps, seed=seed, device=device, progress=progress)
        clips = eval_clips(video, eval_n)
        return {"accuracy_on_real": caption_accuracy(model, clips.frames_float(), clips)}

    return cached_run(folder, SYSTEM, settings, fn)


@dataclass
class TinyModels:
    video: VideoConfig
    tokenizer: FrameTokenizer
    stpt: STPT
    ar: CausalVideoTransformer | None
    classifier: VideoClassifier | None


def default_folder(seed: int) -> Path:
    return cache_dir(SYSTEM, "tiny", f"seed-{seed}")


def tiny_models(seed: int = 0, name: str = "tiny", with_ar: bool = True, with_classifier: bool = False,
                device: str = "cpu", progress: bool = True, recipe: TrainConfig | None = None) -> TinyModels:
    """The cached tiny models of `seed` (trained on first use, with progress bars and a note saying so)."""
    wd = get_config(name)
    video = VideoConfig(image_size=wd.tokenizer.image_size, frames=wd.stpt.frames)
    recipe = recipe or TrainConfig()
    root = default_folder(seed) / name
    units = [("tokenizer", root / "tokenizer"), ("stpt", root / "stpt")] + ([("causal", root / "causal")] if with_ar else [])
    if progress and not (root / "stpt" / "result.json").exists():
        print(f"worlddreamer: training the {name} models for seed {seed} once ({', '.join(u for u, _ in units)}); "
              f"later runs reuse them from {root}", file=sys.stderr)
    tokenizer_unit(root / "tokenizer", wd, video, recipe, seed, device, progress)
    stpt_unit(root / "stpt", root / "tokenizer", wd, video, recipe, seed, "stpt", device, progress)
    ar = None
    if with_ar:
        stpt_unit(root / "causal", root / "tokenizer", wd, video, recipe, seed, "causal", device, progress)
        ar = CausalVideoTransformer.from_pretrained(root / "causal" / "model").eval()
    classifier = None
    if with_classifier:
        classifier_unit(root / "classifier", video, seed, device=device, progress=progress)
        classifier = VideoClassifier.from_pretrained(root / "classifier" / "model").eval()
    return TinyModels(video, FrameTokenizer.from_pretrained(root / "tokenizer" / "tokenizer"),
                      STPT.from_pretrained(root / "stpt" / "model").eval(), ar, classifier)
