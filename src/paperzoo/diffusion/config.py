"""`TextToImageConfig`: the tiny text-to-image generator's sizes, as a plain dataclass value."""

from __future__ import annotations

from dataclasses import dataclass, replace

from paperzoo.core.errors import ConfigError
from paperzoo.core.registry import ConfigRegistry
from paperzoo.world.styles import STYLE_VOCAB


# What the network predicts: the noise eps (Ho et al. 2020), v = sqrt(abar) eps - sqrt(1 - abar) x_0
# (Salimans & Ho 2022), or x_0 itself ("sample"); diffusers' names.
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


@dataclass(frozen=True)
class TextToImageConfig:
    vocab: tuple[str, ...] = STYLE_VOCAB  # word-level; index 0 is the pad, 1 the unknown word
    max_tokens: int = 16  # longer prompts are cut, as CLIP's 77-token window cuts them (a caption is 7 words)
    image_size: int = 32
    channels: int = 3
    patch: int = 2  # space-to-depth factor: the UNet sees (C p^2, H/p, W/p)
    block_out_channels: tuple[int, ...] = (32, 64)
    cross_attention: tuple[bool, ...] = (False, True)  # per UNet level; the mid block always attends
    layers_per_block: int = 1
    attention_head_dim: int = 16
    norm_num_groups: int = 8
    text_dim: int = 64  # the text states' width = the UNet's cross-attention dim
    text_layers: int = 2
    text_heads: int = 4
    train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"  # cosine (Nichol & Dhariwal 2021); SD uses "scaled_linear"
    prediction_type: str = "epsilon"  # see PREDICTION_TYPES
    caption_dropout: float = 0.1  # captions replaced by "" in training, for classifier-free guidance

    def __post_init__(self):
        object.__setattr__(self, "vocab", tuple(self.vocab))
        object.__setattr__(self, "block_out_channels", tuple(self.block_out_channels))
        object.__setattr__(self, "cross_attention", tuple(self.cross_attention))
        if len(self.vocab) < 2 or len(set(self.vocab)) != len(self.vocab):
            raise ConfigError("TextToImageConfig.vocab: needs distinct words, the pad first and the unknown word second")
        if len(self.cross_attention) != len(self.block_out_channels):
            raise ConfigError(f"TextToImageConfig.cross_attention: {len(self.cross_attention)} flags for "
                              f"{len(self.block_out_channels)} UNet levels")
        down = self.patch * 2 ** (len(self.block_out_channels) - 1)
        if self.image_size % down:
            raise ConfigError(f"TextToImageConfig.image_size: {self.image_size} is not divisible by patch x 2^(levels-1) = {down}")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ConfigError(f"TextToImageConfig.block_out_channels {self.block_out_channels}: each must divide "
                              f"into norm_num_groups={self.norm_num_groups}")
        if self.text_dim % self.text_heads or self.text_dim % self.attention_head_dim:
            raise ConfigError(f"TextToImageConfig.text_dim {self.text_dim}: must divide by text_heads and attention_head_dim")
        if not 0 <= self.caption_dropout < 1:
            raise ConfigError(f"TextToImageConfig.caption_dropout: {self.caption_dropout} not in [0, 1)")
        if self.prediction_type not in PREDICTION_TYPES:
            raise ConfigError(f"TextToImageConfig.prediction_type: {self.prediction_type!r}; expected one of {PREDICTION_TYPES}")


CONFIGS: ConfigRegistry[TextToImageConfig] = ConfigRegistry("diffusion")
# The DiffusionGPT card's "about 0.5M parameters at 32x32": the base model and its LoRA experts.
# It predicts x_0 ("sample"), not eps as Stable Diffusion does: measured on the styled world
# (2026-12-07, 800 steps of batch 32, lr 2e-3, 20 DDIM steps, w = 3), eps- and v-prediction
# models still sampled mostly noise, while the x_0 model drew the prompt's colour, size and
# style (blurred). A CPU budget of minutes decides it; the eps path stays, tested.
CONFIGS.register("tiny", TextToImageConfig(block_out_channels=(24, 48), prediction_type="sample"))
# A smoke-test size for unit tests.
CONFIGS.register("micro", TextToImageConfig(block_out_channels=(8, 16), attention_head_dim=8, text_dim=16,
                                            text_layers=1, text_heads=2, norm_num_groups=4))


def config(name_or_config: str | TextToImageConfig = "tiny", **overrides) -> TextToImageConfig:
    """A named config (or a config value), with fields replaced by `overrides`."""
    return replace(CONFIGS.get(name_or_config), **overrides)


def configs() -> list[str]:
    return CONFIGS.names()
