"""Reward models on the world: the ImageReward and aesthetic-score analogues.

The paper scores images with ImageReward (Xu et al. 2023; a BLIP model trained on human
preferences over prompt-image pairs) and a LAION aesthetic predictor, and its database ranks
models by ImageReward alone. Neither can be downloaded here, so both are trained on the world:

- `ConsistencyScorer` (ImageReward's role): a small CNN that reads an image's shape, colour,
  size and style, trained on real renders only (with random blur and noise, so a blurred
  generated image is read by its content). R(caption, image) is the mean probability it
  gives the caption's four attributes: 1 for an image that shows exactly the caption, about
  (1/5 + 1/6 + 1/2 + 1/4) / 4 = 0.28 for one it cannot read at all.
- `RealnessCritic` (the aesthetic score's role): a CNN trained to tell real renders from the
  base model's samples; A(image) = P(real) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.world.scenes import COLOURS, SHAPES, SIZES
from paperzoo.world.styles import STYLES, StyledConfig, make_styled

HEADS: dict[str, tuple[str, ...]] = {"shape": SHAPES, "colour": tuple(COLOURS), "size": tuple(SIZES), "style": STYLES}
CHANCE_R = sum(1 / len(v) for v in HEADS.values()) / len(HEADS)


def caption_attributes(caption: str) -> dict[str, str]:
    """The world attributes a caption names ("a large red circle in photo style")."""
    words = set(caption.lower().split())
    out = {}
    for head, values in HEADS.items():
        hit = [v for v in values if v in words]
        if hit:
            out[head] = hit[0]
    return out


@dataclass(frozen=True)
class CNNConfig:
    width: int = 32
    outputs: tuple[int, ...] = tuple(len(v) for v in HEADS.values())


class _Trunk(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConsistencyScorer(PretrainedMixin, nn.Module):
    """images (N, 3, H, W) in [-1, 1] -> logits per attribute head."""

    config_class = CNNConfig

    def __init__(self, config: CNNConfig = CNNConfig()):
        super().__init__()
        self.config = config
        self.trunk = _Trunk(config.width)
        self.heads = nn.ModuleList(nn.Linear(4 * config.width, n) for n in config.outputs)

    def forward(self, x: Tensor) -> list[Tensor]:
        h = self.trunk(x)
        return [head(h) for head in self.heads]

    @torch.no_grad()
    def reward(self, captions: list[str], images: Tensor) -> Tensor:
        """R (N,): the mean probability of each caption's attributes."""
        self.eval()
        probs = [p.softmax(-1) for p in self(images)]
        out = torch.zeros(len(captions))
        for n, caption in enumerate(captions):
            attrs = caption_attributes(caption)
            vals = [probs[h][n, HEADS[name].index(attrs[name])] for h, name in enumerate(HEADS) if name in attrs]
            out[n] = torch.stack(vals).mean() if vals else 0.0
        return out

    @torch.no_grad()
    def accuracy(self, images: Tensor, labels: dict[str, list[str]]) -> dict[str, float]:
        """Per-head accuracy on labelled images."""
        self.eval()
        logits = self(images)
        return {name: float((logits[h].argmax(-1) == torch.tensor([HEADS[name].index(v) for v in labels[name]])).float().mean())
                for h, name in enumerate(HEADS)}


class RealnessCritic(PretrainedMixin, nn.Module):
    """images -> one logit, real vs generated."""

    config_class = CNNConfig

    def __init__(self, config: CNNConfig = CNNConfig(outputs=(1,))):
        super().__init__()
        self.config = config
        self.trunk = _Trunk(config.width)
        self.head = nn.Linear(4 * config.width, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x)).squeeze(-1)

    @torch.no_grad()
    def score(self, images: Tensor) -> Tensor:
        """A (N,): P(real)."""
        self.eval()
        return torch.sigmoid(self(images))


def _augment(x: Tensor, g: torch.Generator) -> Tensor:
    """Random box blur (none, 3x3 or 5x5 per image) and Gaussian noise."""
    out = x.clone()
    k = torch.randint(0, 3, (x.shape[0],), generator=g)
    for size in (3, 5):
        sel = k == (size // 2)
        if sel.any():
            out[sel] = F.avg_pool2d(F.pad(x[sel], [size // 2] * 4, mode="replicate"), size, stride=1)
    return (out + 0.05 * torch.rand(x.shape[0], 1, 1, 1, generator=g) * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def _labels(batch) -> list[Tensor]:
    cols = {"shape": batch.shapes, "colour": batch.colours, "size": batch.sizes, "style": batch.styles}
    return [torch.tensor([HEADS[name].index(v) for v in cols[name]]) for name in HEADS]


def train_scorer(world: StyledConfig, seed: int, steps: int = 600, batch_size: int = 64, lr: float = 2e-3) -> ConsistencyScorer:
    """R, trained on real renders of the "train" split (a stream apart from the zoo's)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = ConsistencyScorer()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for step in range(steps):
        batch = make_styled(world, seed + 7919, batch_size, start=step * batch_size, split="train")
        logits = model(_augment(batch.images_float(), g))
        loss = sum(F.cross_entropy(lo, la) for lo, la in zip(logits, _labels(batch)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def train_critic(world: StyledConfig, seed: int, generated: Tensor, steps: int = 300, batch_size: int = 64,
                 lr: float = 2e-3) -> RealnessCritic:
    """A, trained on real renders (label 1) against `generated` images (label 0)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = RealnessCritic()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    half = batch_size // 2
    for step in range(steps):
        real = make_styled(world, seed + 104729, half, start=step * half, split="train").images_float()
        fake = generated[torch.randint(0, len(generated), (half,), generator=g)]
        x = torch.cat([real, fake])
        y = torch.cat([torch.ones(half), torch.zeros(half)])
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
