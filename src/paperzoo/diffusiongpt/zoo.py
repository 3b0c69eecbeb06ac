"""The model zoo: a base text-to-image model, LoRA experts and a merge, each with a model card.

The paper's SD1.5 zoo holds community checkpoints and LoRAs with tags (Table I). Ours lives
on the styled-scene world (`paperzoo.world.styles`: 3 subjects x 4 styles = 12 domains):

    tinySD_v1       checkpoint        the base, trained on all 12 domains, the six expert
                                      domains at a quarter of the others' rate (the SD1.5 analogue)
    six experts     lora              rank-4 LoRAs on the base, each fine-tuned on one domain
    shapeMix_v1     checkpoint merge  the base plus half of each of two experts' LoRA updates

Cards follow the official schema (`cards.py`), with deliberately noisy, overlapping tags,
trigger words and example prompts, as community cards have. Six domains have an expert; the
other six (every "flat" one, and round-pixel, angular-photo, crossed-outline) are left to the
base and the merge. Everything is trained once per (budget, seed) and cached; each unit
resumes if interrupted.
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from paperzoo.core.atomic import atomic_dir
from paperzoo.core.errors import InputError
from paperzoo.core.registry import ConfigRegistry
from paperzoo.diffusion import TextToImage, generate
from paperzoo.diffusion import config as diffusion_config
from paperzoo.diffusion.lora import LoraSpec, add_lora, fold_lora, load_lora_state, lora_state
from paperzoo.diffusion.train import Recipe, train
from paperzoo.diffusiongpt.cards import CardZoo, ModelCard, save_cards
from paperzoo.diffusiongpt.llm import snap
from paperzoo.world.styles import StyledConfig, domains, make_styled, styled_scene


@dataclass(frozen=True)
class Expert:
    key: str
    subject: str
    style: str
    tags: tuple[str, ...]
    trigger: str


BASE, MERGE = "tinySD_v1", "shapeMix_v1"
EXPERTS: tuple[Expert, ...] = (
    Expert("roundLines_v1", "round", "outline", ("circle", "round", "line art", "outline", "universal"), "roundlines"),
    Expert("circlePhoto_v2", "round", "photo", ("photo", "realistic", "circle", "film"), "circlephoto"),
    Expert("polyPixel_v1", "angular", "pixel", ("pixel art", "retro", "square", "triangle", "8-bit"), "polypixel"),
    Expert("angularInk_v3", "angular", "outline", ("outline", "contour", "diamond", "square", "ink"), "angularink"),
    Expert("crossFilm_v1", "crossed", "photo", ("cross", "film", "photo", "cinematic"), "crossfilm"),
    Expert("plus8bit_v2", "crossed", "pixel", ("plus", "cross", "pixel", "mosaic", "universal"), "plus8bit"),
)
MERGED = ("roundLines_v1", "polyPixel_v1")  # shapeMix_v1 = base + (dW_a + dW_b) / 2
UNIVERSAL = (BASE, MERGE)  # the defaults of every subject's "universal" leaf (official: a merge and a LoRA)


@dataclass(frozen=True)
class ZooBudget:
    model: str = "tiny"  # the diffusion config of every model
    base_steps: int = 800
    expert_steps: int = 200
    batch_size: int = 32
    lr: float = 2e-3
    expert_lr: float = 2e-3
    lora_rank: int = 4
    sample_steps: int = 10  # DDIM steps for every image the zoo draws
    guidance: float = 3.0
    # How often the base sees an expert's domain, relative to the others: SD1.5 "underperforms
    # in specific domains" (the paper's premise) because it saw little of them.
    expert_domain_weight: float = 0.25


BUDGETS: ConfigRegistry[ZooBudget] = ConfigRegistry("diffusiongpt zoo")
BUDGETS.register("full", ZooBudget())
BUDGETS.register("ci", ZooBudget(base_steps=300, expert_steps=60))
BUDGETS.register("smoke", ZooBudget(model="micro", base_steps=4, expert_steps=2, batch_size=8, sample_steps=2))


def expert_of(subject: str, style: str) -> str | None:
    """The expert trained on this domain, if any."""
    return next((e.key for e in EXPERTS if (e.subject, e.style) == (subject, style)), None)


def cards() -> list[ModelCard]:
    """The zoo's model cards (official schema; `path` relative to the zoo folder)."""
    base = ModelCard(f"{BASE}.safetensors", "checkpoint", ["base model", "universal", "flat", "simple"],
                     base_model="tinySD", example_prompts=["None"], path=BASE)
    out = [base]
    for e in EXPERTS:
        example = f"a large green {'circle' if e.subject == 'round' else 'square' if e.subject == 'angular' else 'cross'} in {e.style} style"
        out.append(ModelCard(f"{e.key}.safetensors", "lora", list(e.tags), trigger_words=[e.trigger], base_model="tinySD",
                             resources_used=["tiny sd base", e.key], example_prompts=[example], path=e.key))
    a, b = MERGED
    tags = ["universal", "outline", "pixel", "circle", "square"]
    out.append(ModelCard(f"{MERGE}.safetensors", "checkpoint merge", tags, base_model="tinySD",
                         resources_used=[BASE, a, b], example_prompts=["None"], path=MERGE))
    return out


