"""SPARC configs (App. D.1 of the paper): dataclass values, `tiny` for the CPU and the paper's sizes.

Encoders have no CLS token (SPARC pools patches). App. D.1 gives the architectures, not
parameter counts; exact counts of our encoders (tests/sparc/test_config.py), which round to
the card §2 table: ViT-B/32 87.45M, ViT-B/16 85.80M, ViT-L/14 303.18M, text 109.7M
(12 x 768, 32k SentencePiece vocabulary, 55 tokens).
"""

from dataclasses import dataclass, field, replace

from paperzoo.core.registry import ConfigRegistry
from paperzoo.core.errors import ConfigError


@dataclass(frozen=True)
class VisionConfig:
    """f_v: a ViT over patch tokens only (P = (image_size / patch_size)^2)."""

    image_size: int = 224
    patch_size: int = 16
    width: int = 768
    layers: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    channels: int = 3

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid**2


@dataclass(frozen=True)
class TextConfig:
    """f_t: a bidirectional Transformer over caption tokens with a pad mask."""

    vocab_size: int = 32_000
    context_length: int = 55
    width: int = 768
    layers: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0


@dataclass(frozen=True)
class SparcConfig:
    """A SPARC dual encoder and its objective (Eq. 7: L = lambda_g L_g + lambda_f L_f).

    `lambda_fine = 0` gives the CLIP baseline with the same architecture (h_v included).
    `global_head`: "paper" (v̄ = g_v(h_v(mean_p f_v(x)_p)), Eq. 1's text) or "pseudocode"
    (v̄ = mean_p g_v(f_v(x)_p), App. C). `weighting`: "sparse" (Eqs. 2-4) or "softmax"
    (App. A ablation); `sigma=None` means 1/P, 0.0 is the no-sparsity ablation.
    """

    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    embed_dim: int = 512
    global_head: str = "paper"
    lambda_global: float = 0.5
    lambda_fine: float = 1.0
    weighting: str = "sparse"
    sigma: float | None = None
    local_reduction: str = "token"
    logit_scale_init: float = 1 / 0.07
    logit_scale_max: float = 100.0
    separate_temperatures: bool = False
    # Token ids left out of L_f only (e.g. stop words; card §10). The paper keeps every token:
    # the default is empty. L_g still sees every token.
    fine_ignore_ids: tuple[int, ...] = ()

    def __post_init__(self):
        choices = {
            "global_head": ("paper", "pseudocode"),
            "weighting": ("sparse", "softmax"),
            "local_reduction": ("token", "sample"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"SparcConfig.{name}={getattr(self, name)!r}; expected one of {allowed}")
        v = self.vision
        if v.image_size % v.patch_size:
            raise ConfigError(f"vision.image_size={v.image_size} is not divisible by vision.patch_size={v.patch_size}")
        if v.width % v.heads or self.text.width % self.text.heads:
            raise ConfigError("encoder width must be divisible by its number of heads")

    def clip(self) -> "SparcConfig":
        """The CLIP baseline of this config: same architecture, lambda_f = 0."""
        return replace(self, lambda_fine=0.0)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (App. D: AdamW, cosine schedule with linear warm-up)."""

    steps: int = 200_000
    batch_size: int = 16_384
    lr: float = 9e-4
    weight_decay: float = 0.1
    warmup_steps: int = 2_500
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0


# The tiny world: 48x48 scenes, patch 8 -> P = 36 (sigma = 1/36), word vocabulary.
TINY_VISION = VisionConfig(image_size=48, patch_size=8, width=128, layers=4, heads=4)
TINY_TEXT = TextConfig(vocab_size=64, context_length=16, width=128, layers=3, heads=4)
TEXT_BASE = TextConfig()
# The varied-caption world (`paperzoo.world.captions.VARIED`): 70 words, captions up to 30.
TINY_VARIED_TEXT = TextConfig(vocab_size=80, context_length=30, width=128, layers=3, heads=4)

registry: ConfigRegistry[SparcConfig] = ConfigRegistry("sparc")
registry.register("tiny", SparcConfig(vision=TINY_VISION, text=TINY_TEXT, embed_dim=64))
registry.register("tiny-varied", SparcConfig(vision=TINY_VISION, text=TINY_VARIED_TEXT, embed_dim=64))
registry.register("vit-b-32", SparcConfig(vision=VisionConfig(patch_size=32), text=TEXT_BASE))
registry.register("vit-b-16", SparcConfig(vision=VisionConfig(patch_size=16), text=TEXT_BASE))
registry.register(
    "vit-l-14",
    SparcConfig(vision=VisionConfig(patch_size=14, width=1024, layers=24, heads=16), text=TEXT_BASE),
)

train_registry: ConfigRegistry[TrainConfig] = ConfigRegistry("sparc training")
train_registry.register("tiny", TrainConfig(steps=1_000, batch_size=128, lr=1e-3, weight_decay=0.1, warmup_steps=100))
train_registry.register("paper-vit-b", TrainConfig(steps=200_000))
train_registry.register("paper-vit-l", TrainConfig(steps=250_000))

# Encoder sizes of the paper's architectures as the card §2 table computes them (millions, rounded).
PAPER_ENCODER_PARAMS_M = {"vit-b-32": 87.45, "vit-b-16": 85.80, "vit-l-14": 303.18, "text": 109.7}


def config(name: str) -> SparcConfig:
    """The named SPARC config: `paperzoo.sparc.config("vit-b-16")`."""
    return registry.get(name)


def configs() -> list[str]:
    return registry.names()
