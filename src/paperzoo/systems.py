"""The ten systems of the 2024-01-19 digest and what works in each today."""

from dataclasses import dataclass


@dataclass(frozen=True)
class System:
    name: str  # folder and CLI name
    title: str
    arxiv: str
    status: str  # what works today, one line
    implemented: bool  # has `reproduce` (and is in `paperzoo reproduce all`)
    cli: bool | None = None  # has `paperzoo <name> ...` commands; default: implemented

    @property
    def has_cli(self) -> bool:
        return self.implemented if self.cli is None else self.cli


SYSTEMS: tuple[System, ...] = (
    System("self_rewarding", "Self-Rewarding Language Models", "2401.10020",
           "train (SFT + self-rewarding iterations, world or local HF checkpoints + JSONL), generate, judge, reproduce; "
           "the claims do not reproduce at tiny scale: the tiny judge is near chance (README)", True),
    System("diffusiongpt", "DiffusionGPT: LLM-Driven Text-to-Image Generation System", "2401.10061", "not yet implemented", False),
    System("chatqa", "ChatQA: Building GPT-4 Level Conversational QA Models", "2401.10225", "not yet implemented", False),
    System("vmamba", "VMamba: Visual State Space Model", "2401.10166",
           "SS2D with a fast CPU scan, nine named configs (exact params, FLOPs), official checkpoints (outputs match), "
           "ImageNet recipe, world reproduction (accuracy claims do not hold at nano scale; README)", True),
    System("worlddreamer", "WorldDreamer: general world models via predicting masked tokens", "2401.09985", "not yet implemented", False),
    System("sparc", "SPARC: fine-grained image-text pre-training", "2401.09865",
           "train, evaluate, demo, reproduce, real-data loaders; its localisation claim does not reproduce at tiny scale (README)", True),
    System("shinobi", "SHINOBI: shape and illumination via neural BRDF optimization in the wild", "2401.10171", "not yet implemented", False),
    System("fregrad", "FreGrad: lightweight and fast frequency-aware diffusion vocoder", "2401.10032",
           "train (speech world or LJSpeech), vocode, demo, official checkpoints, evaluate, reproduce; FreGrad vs "
           "PriorGrad at exact paper configs (README)", True),
    System("customvideo", "CustomVideo: multi-subject text-to-video customization", "2401.09962", "not yet implemented", False),
    System("cmmd", "Rethinking FID: CMMD", "2401.09603",
           "cmmd/fid functions, score folders or .npz (SPARC or local CLIP embedder), sharded path, reproduce", True),
)

BY_NAME = {s.name: s for s in SYSTEMS}
