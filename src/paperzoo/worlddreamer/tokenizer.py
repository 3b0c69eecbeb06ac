"""The visual tokenizer F_v (§3.2, Eq. 1): each frame to an h x w grid of codebook ids.

    T_V = F_v(I),  I in R^{N x H x W x 3} -> T_V in [0, K)^{N x h x w}

The paper uses a VQGAN with 8192 codes trained on LAION, per frame. `FrameTokenizer` wraps
either a diffusers `VQModel` (encoder, quant_conv, codebook, post_quant_conv, decoder), which
real checkpoints load into (aMUSEd's VQ-GAN: `from_pretrained(folder, subfolder="vqvae")`),
or our small `ConvVQVAE` (the tiny default; why: `TokenizerConfig`), behind the same `encode`
/ `decode`. The codebook is trained the way modern VQ tokenizers are, with
vector-quantize-pytorch: an exponential moving average of the assigned encoder outputs
instead of a codebook loss, k-means initialisation on the first batch, and dead codes (EMA
cluster size below a threshold) restarted from encoder outputs of the batch. After training
it is copied into the tokenizer's own codebook, which then assigns the same nearest codes
(tested).

Frames are (B, N, 3, H, W) float in [0, 1]; ids are (B, N, h, w) int64.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import VQModel
from einops import rearrange
from torch import Tensor, nn

from paperzoo.core.atomic import atomic_dir
from paperzoo.core.checkpoint import PretrainedMixin, config_from_dict, config_to_dict
from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.worlddreamer.config import TokenizerConfig

CONFIG_NAME = "paperzoo_tokenizer.json"


def build_vq_model(config: TokenizerConfig) -> VQModel:
    """A diffusers VQModel of this config (down factor 2^(levels-1)); ids decode through its codebook."""
    levels = len(config.block_out_channels)
    return VQModel(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels, block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block, latent_channels=config.latent_channels, sample_size=config.image_size,
        num_vq_embeddings=config.codebook_size, norm_num_groups=config.norm_num_groups, vq_embed_dim=config.code_dim,
        lookup_from_codebook=True,
    )


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ConvVQVAE(nn.Module):
    """A small VQ-VAE in the original style (van den Oord et al. 2017), no normalisation and no
    attention: a decoder of convs and residual blocks; an encoder that sees each token's own patch
    (`architecture="patch"`) or, with strided convs, its neighbourhood of about 3 tokens ("conv")."""

    def __init__(self, config: TokenizerConfig):
        super().__init__()
        ch = config.block_out_channels
        if config.architecture == "patch":
            # each latent sees its own down x down patch only: a blank patch always encodes alike,
            # whatever is beside it
            enc: list[nn.Module] = [nn.Conv2d(3, ch[-1], config.down, stride=config.down)]
        else:
            # a small receptive field (about 3 tokens wide): strided convs and 1x1 mixing only
            enc = [nn.Conv2d(3, ch[0], 3, padding=1)]
            for a, b in zip(ch, ch[1:]):
                enc += [nn.ReLU(), nn.Conv2d(a, b, 4, stride=2, padding=1)]
        enc += [nn.ReLU(), nn.Conv2d(ch[-1], ch[-1], 1), nn.ReLU(), nn.Conv2d(ch[-1], config.code_dim, 1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(config.code_dim, ch[-1], 3, padding=1), ResBlock(ch[-1])]
        for a, b in zip(ch[::-1], ch[::-1][1:]):
            dec += [nn.ReLU(), nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), ResBlock(b)]
        dec += [nn.ReLU(), nn.Conv2d(ch[0], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)
        self.codebook = nn.Embedding(config.codebook_size, config.code_dim)


class FrameTokenizer(PretrainedMixin, nn.Module):
    """Per-frame VQ tokenizer: `encode` frames -> ids, `decode` ids -> frames, `reconstruct` both.

    Wraps either our `ConvVQVAE` (config.architecture "conv") or a diffusers `VQModel`."""

    config_class = TokenizerConfig

    def __init__(self, config: TokenizerConfig | None = None, vq: VQModel | None = None):
        super().__init__()
        if vq is None and config is None:
            raise ValueError("FrameTokenizer needs a TokenizerConfig or a VQModel")
        self.config = config
        if vq is not None or config.architecture == "vqmodel":
            self.vq = vq if vq is not None else build_vq_model(config)
            c = self.vq.config
            self.codebook_size = int(c.num_vq_embeddings)
            self.down = 2 ** (len(c.block_out_channels) - 1)
        else:
            self.vq = ConvVQVAE(config)
            self.codebook_size, self.down = config.codebook_size, config.down

    @property
    def is_vqmodel(self) -> bool:
        return isinstance(self.vq, VQModel)

    @property
    def codebook(self) -> Tensor:
        """(K, D) code vectors."""
        return self.vq.quantize.embedding.weight if self.is_vqmodel else self.vq.codebook.weight

    def decode_latents(self, zq: Tensor) -> Tensor:
        """Quantised latents (B', D, h, w) -> images (B', 3, H, W) in about [-1, 1]."""
        if self.is_vqmodel:
            quant = zq
            return self.vq.decoder(self.vq.post_quant_conv(quant), quant if self.vq.config.norm_type == "spatial" else None)
        return self.vq.decoder(zq)

    def latents(self, frames: Tensor) -> Tensor:
        """(B*N, D, h, w) pre-quantisation encoder outputs of frames (B, N, 3, H, W) in [0, 1]."""
        if frames.ndim != 5 or frames.shape[2] != 3:
            raise InputError(f"frames: expected (B, N, 3, H, W), got {tuple(frames.shape)}")
        if frames.shape[-1] % self.down or frames.shape[-2] % self.down:
            raise InputError(f"frames: {frames.shape[-2]}x{frames.shape[-1]} is not divisible by the tokenizer's "
                             f"down factor {self.down}")
        x = rearrange(frames, "b n c h w -> (b n) c h w") * 2 - 1
        return self.vq.encode(x).latents if self.is_vqmodel else self.vq.encoder(x)

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        """Eq. 1: frames (B, N, 3, H, W) in [0, 1] -> ids (B, N, h, w), the nearest code of each latent."""
        b, n = frames.shape[:2]
        z = self.latents(frames)
        ids = nearest_code(rearrange(z, "bn d h w -> bn h w d"), self.codebook)
        return rearrange(ids, "(b n) h w -> b n h w", b=b, n=n)

    @torch.no_grad()
    def decode(self, ids: Tensor) -> Tensor:
        """ids (B, N, h, w) -> frames (B, N, 3, H, W) in [0, 1]."""
        if ids.ndim != 4:
            raise InputError(f"ids: expected (B, N, h, w), got {tuple(ids.shape)}")
        if ids.min() < 0 or ids.max() >= self.codebook_size:
            raise InputError(f"ids: must lie in [0, {self.codebook_size}); got [{int(ids.min())}, {int(ids.max())}]")
        b, n, h, w = ids.shape
        if self.is_vqmodel:
            flat = rearrange(ids, "b n h w -> (b n) (h w)")
            x = self.vq.decode(flat, force_not_quantize=True, shape=(b * n, h, w, self.codebook.shape[1])).sample
        else:
            x = self.decode_latents(rearrange(self.codebook[ids], "b n h w d -> (b n) d h w"))
        return rearrange((x.clamp(-1, 1) + 1) / 2, "(b n) c h w -> b n c h w", b=b, n=n)

    def reconstruct(self, frames: Tensor) -> Tensor:
        return self.decode(self.encode(frames))

    # ------------------------------------------------------------------ checkpoints

    def save_pretrained(self, path: str | Path) -> Path:
        """Ours: model.safetensors + config.json (PretrainedMixin). A VQModel: a diffusers folder
        (loadable by `VQModel.from_pretrained`) plus our config beside it."""
        if not self.is_vqmodel:
            return super().save_pretrained(path)
        path = Path(path)
        with atomic_dir(path) as tmp:
            self.vq.save_pretrained(tmp)
            if self.config is not None:
                (tmp / CONFIG_NAME).write_text(json.dumps(config_to_dict(self.config), indent=2) + "\n")
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, subfolder: str | None = None, map_location: str = "cpu") -> FrameTokenizer:
        """A folder saved here (either architecture), or any diffusers VQModel folder (e.g. a local aMUSEd
        checkout with subfolder="vqvae")."""
        folder = Path(path) / subfolder if subfolder else Path(path)
        if not (folder / "config.json").is_file():
            raise CheckpointError(f"tokenizer folder {folder} has no config.json (expected a tokenizer saved by "
                                  "paperzoo or a diffusers VQModel folder)")
        try:
            payload = json.loads((folder / "config.json").read_text())
        except json.JSONDecodeError as e:
            raise CheckpointError(f"tokenizer config {folder / 'config.json'} is corrupt ({e})") from None
        if payload.get("class") == cls.__name__:
            return super().from_pretrained(folder, map_location=map_location).eval()
        try:
            vq = VQModel.from_pretrained(folder)
        except Exception as e:  # diffusers raises many types for a damaged folder
            raise CheckpointError(f"tokenizer folder {folder} is not a loadable VQModel ({type(e).__name__}: {e})") from None
        config = None
        if (folder / CONFIG_NAME).is_file():
            try:
                config = config_from_dict(TokenizerConfig, json.loads((folder / CONFIG_NAME).read_text()))
            except (json.JSONDecodeError, TypeError, KeyError) as e:
                raise CheckpointError(f"tokenizer config {folder / CONFIG_NAME} is corrupt ({e})") from None
        return cls(config, vq=vq.eval()).to(map_location)


def nearest_code(z: Tensor, codebook: Tensor) -> Tensor:
    """argmin_k ||z - e_k||^2 over the last axis: z (..., D), codebook (K, D) -> (...) int64."""
    flat = z.reshape(-1, z.shape[-1])
    d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.t() + codebook.pow(2).sum(1)[None]
    return d.argmin(1).reshape(z.shape[:-1])


class EMAQuantizer(nn.Module):
    """The training-time codebook: vector-quantize-pytorch's VectorQuantize with EMA updates,
    k-means initialisation and dead-code restart, plain straight-through gradients."""

    def __init__(self, config: TokenizerConfig):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.vq = VectorQuantize(
            dim=config.code_dim, codebook_size=config.codebook_size, decay=config.ema_decay,
            commitment_weight=config.commitment_weight, kmeans_init=config.kmeans_init, kmeans_iters=10,
            threshold_ema_dead_code=config.dead_code_threshold, rotation_trick=False, straight_through=True,
        )

    @property
    def codebook(self) -> Tensor:
        return self.vq.codebook

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """z (B, D, h, w) -> quantised (B, D, h, w) (straight-through), ids (B, h, w), commitment loss."""
        h = z.shape[-2]
        q, ids, loss = self.vq(rearrange(z, "b d h w -> b (h w) d"))
        return rearrange(q, "b (h w) d -> b d h w", h=h), rearrange(ids, "b (h w) -> b h w", h=h), loss.sum()


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB of images in [0, 1], per image over every axis after the first two."""
    mse = (a - b).pow(2).flatten(2).mean(-1).clamp_min(1e-10)
    return 10 * torch.log10(1 / mse)