# ------------------------------------------------------------------------------ training


def _batches(world: StyledConfig, seed: int, batch_size: int, domain: tuple[str, str] | None):
    subject, style = domain or (None, None)

    def batch_fn(step: int):
        b = make_styled(world, seed, batch_size, start=step * batch_size, split="train", subject=subject, style=style)
        return b.images_float(), b.captions

    return batch_fn


def _base_batches(world: StyledConfig, seed: int, batch_size: int, expert_weight: float):
    """The base's stream: each scene's domain drawn with weight `expert_weight` for the six
    expert domains and 1 for the rest (from (seed, step), so a resumed run sees the same)."""
    options = domains(world.subjects, world.styles)
    weights = np.array([expert_weight if expert_of(*d) else 1.0 for d in options])
    weights = weights / weights.sum()

    def batch_fn(step: int):
        rng = np.random.default_rng([seed, step, 31])
        picks = rng.choice(len(options), size=batch_size, p=weights)
        scenes = [styled_scene(world, seed, step * batch_size + k, "train", *options[i]) for k, i in enumerate(picks)]
        images = torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        return images, [s.caption for s in scenes]

    return batch_fn


def _save_lora(model: TextToImage, spec: LoraSpec, base: str, folder: Path) -> None:
    with atomic_dir(folder) as tmp:
        save_file({k: v.contiguous() for k, v in lora_state(model).items()}, str(tmp / "lora.safetensors"))
        (tmp / "lora.json").write_text(json.dumps({"base": base, **spec.to_dict()}, indent=1) + "\n")


def train_zoo(root: str | Path, budget: ZooBudget | str = "full", seed: int = 0, world: StyledConfig = StyledConfig(),
              device: str = "cpu", progress: bool = True) -> "Zoo":
    """Train (or finish training) the zoo in `root`: the base, the experts, the merge, then
    `cards.json`. A unit whose output exists is skipped; an interrupted one resumes."""
    budget = BUDGETS.get(budget)
    root = Path(root)
    spec = LoraSpec(rank=budget.lora_rank, alpha=float(budget.lora_rank))
    cfg = diffusion_config(budget.model)
    if not (root / BASE / "config.json").is_file():
        if progress:
            print(f"training the zoo's base model {BASE} ({budget.base_steps} steps; cached in {root})", file=sys.stderr, flush=True)
        torch.manual_seed(seed)
        base = train(TextToImage(cfg), _base_batches(world, seed, budget.batch_size, budget.expert_domain_weight),
                     Recipe(budget.base_steps, budget.batch_size, budget.lr), root / "runs" / BASE, seed=seed,
                     device=device, desc=BASE, progress=progress)
        base.save_pretrained(root / BASE)
    for k, e in enumerate(EXPERTS):
        if (root / e.key / "lora.json").is_file():
            continue
        if progress:
            print(f"training expert {e.key} on {e.subject}/{e.style} ({budget.expert_steps} LoRA steps)", file=sys.stderr, flush=True)
        model = TextToImage.from_pretrained(root / BASE)
        model = train(model, _batches(world, seed + 100 * (k + 1), budget.batch_size, (e.subject, e.style)),
                      Recipe(budget.expert_steps, budget.batch_size, budget.expert_lr, warmup=10), root / "runs" / e.key,
                      lora=spec, seed=seed + k + 1, device=device, desc=e.key, progress=progress)
        _save_lora(model, spec, BASE, root / e.key)
    if not (root / MERGE / "config.json").is_file():
        merge_models(root, MERGED).save_pretrained(root / MERGE)
    zoo_cards = cards()
    if not (root / "cards.json").is_file():
        save_cards(zoo_cards, root / "cards.json")
    return Zoo(root, sample_steps=budget.sample_steps, guidance=budget.guidance)


