"""Training (§3.3, §4.2): the VQ tokenizer, then the STPT on pre-tokenised clips, on core's Trainer.

The STPT objective (Eqs. 2 and 5) is the cross-entropy of the masked tokens given the
visible ones and the prompts,

    L = - sum_{masked i} log p(T_V[i] | T_V with the mask applied, E_M),

with a fresh mask per sample (`masking.sample_mask`) and the whole prompt dropped for 10% of
the samples (classifier-free guidance). So that one model serves every task, the text and
the actions are also dropped on their own (`text_drop`, `action_drop`; ours: the paper trains
text-to-video on WebVid and action-to-video on nuScenes, with the other prompt empty).
A fraction of the samples (`image_fraction`) are image "clips" of N frames from different
videos, decoded with frames kept apart (diagonal attention), the analogue of the paper's
joint LAION training; they carry no text (ours: one caption per image would need per-frame text).

Tokens are computed once per training clip (`pretokenize`), as the paper's scale needs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import ConfigError, InputError
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.trainer import Trainer, WholeState, make_accelerator
from paperzoo.world.videos import ClipBatch, VideoConfig, make_clips
from paperzoo.worlddreamer.config import STPTConfig, TokenizerConfig
from paperzoo.worlddreamer.masking import sample_mask
from paperzoo.worlddreamer.prompts import Prompts
from paperzoo.worlddreamer.stpt import STPT
from paperzoo.worlddreamer.tokenizer import EMAQuantizer, FrameTokenizer


@dataclass(frozen=True)
class TrainConfig:
    # tokenizer
    tokenizer_steps: int = 1000  # measured (patch encoder, 64 codes): PSNR 25.4 dB, reconstruction ADE 0.48 px
    tokenizer_clips: int = 8  # clips per step (x N frames)
    tokenizer_lr: float = 1e-3
    # STPT. The card's plan (AdamW 1e-3, batch 32, 2000 steps) is about 45 minutes per model on 2 cores;
    # measured instead (2026-12-07): batch 16, lr 2e-3, 1500 steps, about 20 minutes on one core.
    steps: int = 1500
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 100
    final_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    train_clips: int = 4096  # pre-tokenised training clips, cycled
    image_fraction: float = 0.25
    text_drop: float = 0.25
    action_drop: float = 0.5

    def __post_init__(self):
        if min(self.tokenizer_steps, self.tokenizer_clips, self.steps, self.batch_size, self.train_clips) <= 0:
            raise ConfigError(f"worlddreamer TrainConfig: steps, batch sizes and train_clips must be > 0, got {self}")
        for name in ("image_fraction", "text_drop", "action_drop"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"worlddreamer TrainConfig.{name}: {getattr(self, name)} not in [0, 1)")


# ------------------------------------------------------------------------------ tokenizer


class TokenizerTraining(nn.Module):
    """The VQModel's encoder/decoder with the EMA codebook in place of its quantizer; loss = L1 + L2 + commitment."""

    def __init__(self, tokenizer: FrameTokenizer, config: TokenizerConfig):
        super().__init__()
        self.tokenizer, self.quantizer = tokenizer, EMAQuantizer(config)

    def forward(self, frames: Tensor) -> dict[str, Tensor]:
        x = frames.flatten(0, 1) * 2 - 1
        zq, _, commit = self.quantizer(self.tokenizer.latents(frames))
        rec = self.tokenizer.decode_latents(zq)
        recon = (rec - x).abs().mean() + (rec - x).pow(2).mean()
        return {"loss": recon + commit, "recon": recon, "commit": commit}

    def sync_codebook(self) -> None:
        """Copy the EMA codebook into the VQModel's quantizer, which `encode` / `decode` use."""
        with torch.no_grad():
            self.tokenizer.codebook.copy_(self.quantizer.codebook)


