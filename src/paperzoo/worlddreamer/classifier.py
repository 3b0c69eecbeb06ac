"""A tiny video classifier of the world's clips: caption accuracy and FVD-lite (ours; the paper reports neither).

It reads a clip (B, N, 3, H, W) and names, for each caption slot (object 0, 1, 2 in caption
order), the object's colour (or "absent"), shape and motion. Trained on real world clips, it
then scores generated ones:

- caption accuracy: the fraction of the prompt's (colour, shape, motion) words it reads back
  from a generated text-to-video clip, against the chance rate of each word kind;
- FVD-lite: the Frechet distance between its penultimate features of real and generated
  clips (`cmmd.frechet_distance`), FVD's recipe with this classifier in place of I3D. Its
  numbers are not comparable to any FVD.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.trainer import Trainer, make_accelerator
from paperzoo.world.videos import ClipBatch, VideoConfig, make_clips


@dataclass(frozen=True)
class ClassifierConfig:
    frames: int = 8
    slots: int = 3
    colours: int = 6
    shapes: int = 5
    motions: int = 3
    width: int = 32


class VideoClassifier(PretrainedMixin, nn.Module):
    config_class = ClassifierConfig

    def __init__(self, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = c = config or ClassifierConfig()
        w = c.width
        self.net = nn.Sequential(
            nn.Conv3d(3, w, (3, 3, 3), padding=1), nn.GELU(),
            nn.Conv3d(w, 2 * w, (3, 3, 3), stride=(1, 2, 2), padding=1), nn.GELU(),
            nn.Conv3d(2 * w, 2 * w, (3, 3, 3), stride=(1, 2, 2), padding=1), nn.GELU(),
            nn.Conv3d(2 * w, 4 * w, (3, 3, 3), stride=(2, 2, 2), padding=1), nn.GELU(),
            nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4 * w, 4 * w), nn.GELU(),
        )
        self.heads = nn.ModuleDict({
            "colour": nn.Linear(4 * w, c.slots * (c.colours + 1)),  # + "absent"
            "shape": nn.Linear(4 * w, c.slots * c.shapes),
            "motion": nn.Linear(4 * w, c.slots * c.motions),
        })

    def features(self, frames: Tensor) -> Tensor:
        """frames (B, N, 3, H, W) in [0, 1] -> (B, 4 width) penultimate features."""
        return self.net(frames.permute(0, 2, 1, 3, 4) * 2 - 1)

    def forward(self, frames: Tensor) -> dict[str, Tensor]:
        f = self.features(frames)
        s = self.config.slots
        return {k: head(f).reshape(len(f), s, -1) for k, head in self.heads.items()}


def targets(clips: ClipBatch, colours: int) -> dict[str, Tensor]:
    """Per slot: colour index (or `colours` = absent), shape and motion (-100 = ignore for absent slots)."""
    a = torch.from_numpy(clips.attributes.astype(np.int64))  # (B, O, 4): shape, colour, size, motion
    present = a[..., 0] >= 0
    absent_colour = colours
    return {"colour": torch.where(present, a[..., 1], torch.full_like(a[..., 1], absent_colour)),
            "shape": torch.where(present, a[..., 0], torch.full_like(a[..., 0], -100)),
            "motion": torch.where(present, a[..., 3], torch.full_like(a[..., 3], -100))}


def classifier_loss(model: VideoClassifier, frames: Tensor, target: dict[str, Tensor]) -> Tensor:
    out = model(frames)
    return sum(F.cross_entropy(out[k].flatten(0, 1), target[k].flatten(), ignore_index=-100) for k in out)


def train_classifier(video: VideoConfig, out_dir: str | Path, steps: int = 400, batch: int = 32, seed: int = 0,
                     device: str = "cpu", progress: bool = True) -> VideoClassifier:
    """Train on world clips (a split and seed stream apart from the generators' evaluation clips)."""
    torch.manual_seed(seed)
    model = VideoClassifier(ClassifierConfig(frames=video.frames, slots=video.max_objects, colours=len(video.colours),
                                             shapes=len(video.shapes), motions=len(video.motions)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    trainer = Trainer(model, optimizer, warmup_cosine(optimizer, 20, steps, 0.05), out_dir,
                      accelerator=make_accelerator(device), checkpoint_every=max(100, steps // 2), desc="video classifier",
                      progress=progress)

    def batch_fn(step: int):
        clips = make_clips(video, 7_000 + seed, batch, start=step * batch)
        return clips.frames_float(), targets(clips, len(video.colours))

    trainer.fit(batch_fn, lambda m, b: {"loss": classifier_loss(m, *b)}, steps, resume=True)
    trainer.save_final()
    return trainer.unwrapped.eval()


@torch.no_grad()
def caption_accuracy(model: VideoClassifier, frames: Tensor, clips: ClipBatch) -> dict[str, float]:
    """The fraction of each word kind of the prompts read back from `frames` (B, N, 3, H, W) made for `clips`."""
    out, target = model(frames), targets(clips, model.config.colours)
    result = {}
    for k in ("colour", "shape", "motion"):
        keep = target[k] != -100
        if k == "colour":
            keep = target[k] != model.config.colours  # score present objects only
        result[k] = float((out[k].argmax(-1) == target[k])[keep].float().mean())
    return result


def chance_rates(video: VideoConfig) -> dict[str, float]:
    return {"colour": 1 / len(video.colours), "shape": 1 / len(video.shapes), "motion": 1 / len(video.motions)}


@torch.no_grad()
def fvd_lite(model: VideoClassifier, real: Tensor, fake: Tensor) -> float:
    """Frechet distance between classifier features of real and generated clips (B, N, 3, H, W)."""
    from paperzoo.cmmd.fid import frechet_distance

    a, b = model.features(real).double().numpy(), model.features(fake).double().numpy()
    return float(frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))
