"""The ten systems of the 2024-01-19 digest and what works in each today.

`markdown_table()` renders the systems table of the top README (a test keeps the README
equal to it); its claims column is computed from each system's recorded reproduction
(`src/paperzoo/<system>/reproduced.json`, written by `paperzoo reproduce SYSTEM --record`)
with the shared verdict rule, never written by hand.
"""

from dataclasses import dataclass
from pathlib import Path


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
           "train (SFT + self-rewarding iterations, world, SmolLM2 or local HF checkpoints + JSONL), generate, judge, "
           "gap, reproduce (tiny world and SmolLM2); DPO equal to TRL 0.24's on a committed fixture (test_dpo.py); the "
           "claims do not reproduce at tiny scale nor on SmolLM2: EFT teaches the judge format but not judging "
           "(chance on held-out pairs), and the budget's DPO leaves the answers unchanged (README)", True),
    System("diffusiongpt", "DiffusionGPT: LLM-Driven Text-to-Image Generation System", "2401.10061",
           "the whole pipeline on a world zoo (base, six LoRA experts, a merge; diffusers UNet, DDIM, peft), rule or "
           "SmolLM2 controller, advantage database (MiniLM), generate / zoo / build-db / reproduce; Stable Diffusion "
           "checkpoints and LoRAs through diffusers, ImageReward from a local folder (equal to the official code on a "
           "committed fixture: test_imagereward.py); routing beats the base and a random expert, the database, the "
           "extension and SmolLM2 as controller add nothing here (README)", True),
    System("chatqa", "ChatQA: Building GPT-4 Level Conversational QA Models", "2401.10225",
           "two-stage tuning (tiny world Llama, SmolLM2 or a local Llama), dual-encoder retriever (tiny, MiniLM, "
           "Dragon folders), chat --docs over your own files, ChatRAG-Bench score (per-record F1 and refusal rules "
           "equal third-party copies of the official functions on a committed fixture: test_scoring.py), reproduce; "
           "3-seed reproduction recorded (README)", True),
    System("vmamba", "VMamba: Visual State Space Model", "2401.10166",
           "SS2D with a fused C++ CPU scan (a chunked PyTorch fallback), nine named configs (parameter counts equal the official code's, FLOPs), "
           "official checkpoints (logits equal the official code's on a committed fixture: test_official_parity.py), "
           "ImageNet recipe, world reproduction; the accuracy claims do not hold at nano scale (README)", True),
    System("worlddreamer", "WorldDreamer: general world models via predicting masked tokens", "2401.09985",
           "the video world, a VQ tokenizer (EMA codebook; diffusers VQModel for real checkpoints), the STPT, parallel "
           "and token-by-token decoding, a causal KV-cache baseline, the five tasks, train, generate, reproduce (R1-R5); "
           "at tiny scale the STPT learns appearance but not yet motion: video prediction is no better than copying "
           "the last frame (README)", True),
    System("sparc", "SPARC: fine-grained image-text pre-training", "2401.09865",
           "losses checked against per-sample transcriptions of Eqs. 1-6, train, evaluate, demo, reproduce, "
           "real-data loaders, a varied-caption world; at tiny scale SPARC's words point at their own objects no "
           "better than an untrained model, on fixed or varied captions, while some token of its caption finds each "
           "object far more often than CLIP's (README)", True),
    System("shinobi", "SHINOBI: shape and illumination via neural BRDF optimization in the wild", "2401.10171",
           "in progress: the 3D world, a pure-torch hash grid (tested against a reference, second derivatives), the "
           "hybrid annealed encoding, SG illumination, camera multiplexes, every loss, fit / relight / export-mesh on "
           "folders, NAVI or the world, reproduce (12 runs per seed); not yet recorded, and at tiny scale the cameras "
           "are not yet recovered from turned starts (README)", True),
    System("fregrad", "FreGrad: lightweight and fast frequency-aware diffusion vocoder", "2401.10032",
           "train (speech world or LJSpeech), vocode, demo, evaluate, reproduce; official checkpoints (forward and a "
           "full sampling run equal the official code's on a committed fixture: test_official_parity.py); fewer "
           "parameters than PriorGrad, but not its quality at tiny scale (README)", True),
    System("customvideo", "CustomVideo: multi-subject text-to-video customization", "2401.09962", "not yet implemented", False),
    System("cmmd", "Rethinking FID: CMMD", "2401.09603",
           "CMMD (both estimators) and FID, scoring image folders or .npz with the offline SPARC embedder or a "
           "local CLIP, sharded under accelerate, distortion / sample-size / normality reproduction (README)", True),
)

BY_NAME = {s.name: s for s in SYSTEMS}


def recorded_path(name: str) -> Path:
    """Where a system's recorded full reproduction lives (the report.json of `reproduce --record`)."""
    return Path(__file__).resolve().parent / name / "reproduced.json"


def recorded(name: str):
    """The recorded full reproduction of a system (a SystemReport), or None."""
    from paperzoo.core.report import SystemReport

    path = recorded_path(name)
    return SystemReport.load(path) if path.is_file() else None


def claims_cell(system: System) -> str:
    if not system.implemented:
        return "-"
    from paperzoo.core.report import summary

    report = recorded(system.name)
    if report is None:
        return "not yet reproduced under the shared rule (>= 3 seeds); see its README"
    return summary(report.claims)


CLAIMS_START, CLAIMS_END = "<!-- claims table: start -->", "<!-- claims table: end -->"


def recorded_claims_table(name: str) -> str | None:
    """A system README's claims table, rendered from its recorded reproduction (None if not recorded)."""
    from paperzoo.core.report import claims_table

    report = recorded(name)
    if report is None:
        return None
    return (f"Recorded run: `{report.command}`. {report.setup}\n\n" if report.setup else "") + claims_table(report.claims)


def markdown_table() -> str:
    """The top README's systems table."""
    lines = ["| system | paper | arXiv | status | claims that hold (recorded reproduction) |",
             "| --- | --- | --- | --- | --- |"]
    for s in SYSTEMS:
        name = f"[`{s.name}`](src/paperzoo/{s.name}/README.md)" if s.implemented else f"`{s.name}`"
        lines.append(f"| {name} | {s.title} | {s.arxiv} | {s.status} | {claims_cell(s)} |")
    return "\n".join(lines)