def train_tokenizer(config: TokenizerConfig, video: VideoConfig, recipe: TrainConfig, out_dir: str | Path, seed: int = 0,
                    device: str = "cpu", resume: bool = True, progress: bool = True) -> FrameTokenizer:
    """Train the per-frame VQ tokenizer on world clips; write `out_dir/tokenizer` (a diffusers VQModel folder)."""
    if video.image_size != config.image_size:
        raise ConfigError(f"tokenizer image_size {config.image_size} differs from the clips' {video.image_size}")
    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    module = TokenizerTraining(FrameTokenizer(config), config)
    optimizer = torch.optim.Adam(module.tokenizer.parameters(), lr=recipe.tokenizer_lr)
    scheduler = warmup_cosine(optimizer, min(50, recipe.tokenizer_steps // 10), recipe.tokenizer_steps, 0.1)
    trainer = Trainer(WholeState(module), optimizer, scheduler, out_dir, accelerator=make_accelerator(device),
                      checkpoint_every=max(100, recipe.tokenizer_steps // 4), desc="tokenizer", progress=progress)

    def batch_fn(step: int) -> Tensor:
        return make_clips(video, seed, recipe.tokenizer_clips, start=step * recipe.tokenizer_clips).frames_float()

    trainer.fit(batch_fn, lambda m, frames: m(frames), recipe.tokenizer_steps, resume=resume)
    module = trainer.unwrapped.inner
    module.sync_codebook()
    tokenizer = module.tokenizer.eval()
    tokenizer.save_pretrained(out_dir / "tokenizer")
    with atomic_path(out_dir / "tokenizer_history.json") as tmp:
        tmp.write_text(json.dumps(trainer.history, indent=1) + "\n")
    return tokenizer


# ------------------------------------------------------------------------------ tokens


@dataclass
class ClipTokens:
    """Pre-tokenised clips: visual tokens plus what the prompts and evaluations need."""

    ids: np.ndarray  # (B, N, h, w) int16/int64
    token_ids: np.ndarray  # (B, L) caption ids
    token_mask: np.ndarray  # (B, L)
    actions: np.ndarray  # (B, N, action_dim)
    has_actions: np.ndarray | None = None  # (B,) bool; None: every clip has actions

    def __post_init__(self):
        if self.has_actions is None:
            self.has_actions = np.ones(len(self.ids), bool)

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **asdict(self))

    @classmethod
    def load(cls, path: Path) -> ClipTokens:
        with np.load(path) as data:
            return cls(**{k: data[k] for k in ("ids", "token_ids", "token_mask", "actions", "has_actions")})


@torch.no_grad()
def pretokenize(tokenizer: FrameTokenizer, clips: ClipBatch, chunk: int = 64, progress: bool = False) -> ClipTokens:
    ids = [tokenizer.encode(clips[i : i + chunk].frames_float())
           for i in tqdm(range(0, len(clips), chunk), desc="tokenize", leave=False, disable=not progress)]
    return ClipTokens(torch.cat(ids).numpy().astype(np.int64), clips.token_ids, clips.token_mask, clips.actions)


def training_tokens(tokenizer: FrameTokenizer, video: VideoConfig, n: int, seed: int, path: Path, progress: bool) -> ClipTokens:
    """The first `n` training clips, tokenised, cached at `path`."""
    if path.exists():
        try:
            tokens = ClipTokens.load(path)
            if len(tokens) == n:
                return tokens
        except (OSError, ValueError, KeyError):
            pass
    parts = [pretokenize(tokenizer, make_clips(video, seed, min(512, n - s), start=s)) for s in
             tqdm(range(0, n, 512), desc="tokenize clips", leave=False, disable=not progress)]
    tokens = ClipTokens(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("ids", "token_ids", "token_mask", "actions", "has_actions")))
    tokens.save(path)
    return tokens


# ------------------------------------------------------------------------------ STPT


@torch.no_grad()
def folder_tokens(tokenizer: FrameTokenizer, records, prompt_encoder, action_dim: int, chunk: int = 16) -> ClipTokens:
    """ClipTokens of real clips (`data.load_folder`): visual tokens, captions tokenized for the model's text
    encoder, actions where the index gives them (zeros and has_actions False elsewhere)."""
    ids = [tokenizer.encode(torch.from_numpy(np.stack([r.frames for r in records[i : i + chunk]])).permute(0, 1, 4, 2, 3)
                            .float().div(255)) for i in range(0, len(records), chunk)]
    text_ids, text_mask = prompt_encoder.tokenize([r.caption for r in records])
    n = records[0].frames.shape[0]
    actions = np.zeros((len(records), n, action_dim), np.float32)
    has = np.zeros(len(records), bool)
    for i, r in enumerate(records):
        if r.actions is not None:
            if r.actions.shape[1] != action_dim:
                raise InputError(f"clip {i}: actions have {r.actions.shape[1]} values per frame; the model takes {action_dim}")
            actions[i], has[i] = r.actions, True
    return ClipTokens(torch.cat(ids).numpy().astype(np.int64), text_ids.numpy(), text_mask.numpy(), actions, has)


def masked_token_loss(model: STPT, ids: Tensor, mask: Tensor, prompts: Prompts | None, is_image: Tensor | None = None) -> Tensor:
    """Eqs. 2 / 5: cross-entropy of the true tokens at the masked positions (mean over them)."""
    inputs = torch.where(mask, torch.full_like(ids, model.config.mask_id), ids)
    logits = model(inputs, prompts, is_image)
    return F.cross_entropy(logits[mask].float(), ids[mask])


def training_batch(tokens: ClipTokens, config: STPTConfig, recipe: TrainConfig, step: int, seed: int):
    """Batch `step`: ids, mask, prompts (with drops) and image flags, all a function of (seed, step)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    b, n = recipe.batch_size, config.frames
    rows = torch.randint(len(tokens), (b,), generator=g).numpy()
    ids = torch.from_numpy(tokens.ids[rows].astype(np.int64))
    is_image = torch.rand(b, generator=g) < recipe.image_fraction
    if is_image.any():  # N frames of N different clips
        k = int(is_image.sum())
        others = torch.randint(len(tokens), (k, n), generator=g).numpy()
        frames = torch.randint(n, (k, n), generator=g).numpy()
        ids[is_image] = torch.from_numpy(tokens.ids[others, frames].astype(np.int64))
    mask = sample_mask(b, n, config.grid, config.grid, config.mask_mode, config.prefix_prob, generator=g)
    keep_all = torch.rand(b, generator=g) >= config.prompt_dropout
    keep_text = keep_all & (torch.rand(b, generator=g) >= recipe.text_drop) & ~is_image
    keep_action = keep_all & (torch.rand(b, generator=g) >= recipe.action_drop) & ~is_image
    keep_action &= torch.from_numpy(tokens.has_actions[rows])
    prompts = Prompts(torch.from_numpy(tokens.token_ids[rows]), torch.from_numpy(tokens.token_mask[rows]) & keep_text[:, None],
                      torch.from_numpy(tokens.actions[rows]), keep_action)
    return ids, mask, prompts, is_image


def train_stpt(config: STPTConfig, tokens: ClipTokens, recipe: TrainConfig, out_dir: str | Path, seed: int = 0,
               device: str = "cpu", resume: bool = True, progress: bool = True) -> STPT:
    """Train the STPT on pre-tokenised clips; write `out_dir/model`."""
    if tuple(tokens.ids.shape[1:]) != (config.frames, config.grid, config.grid):
        raise InputError(f"tokens: clips of {tuple(tokens.ids.shape[1:])} tokens; the STPT expects "
                         f"{(config.frames, config.grid, config.grid)}")
    torch.manual_seed(seed)
    model = STPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.99))
    scheduler = warmup_cosine(optimizer, min(recipe.warmup, recipe.steps // 5), recipe.steps, recipe.final_lr_ratio)
    trainer = Trainer(model, optimizer, scheduler, out_dir, accelerator=make_accelerator(device),
                      checkpoint_every=max(100, recipe.steps // 5), grad_clip=recipe.grad_clip, desc="STPT", progress=progress)

    def loss_fn(m: STPT, batch) -> dict[str, Tensor]:
        ids, mask, prompts, is_image = batch
        return {"loss": masked_token_loss(m, ids, mask, prompts.to(ids.device), is_image)}

    trainer.fit(lambda step: training_batch(tokens, config, recipe, step, seed), loss_fn, recipe.steps, resume=resume)
    trainer.save_final()
    return trainer.unwrapped.eval()


def train_causal(config: STPTConfig, tokens: ClipTokens, recipe: TrainConfig, out_dir: str | Path, seed: int = 0,
                 device: str = "cpu", resume: bool = True, progress: bool = True):
    """Train the same-size causal baseline (`autoregressive.py`) on the same tokens and prompt drops, next-token
    cross-entropy over every token of a clip (no image clips); write `out_dir/model`."""
    from dataclasses import replace

    from paperzoo.worlddreamer.autoregressive import CausalVideoTransformer

    torch.manual_seed(seed)
    model = CausalVideoTransformer(config)
    video_only = replace(recipe, image_fraction=0.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.99))
    scheduler = warmup_cosine(optimizer, min(recipe.warmup, recipe.steps // 5), recipe.steps, recipe.final_lr_ratio)
    trainer = Trainer(model, optimizer, scheduler, out_dir, accelerator=make_accelerator(device),
                      checkpoint_every=max(100, recipe.steps // 5), grad_clip=recipe.grad_clip, desc="causal baseline",
                      progress=progress)

    def loss_fn(m, batch) -> dict[str, Tensor]:
        ids, _, prompts, _ = batch
        return {"loss": m.loss(ids, prompts.to(ids.device))}

    trainer.fit(lambda step: training_batch(tokens, config, video_only, step, seed), loss_fn, recipe.steps, resume=resume)
    trainer.save_final()
    return trainer.unwrapped.eval()
