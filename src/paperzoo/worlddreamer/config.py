"""WorldDreamer's sizes as plain dataclass values: the per-frame VQ tokenizer and the STPT.

Named configs:
- `tiny` (CPU; the card's small-scale plan, resized by measurement): 8 frames of 32x32, an f4
  VQ-VAE whose encoder sees one 4x4 patch per token, 64 codes of dim 16 (8x8 tokens per
  frame), an STPT of width 96, 4 layers, 4 heads, trained with "shared+prefix" masks (why:
  `masking.py` and the README).
- `stpt-1b` (ours; the paper gives no sizes, only "1B"): C_V = 2048, 16 layers, 16 heads,
  MLP 4x over aMUSEd's 8192-code f16 VQ-GAN at 256x256 and 16 frames (16x16 tokens per frame),
  T5 text. About 1.07B parameters in the blocks (16 C^2 L), counted in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from paperzoo.core.errors import ConfigError
from paperzoo.core.registry import ConfigRegistry
from paperzoo.world.videos import VIDEO_VOCAB

WINDOWS = ("quadrant", "local")  # see STPTConfig.window
MASK_MODES = ("shared", "independent", "shared+prefix")
IMAGE_CONVS = ("center_tap", "full")
TEXT_ENCODERS = ("tiny", "t5_local")


@dataclass(frozen=True)
class TokenizerConfig:
    """The per-frame VQ tokenizer (Eq. 1), its codebook trained by EMA.

    `architecture` (the encoders; the decoder is the same convolutional stack for both of ours):
    - "patch" (the tiny default, ours): each latent is a function of its own 4x4 patch, so every
      blank patch gets the same code. Measured on the video world (2026-12-07, 1000 steps): the
      background is one code holding 82% of the tokens; 64 codes reconstruct at 25.4 dB PSNR
      with a trajectory error of 0.48 px (512 codes: 26.7 dB, 0.37 px).
    - "conv": a small convolutional VQ-VAE without normalisation or attention, whose latents see
      about 3 tokens around; a blank patch beside an object gets its own codes (the background
      spread over 331 of 512 codes, the commonest holding 24% of tokens).
    - "vqmodel": diffusers' `VQModel` (GroupNorm, a mid-block self-attention), the architecture
      of aMUSEd's VQ-GAN that real checkpoints load into. Its global GroupNorm and attention make
      a blank patch's latent depend on the whole frame (383 background codes, the commonest
      holding 1.7%), leaving the STPT little it could predict."""

    architecture: str = "patch"
    image_size: int = 32
    block_out_channels: tuple[int, ...] = (32, 64, 64)  # down factor 2^(levels - 1): f4 here
    layers_per_block: int = 1
    norm_num_groups: int = 16
    codebook_size: int = 64  # K; the paper's VQ-GAN has 8192 (measured here: 64 codes reconstruct at 25.4 dB, 512 at 26.7)
    code_dim: int = 16  # the codebook vectors' width (vq_embed_dim); low-dimensional codes are used more evenly
    latent_channels: int = 32
    ema_decay: float = 0.95  # codebook EMA (vector-quantize-pytorch's `decay`)
    commitment_weight: float = 0.25
    kmeans_init: bool = True
    dead_code_threshold: float = 1.0  # EMA cluster size below which a code is restarted from the batch

    def __post_init__(self):
        object.__setattr__(self, "block_out_channels", tuple(self.block_out_channels))
        if self.architecture not in ("conv", "patch", "vqmodel"):
            raise ConfigError(f"TokenizerConfig.architecture: {self.architecture!r}; expected 'conv', 'patch' or 'vqmodel'")
        if self.image_size % self.down:
            raise ConfigError(f"TokenizerConfig.image_size: {self.image_size} is not divisible by the down factor {self.down}")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ConfigError(f"TokenizerConfig.block_out_channels {self.block_out_channels}: each must divide into "
                              f"norm_num_groups={self.norm_num_groups}")

    @property
    def down(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)

    @property
    def grid(self) -> int:
        """Tokens per side of a frame: h = w = image_size / down."""
        return self.image_size // self.down


@dataclass(frozen=True)
class STPTConfig:
    """The Spatial Temporal Patchwise Transformer (§3.2, Fig. 3) and its prompts."""

    codebook_size: int = 64  # K visual codes; the input table has K + 1 rows, row K = [MASK] (the paper's 8193)
    frames: int = 8  # N
    grid: int = 8  # h = w, tokens per frame side
    dim: int = 96  # C_V
    layers: int = 4  # L
    heads: int = 4
    mlp_ratio: int = 4
    stride: int = 2  # s: the patchwise split of h x w; s = 1 is full attention
    # "quadrant": s x s windows of (h/s) x (w/s) tokens across all N frames (Eq. 3's E_P shapes; default);
    # "local": (h/s)(w/s) windows of s x s tokens across all N frames (the reading the shapes contradict).
    window: str = "quadrant"
    conv_kernel: int = 3  # the 3D conv (depthwise k x k x k + pointwise; kernel unreported, ours)
    image_conv: str = "center_tap"  # for image "clips": the 3D conv's temporal centre tap only, or the full kernel
    # Prompts: text (tiny word encoder or a local T5), action (per-frame MLP), E_M = [E_T; E_A].
    text_encoder: str = "tiny"
    text_vocab: tuple[str, ...] = VIDEO_VOCAB
    text_max_tokens: int = 14
    text_dim: int = 64
    text_layers: int = 2
    text_heads: int = 4
    t5_path: str = ""  # a local T5 encoder folder for text_encoder="t5_local"
    action_dim: int = 2  # per-frame action (our world: object 0's velocity; nuScenes: yaw + speed)
    action_scale: float = 4.0  # actions are divided by this before the MLP
    # Training (§3.3): the mask rate r = cos(pi u / 2), one mask shared by every frame; prompt dropout for CFG.
    mask_mode: str = "shared"
    prefix_prob: float = 0.25  # "shared+prefix" only: the chance a sample keeps its first frame(s) visible
    prompt_dropout: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "text_vocab", tuple(self.text_vocab))
        for name, allowed in (("window", WINDOWS), ("mask_mode", MASK_MODES), ("image_conv", IMAGE_CONVS),
                              ("text_encoder", TEXT_ENCODERS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"STPTConfig.{name}: {getattr(self, name)!r}; expected one of {', '.join(allowed)}")
        if self.grid % self.stride:
            raise ConfigError(f"STPTConfig.grid: {self.grid} tokens per side do not split into stride s={self.stride}")
        if self.dim % self.heads or self.text_dim % self.text_heads:
            raise ConfigError(f"STPTConfig: dim {self.dim} / text_dim {self.text_dim} must divide by their head counts")
        if self.conv_kernel % 2 != 1:
            raise ConfigError(f"STPTConfig.conv_kernel: {self.conv_kernel} must be odd")
        if not 0 <= self.prompt_dropout < 1:
            raise ConfigError(f"STPTConfig.prompt_dropout: {self.prompt_dropout} not in [0, 1)")
        if self.text_encoder == "t5_local" and not self.t5_path:
            raise ConfigError("STPTConfig.t5_path: text_encoder='t5_local' needs a local T5 encoder folder")

    @property
    def mask_id(self) -> int:
        return self.codebook_size

    @property
    def tokens(self) -> int:
        """Visual tokens per clip: N h w."""
        return self.frames * self.grid * self.grid


@dataclass(frozen=True)
class WorldDreamerConfig:
    tokenizer: TokenizerConfig = TokenizerConfig()
    stpt: STPTConfig = STPTConfig()

    def __post_init__(self):
        if self.stpt.codebook_size != self.tokenizer.codebook_size:
            raise ConfigError(f"WorldDreamerConfig: the STPT predicts {self.stpt.codebook_size} codes but the tokenizer "
                              f"has {self.tokenizer.codebook_size}")
        if self.stpt.grid != self.tokenizer.grid:
            raise ConfigError(f"WorldDreamerConfig: the STPT expects {self.stpt.grid}x{self.stpt.grid} tokens per frame; "
                              f"the tokenizer makes {self.tokenizer.grid}x{self.tokenizer.grid}")


CONFIGS: ConfigRegistry[WorldDreamerConfig] = ConfigRegistry("worlddreamer")
# The paper's shared mask never shows whole given frames, the condition of image-to-video and video
# prediction; the tiny config leaves the first k frames whole in half the samples (R5 compares).
CONFIGS.register("tiny", WorldDreamerConfig(stpt=STPTConfig(mask_mode="shared+prefix", prefix_prob=0.5)))
# A smoke-test size for unit tests.
CONFIGS.register("micro", WorldDreamerConfig(
    TokenizerConfig(block_out_channels=(8, 16, 16), norm_num_groups=4, codebook_size=32, code_dim=8, latent_channels=8),
    STPTConfig(codebook_size=32, dim=32, layers=2, heads=2, text_dim=16, text_layers=1, text_heads=2)))
# Paper scale (ours: the paper reports only "1B"); the tokenizer is aMUSEd's VQ-GAN, loaded from a local folder.
CONFIGS.register("stpt-1b", WorldDreamerConfig(
    TokenizerConfig(architecture="vqmodel", image_size=256, block_out_channels=(128, 128, 256, 256, 512),
                    layers_per_block=2, norm_num_groups=32,
                    codebook_size=8192, code_dim=64, latent_channels=64),
    STPTConfig(codebook_size=8192, frames=16, grid=16, dim=2048, layers=16, heads=16, text_dim=768, text_heads=12,
               text_max_tokens=77)))


def config(name_or_config: str | WorldDreamerConfig = "tiny", **overrides) -> WorldDreamerConfig:
    """A named config (or a value); `overrides` replace STPT fields (e.g. stride=1, mask_mode="independent")."""
    base = CONFIGS.get(name_or_config)
    return replace(base, stpt=replace(base.stpt, **overrides)) if overrides else base


def configs() -> list[str]:
    return CONFIGS.names()
