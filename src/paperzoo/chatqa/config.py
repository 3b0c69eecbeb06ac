"""Named configs (nanoGPT style: plain dataclass values in registries).

Generators (paper §5.1: ChatQA is built on Llama2-7B/13B/70B and in-house GPT-8B/22B; the
card §5: a tiny Llama on the world's word vocabulary; SmolLM2-135M-Instruct as the real
offline model) and the two-stage tuning recipes (§3; the paper v1 gives no learning rate,
batch or step count, so the tiny recipes are ours and the stage-1 "release" recipe is the
`training_config_stage1.yaml` that NVIDIA later added to the ChatQA-Training-Data release,
not a v1 number). The retriever's configs (H5) are in their own section below.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperzoo.core.errors import ConfigError
from paperzoo.core.lm import LMConfig
from paperzoo.core.registry import ConfigRegistry

# ---- generator and recipe configs (H4)


@dataclass(frozen=True)
class GeneratorConfig:
    """A ChatQA generator: a Llama of `lm` (built from scratch on the world's word-level
    tokenizer; `lm.vocab_size == 0` means "the world tokenizer's size"), or a local Hugging
    Face causal-LM folder (`pretrained`: a named real model or a path) with its own tokenizer.
    Both read the same plain App. A text ("System:/User:/Assistant:", never the model's
    own chat template: the card's pitfall)."""

    lm: LMConfig | None = None
    pretrained: str | None = None  # "smollm2-135m-instruct" or a folder
    note: str = ""

    def __post_init__(self):
        if (self.lm is None) == (self.pretrained is None):
            raise ConfigError("a generator config names exactly one of lm (a from-scratch Llama) or pretrained (a folder)")


@dataclass(frozen=True)
class StageRecipe:
    """One tuning stage (stage 1: SFT; stage 2: context-enhanced instruction tuning).

    lr schedule: linear warm-up over `warmup` steps, then cosine to `min_lr`.
    `batch_size` is the global batch (samples per optimiser step).
    """

    lr: float
    min_lr: float
    steps: int
    batch_size: int
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    warmup: int = 0
    max_length: int | None = None  # None: the model's window
    supervise: str = "last"  # "last": the latest answer only (App. A.1); "all": every answer
    source: str = "ours"

    def __post_init__(self):
        if self.supervise not in ("last", "all"):
            raise ConfigError(f"stage recipe supervise={self.supervise!r}; expected 'last' (the paper) or 'all'")
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError(f"stage recipe needs steps >= 0, batch_size >= 1, lr > 0; got {self.steps}, "
                              f"{self.batch_size}, {self.lr}")


@dataclass(frozen=True)
class TuningRecipe:
    """Stage 1 then stage 2, plus how the stage-2 blend is drawn and whether LoRA is used
    (`lora_rank` 0: full fine-tuning, the paper; > 0: LoRA adapters through peft, ours)."""

    stage1: StageRecipe
    stage2: StageRecipe
    unanswerable: float = 0.05  # share of conversational dialogues whose last turn is unanswerable
    lora_rank: int = 0
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    note: str = ""


GENERATORS: ConfigRegistry[GeneratorConfig] = ConfigRegistry("chatqa generator")
RECIPES: ConfigRegistry[TuningRecipe] = ConfigRegistry("chatqa recipe")

# Llama 2 (Touvron et al. 2023): the released architectures (params.json / config.json of
# meta-llama/Llama-2-{7b,13b,70b}-hf): hidden, layers, heads, KV heads, FFN, 4096 positions,
# vocabulary 32,000. The paper (§5.1) names only "7B / 13B / 70B".
GENERATORS.register("llama2-7b", GeneratorConfig(LMConfig(32000, 4096, 32, 32, 32, 11008, 4096), note="paper §5.1"))
GENERATORS.register("llama2-13b", GeneratorConfig(LMConfig(32000, 5120, 40, 40, 40, 13824, 4096), note="paper §5.1"))
GENERATORS.register("llama2-70b", GeneratorConfig(LMConfig(32000, 8192, 80, 64, 8, 28672, 4096), note="paper §5.1"))
# Card §5 (inferred sizes): 6 layers, d = 192, 6 heads, context 384, the world's word vocabulary
# (FFN 512 = 8/3 d, Llama's ratio; ~3M parameters at a ~700-word vocabulary).
GENERATORS.register("tiny", GeneratorConfig(LMConfig(0, 192, 6, 6, 6, 512, 384), note="card §5, inferred"))
# The CI learning test's model (ours): small enough to learn within seconds on one core.
GENERATORS.register("tiny-ci", GeneratorConfig(LMConfig(0, 128, 2, 4, 4, 384, 384), note="ours, CI budget"))
# The real offline model (paperzoo.core.pretrained.smollm2(): a local HF folder built once).
GENERATORS.register("smollm2-135m-instruct", GeneratorConfig(pretrained="smollm2-135m-instruct",
                                                             note="real weights, offline"))

# Exact parameter counts of the released Llama 2 architectures (Meta's facebookresearch/llama
# model.py modules, written out in tests/chatqa/test_generator.py; equal to the HF config's
# LlamaForCausalLM). Llama 2 reports them rounded: 7B, 13B, 70B (Touvron et al. 2023, Table 1).
PAPER_PARAMS: dict[str, int] = {"llama2-7b": 6_738_415_616, "llama2-13b": 13_015_864_320,
                                "llama2-70b": 68_976_648_192}

# NVIDIA's ChatQA-Training-Data release, training_config_stage1.yaml (Megatron): lr 5e-6 cosine
# to min-lr 1e-8, global batch 128, 1000 iterations (one pass over the 128K SFT samples),
# Adam betas (0.9, 0.95), weight decay 0.1, clip-grad 1.0, seq-length 4096. A RELEASE config,
# not in the v1 paper. Its stage-2 file's values could not be read: stage 2 repeats stage 1's
# optimiser here with an unknown step count (0: set it for your data).
RELEASE_STAGE1 = StageRecipe(lr=5e-6, min_lr=1e-8, steps=1000, batch_size=128, betas=(0.9, 0.95),
                             weight_decay=0.1, grad_clip=1.0, max_length=4096,
                             source="release config (training_config_stage1.yaml), not in the v1 paper")
RECIPES.register("release", TuningRecipe(
    stage1=RELEASE_STAGE1,
    stage2=StageRecipe(lr=5e-6, min_lr=1e-8, steps=0, batch_size=128, betas=(0.9, 0.95), weight_decay=0.1,
                       grad_clip=1.0, max_length=4096, source="stage 1's release optimiser; steps unknown"),
    unanswerable=0.0,
    note="release config, not in the v1 paper",
))
# The tiny runs (ours; card §5: AdamW 3e-4).
RECIPES.register("tiny", TuningRecipe(
    stage1=StageRecipe(lr=3e-4, min_lr=3e-5, steps=600, batch_size=16, weight_decay=0.0, warmup=20),
    stage2=StageRecipe(lr=3e-4, min_lr=3e-5, steps=1500, batch_size=16, weight_decay=0.0, warmup=20),
    note="ours (card §5: AdamW 3e-4)",
))
# SmolLM2 stage 1 + 2 on the world (ours): a pretrained model needs a small learning rate.
RECIPES.register("smollm2", TuningRecipe(
    stage1=StageRecipe(lr=5e-5, min_lr=5e-6, steps=100, batch_size=8, weight_decay=0.0, warmup=10, max_length=768),
    stage2=StageRecipe(lr=5e-5, min_lr=5e-6, steps=300, batch_size=8, weight_decay=0.0, warmup=10, max_length=768),
    note="ours",
))


def generator_config(name: str | GeneratorConfig) -> GeneratorConfig:
    return GENERATORS.get(name)


def recipe(name: str | TuningRecipe) -> TuningRecipe:
    return RECIPES.get(name)


def generators() -> list[str]:
    return GENERATORS.names()


def recipes() -> list[str]:
    return RECIPES.names()


# ---- retriever configs (H5)
# The dual encoder (§4; retriever.py) and its training stages (retrieval_train.py). The paper
# gives no retriever hyperparameters: the sizes beyond the card's and every recipe are ours.
RETRIEVER_POOLINGS = ("cls", "mean")
RETRIEVER_NEGATIVES = ("inbatch", "inbatch+samedoc")


@dataclass(frozen=True)
class RetrieverConfig:
    """A dual encoder. With `query_encoder`/`context_encoder` None, a tiny BERT is built from
    the size fields below on the world tokenizer; otherwise each is a local Hugging Face folder
    or a real model's name (`paperzoo.core.pretrained.model_folder`, e.g. "all-minilm-l6-v2").

    pooling: "cls" (Dragon) | "mean" (MiniLM); None: the folder's native pooling (its
    sentence-transformers Pooling module, else CLS). normalize: L2-normalise the pooled vector
    (MiniLM's Normalize module); None: native (True only where the folder has that module).
    Queries longer than query_max_length tokens are cut from the left (card §6, inferred).
    share_embeddings: one word-embedding table for both encoders (ours, for the tiny BERT: a
    word-level vocabulary gives held-out entity names untrained vectors, and a shared table at
    least makes a name the same vector on both sides; Dragon's encoders share nothing).
    """

    query_encoder: str | None = None
    context_encoder: str | None = None
    pooling: str | None = None
    normalize: bool | None = None
    query_max_length: int = 256
    context_max_length: int = 128
    # the tiny BERT (card §5: 2 layers, d = 128; heads and FFN width are ours)
    hidden_size: int = 128
    layers: int = 2
    heads: int = 4
    intermediate_size: int = 512
    dropout: float = 0.1
    share_embeddings: bool = False

    def __post_init__(self):
        if self.pooling is not None and self.pooling not in RETRIEVER_POOLINGS:
            raise ConfigError(f"retriever pooling={self.pooling!r}; expected one of {', '.join(RETRIEVER_POOLINGS)}")
        if (self.query_encoder is None) != (self.context_encoder is None):
            raise ConfigError("retriever: give both query_encoder and context_encoder folders, or neither (tiny)")
        for name in ("query_max_length", "context_max_length"):
            if getattr(self, name) < 3:
                raise ConfigError(f"retriever {name}={getattr(self, name)}; expected at least 3 tokens")


@dataclass(frozen=True)
class RetrievalRecipe:
    """One retriever training stage (ours throughout: v1 states no retriever settings).

    temperature: τ of InfoNCE (1.0: none, as Dragon, inferred); negatives: "inbatch" |
    "inbatch+samedoc" (plus `per_query` other chunks of the gold chunk's document)."""

    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 20
    weight_decay: float = 0.01
    temperature: float = 1.0
    negatives: str = "inbatch"
    per_query: int = 1
    grad_clip: float | None = 1.0

    def __post_init__(self):
        if self.negatives not in RETRIEVER_NEGATIVES:
            raise ConfigError(f"retrieval recipe negatives={self.negatives!r}; expected one of {', '.join(RETRIEVER_NEGATIVES)}")
        if self.temperature <= 0 or self.batch_size < 2 or self.steps < 0 or self.lr <= 0:
            raise ConfigError("retrieval recipe: need temperature > 0, batch_size >= 2 (in-batch negatives), "
                              "steps >= 0, lr > 0")


RETRIEVERS: ConfigRegistry[RetrieverConfig] = ConfigRegistry("chatqa retriever")
# The tiny BERT pools by the normalised mean, not Dragon's CLS (ours: from scratch, CLS pooling
# barely learns in CI's budget; measured in tests/chatqa/test_retriever.py's docstring).
RETRIEVERS.register("tiny", RetrieverConfig(pooling="mean", normalize=True, share_embeddings=True, dropout=0.0))
# all-MiniLM-L6-v2 for both encoders (two copies, tuned separately); its native mean pooling,
# normalised; sentence-transformers cuts its inputs at 256 tokens.
RETRIEVERS.register("minilm", RetrieverConfig("all-minilm-l6-v2", "all-minilm-l6-v2",
                                              query_max_length=256, context_max_length=256))
# Dragon (Lin et al. 2023) and ChatQA's release, from local folders: BERT-base, CLS, 512 positions.
RETRIEVERS.register("dragon-plus", RetrieverConfig(
    "facebook/dragon-plus-query-encoder", "facebook/dragon-plus-context-encoder", "cls", False, 512, 512))
RETRIEVERS.register("dragon-multiturn", RetrieverConfig(
    "nvidia/dragon-multiturn-query-encoder", "nvidia/dragon-multiturn-context-encoder", "cls", False, 512, 512))

RETRIEVAL_RECIPES: ConfigRegistry[RetrievalRecipe] = ConfigRegistry("chatqa retrieval recipe")
# Every normalised encoder (the tiny one, MiniLM) uses τ = 0.05 (sentence-transformers' scale 20,
# MiniLM's own training loss): cosines lie in [-1, 1], too flat a softmax without a temperature.
RETRIEVAL_RECIPES.register("tiny-single", RetrievalRecipe(steps=200, lr=1e-3, temperature=0.05))
RETRIEVAL_RECIPES.register("tiny-multi", RetrievalRecipe(steps=400, lr=1e-3, temperature=0.05,
                                                         negatives="inbatch+samedoc", per_query=2))
RETRIEVAL_RECIPES.register("minilm-single", RetrievalRecipe(steps=100, lr=2e-5, warmup=10, temperature=0.05))
# minilm-multi: ~20 min on one thread of a loaded 2-core machine (measured, retrieval_train.table1).
RETRIEVAL_RECIPES.register("minilm-multi", RetrievalRecipe(steps=200, lr=2e-5, warmup=20, temperature=0.05,
                                                           negatives="inbatch+samedoc", per_query=2))


def retriever_config(name: str | RetrieverConfig) -> RetrieverConfig:
    return RETRIEVERS.get(name)


def retrieval_recipe(name: str | RetrievalRecipe) -> RetrievalRecipe:
    return RETRIEVAL_RECIPES.get(name)