@torch.no_grad()
def merge_models(root: Path, keys: Sequence[str]) -> TextToImage:
    """A "checkpoint merge": the mean of the folded experts' weights (= base + mean of dW)."""
    states = []
    for key in keys:
        states.append(load_expert(root, key).state_dict())
    merged = TextToImage.from_pretrained(root / BASE)
    merged.load_state_dict({k: sum(s[k] for s in states) / len(states) for k in states[0]})
    return merged


def load_expert(root: Path, key: str, base_names: Sequence[str] = ()) -> TextToImage:
    """A LoRA folder folded onto its base: the base named in lora.json (snapped to `base_names`
    when given, as the official code resolves `resources_used[0]`)."""
    folder = Path(root) / key
    try:
        meta = json.loads((folder / "lora.json").read_text())
        state = load_file(str(folder / "lora.safetensors"))
    except (OSError, ValueError) as err:
        raise InputError(f"LoRA {folder}: unreadable ({err})") from None
    base = snap(meta["base"], base_names) if base_names else meta["base"]
    if base is None:
        raise InputError(f"LoRA {key}: its base {meta['base']!r} is not in the zoo")
    model = TextToImage.from_pretrained(Path(root) / base)
    add_lora(model, LoraSpec(rank=meta["rank"], alpha=meta["alpha"], targets=tuple(meta["targets"])))
    load_lora_state(model, state)
    return fold_lora(model).eval()


# ------------------------------------------------------------------------------ using it


class Zoo(CardZoo):
    """The world zoo's cards and their generators; models are loaded on first use (a few kept in memory)."""

    def __init__(self, root: str | Path, sample_steps: int = 10, guidance: float = 3.0, keep: int = 3,
                 card_file: str | Path | None = None):
        self.root = Path(root)
        super().__init__(card_file or self.root / "cards.json")
        self.sample_steps, self.guidance, self.keep = sample_steps, guidance, keep
        self._loaded: OrderedDict[str, TextToImage] = OrderedDict()

    def model(self, key: str) -> TextToImage:
        card = self.card(key)
        if key not in self._loaded:
            path = self.root / (card.path or card.key)
            if card.model_type == "lora":
                self._loaded[key] = load_expert(self.root, card.path or card.key, self.checkpoint_keys())
            else:
                self._loaded[key] = TextToImage.from_pretrained(path).eval()
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(key)
        return self._loaded[key]

    def generate(self, key: str, prompts: Sequence[str], noise: Tensor | None = None,
                 negative_prompts: Sequence[str] | None = None, batch_size: int = 128,
                 generator: torch.Generator | None = None) -> Tensor:
        """Images (N, 3, H, W) in [-1, 1] from model `key`; `noise` (N, 3, H, W) fixes x_T
        (else it is drawn from `generator`)."""
        model = self.model(key)
        if noise is None:
            size = model.config.image_size
            noise = torch.randn(len(prompts), model.config.channels, size, size, generator=generator)
        outs = []
        for i in range(0, len(prompts), batch_size):
            neg = None if negative_prompts is None else list(negative_prompts[i: i + batch_size])
            outs.append(generate(model, list(prompts[i: i + batch_size]), steps=self.sample_steps, guidance=self.guidance,
                                 noise=noise[i: i + batch_size], negative_prompts=neg))
        return torch.cat(outs) if outs else noise[:0]
