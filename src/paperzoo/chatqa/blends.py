"""The training blends of the two stages (paper §3.1, §3.2.3; App. A), on the text world.

Stage 1 (§3.1): SFT samples "in a conversational format", System/User/Assistant with empty
context and instruction (App. A.2). The paper's 128K samples (Soda, ELI5, FLAN, ...) become the
world's program-checkable instruction tasks (`paperzoo.world.instructions`), one to three per
conversation; the loss is on the latest answer.

Stage 2 (§3.2.3): a conversational QA dataset (HumanAnnotatedConvQA, with 1.5k unanswerable
turns), the single-turn QA datasets (DROP, NarrativeQA, Quoref, ROPES, SQuAD1.1/2.0, NewsQA,
TAT-QA) and all of the stage-1 SFT data. v1 gives no proportions; the ChatQA-1.5 training-data
card's sampling weights (sum 1.231, normalised here) are used, each source mapped onto a world
group with the App. A.2 instruction of its answer type:

    source         weight  world group      instruction (App. A.2)
    synth_convqa   .300    conversational   "Please give a full and complete answer ..."
    drop           .069    single_turn      "... with a short span. The answer needs to be just in a few words."
    narrqa         .095    single_turn      (short span)
    quoref         .026    single_turn      (short span)
    ropes          .026    single_turn      (short span)
    squad1.1       .095    single_turn      (short span)
    squad2.0       .095    single_turn      (short span)
    newsqa         .095    single_turn      (short span)
    tatqa-arith    .150    arithmetic       "... with a number from context or the math arithmetic using +, -, *, or /."
    tatqa-other    .080    single_turn      "... with a short span, or a full and complete answer."
    sft            .200    sft              (none: the stage-1 format)

so the groups get conversational .300, single-turn .581, arithmetic .150, sft .200 of 1.231
(24.4%, 47.2%, 12.2%, 16.2%).

World groups (ours): "conversational" is `world.conversations.dialogues` (pronoun follow-ups,
topic switches, a share of dialogues whose last turn is unanswerable, built the paper's way by
deleting the supporting text, answered with the refusal); a dialogue becomes one sample per
draw: its turns up to a uniformly drawn turn t, supervised on turn t (the last turn for an
unanswerable dialogue, whose context lacks the supporting text). "single_turn" is
`world.conversations.single_turn` with span answers (contextual short-span QA), "arithmetic"
its arithmetic items (the TAT-QA analogue: y2 - y1 or c1 + c2 computed from two facts of the
document).

Every sample is a pure function of (seed, step, position in the batch): `stage2(seed)(step, n)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import numpy as np

from paperzoo.chatqa.template import TRAINING_INSTRUCTIONS
from paperzoo.core.errors import ConfigError

# (weight, world group, instruction kind): the ChatQA-1.5 data card's weights (HF discussion #5).
SOURCES: dict[str, tuple[float, str, str]] = {
    "drop": (0.069, "single_turn", "short_span"),
    "narrqa": (0.095, "single_turn", "short_span"),
    "quoref": (0.026, "single_turn", "short_span"),
    "ropes": (0.026, "single_turn", "short_span"),
    "squad1.1": (0.095, "single_turn", "short_span"),
    "squad2.0": (0.095, "single_turn", "short_span"),
    "newsqa": (0.095, "single_turn", "short_span"),
    "tatqa-arith": (0.15, "arithmetic", "arithmetic"),
    "tatqa-other": (0.08, "single_turn", "span_or_full"),
    "synth_convqa": (0.3, "conversational", "convqa"),
    "sft": (0.2, "sft", "sft"),
}
GROUPS: tuple[str, ...] = ("conversational", "single_turn", "arithmetic", "sft")

# Pool sizes: how many distinct training items each group draws from (the paper's sizes where
# it gives them: 7k ConvQA dialogues, 128K SFT samples).
POOLS: dict[str, int] = {"conversational": 7000, "single_turn": 7000, "arithmetic": 3000, "sft": 128_000}
# The world draws an entity's facts per seed, and its 60 training entities are few: a decoder
# trained on one world seed can memorise their facts instead of reading the context (measured:
# tiny-ci at 1200 stage-2 steps, 5 F1 on held-out follow-ups). The pools therefore spread over
# WORLD_SEEDS fact draws (item j of a pool lives in world seed 1000 * seed + j mod WORLD_SEEDS),
# the analogue of the paper's 7k distinct documents; held-out entities are never in any of them.
WORLD_SEEDS = 12

STAGE1_MAX_TASKS = 3  # tasks per stage-1 conversation (1-3)


@dataclass(frozen=True)
class Sample:
    """One training (or evaluation) sample for the template: `messages` alternate user/assistant
    and end with the supervised answer; `context` is chunk texts (empty for SFT)."""

    messages: tuple[Mapping[str, str], ...]
    context: tuple[str, ...]
    instruction: str
    source: str
    group: str

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]


def normalised_weights(sources: Mapping[str, tuple[float, str, str]] = SOURCES) -> dict[str, float]:
    total = sum(w for w, _, _ in sources.values())
    return {name: w / total for name, (w, _, _) in sources.items()}


def group_weights(sources: Mapping[str, tuple[float, str, str]] = SOURCES) -> dict[str, float]:
    """The share of each world group after normalising the sources' weights."""
    out = {g: 0.0 for g in GROUPS}
    for name, p in normalised_weights(sources).items():
        out[sources[name][1]] += p
    return out


def _turns(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


# ---------------------------------------------------------------------------- the groups


def sft_sample(seed: int, index: int) -> Sample:
    """Stage-1 data: 1-3 instruction tasks as one conversation, empty context and instruction."""
    from paperzoo.world.instructions import tasks

    rng = np.random.default_rng([seed, 11, index])
    k = int(rng.integers(1, STAGE1_MAX_TASKS + 1))
    messages: list[dict] = []
    for task in tasks("ift", seed, k, start=int(rng.integers(0, POOLS["sft"] * STAGE1_MAX_TASKS))):
        messages += _turns(task.prompt, task.gold)
    return Sample(tuple(messages), (), "", "sft", "sft")


@lru_cache(maxsize=4096)
def _dialogue(split: str, seed: int, index: int, unanswerable: float):
    from paperzoo.world.conversations import dialogues

    return dialogues(split, seed, 1, start=index, unanswerable=unanswerable)[0]


def dialogue_samples(dialogue, turns: Sequence[int] | None = None, instruction: str = TRAINING_INSTRUCTIONS["convqa"],
                     source: str = "synth_convqa") -> list[Sample]:
    """Samples of a world dialogue ending at each turn in `turns` (default: every turn), with the
    dialogue's context chunks; the target is that turn's answer (the refusal if unanswerable)."""
    context = tuple(c.text for c in dialogue.context)
    out = []
    for t in range(len(dialogue.turns)) if turns is None else turns:
        messages: list[dict] = []
        for turn in dialogue.turns[: t + 1]:
            messages += _turns(turn.question, turn.answer)
        out.append(Sample(tuple(messages), context, instruction, source, "conversational"))
    return out


def world_item(seed: int, j: int, world_seeds: int = WORLD_SEEDS) -> tuple[int, int]:
    """(world seed, item index in that world) of item j of a training pool."""
    return 1000 * seed + j % world_seeds, j // world_seeds


def conversational_sample(seed: int, index: int, unanswerable: float, split: str = "train",
                          world_seeds: int = WORLD_SEEDS) -> Sample:
    rng = np.random.default_rng([seed, 12, index])
    d = _dialogue(split, *world_item(seed, int(rng.integers(0, POOLS["conversational"])), world_seeds), unanswerable)
    last = len(d.turns) - 1
    t = last if not d.turns[last].answerable else int(rng.integers(0, last + 1))
    return dialogue_samples(d, [t])[0]


@lru_cache(maxsize=4096)
def _single(split: str, seed: int, index: int, arithmetic: float):
    from paperzoo.world.conversations import single_turn

    return single_turn(split, seed, 1, start=index, arithmetic=arithmetic)[0]


def single_turn_sample(seed: int, index: int, source: str, split: str = "train", world_seeds: int = WORLD_SEEDS) -> Sample:
    rng = np.random.default_rng([seed, 13, index])
    qa = _single(split, *world_item(seed, int(rng.integers(0, POOLS["single_turn"])), world_seeds), 0.0)
    return single_turn_to_sample(qa, TRAINING_INSTRUCTIONS[SOURCES[source][2]], source)


def single_turn_to_sample(qa, instruction: str = TRAINING_INSTRUCTIONS["short_span"], source: str = "squad1.1") -> Sample:
    """A world single-turn QA item (question, answer, context chunks) as a sample."""
    context = tuple(c.text if hasattr(c, "text") else str(c) for c in qa.context)
    return Sample(tuple(_turns(qa.question, qa.answer)), context, instruction, source, "single_turn")


def arithmetic_sample(seed: int, index: int, split: str = "train", world_seeds: int = WORLD_SEEDS) -> Sample:
    """The TAT-QA analogue: a world document and a question whose answer is computed from two of
    its facts (y2 - y1 or c1 + c2), with the App. A.2 arithmetic instruction."""
    rng = np.random.default_rng([seed, 14, index])
    qa = _single(split, *world_item(seed, int(rng.integers(0, POOLS["arithmetic"])), world_seeds), 1.0)
    return Sample(tuple(_turns(qa.question, qa.answer)), tuple(c.text for c in qa.context),
                  TRAINING_INSTRUCTIONS["arithmetic"], "tatqa-arith", "arithmetic")


# ---------------------------------------------------------------------------- the blends


def sample_index(step: int, i: int) -> int:
    """A distinct item index for position i of step `step`'s batch (batches up to 1e6)."""
    return step * 1_000_003 + i


def draw_source(seed: int, index: int, names: Sequence[str], p: np.ndarray) -> str:
    """The source of sample `index`: one draw from the normalised weights `p` over `names`."""
    return names[int(np.random.default_rng([seed, 10, index]).choice(len(names), p=p))]


def stage1(seed: int) -> Callable[[int, int], list[Sample]]:
    """The stage-1 sample source: (step, n) -> n SFT samples, a pure function of (seed, step)."""

    def samples(step: int, n: int) -> list[Sample]:
        return [sft_sample(seed, sample_index(step, i)) for i in range(n)]

    return samples


def stage2(seed: int, unanswerable: float = 0.05, sources: Mapping[str, tuple[float, str, str]] | None = None,
           world_seeds: int = WORLD_SEEDS) -> Callable[[int, int], list[Sample]]:
    """The stage-2 sample source: (step, n) -> n samples drawn from the sources by weight.

    `sources`: the weights (default SOURCES); set a source's weight to 0 (or leave it out) for
    the ablations (w/o ConvQA data: synth_convqa 0; w/o single-turn; ...).
    `unanswerable`: the share of conversational dialogues whose last turn is unanswerable.
    `world_seeds`: how many of the world's fact draws the pools spread over (see WORLD_SEEDS).
    """
    src = dict(SOURCES if sources is None else sources)
    names = [k for k, (w, _, _) in src.items() if w > 0]
    if not names:
        raise ConfigError("stage-2 blend: every source has weight 0")
    unknown = set(src) - set(SOURCES)
    if unknown:
        raise ConfigError(f"stage-2 blend: unknown sources {sorted(unknown)}; known: {', '.join(SOURCES)}")
    p = np.array([src[k][0] for k in names], dtype=float)
    p /= p.sum()

    def one(step: int, i: int) -> Sample:
        index = sample_index(step, i)
        name = draw_source(seed, index, names, p)
        group = SOURCES[name][1]
        if group == "conversational":
            return conversational_sample(seed, index, unanswerable, world_seeds=world_seeds)
        if group == "single_turn":
            return single_turn_sample(seed, index, name, world_seeds=world_seeds)
        if group == "arithmetic":
            return arithmetic_sample(seed, index, world_seeds=world_seeds)
        return sft_sample(seed, index)

    def samples(step: int, n: int) -> list[Sample]:
        return [one(step, i) for i in range(n)]

    return samples


def pretraining(seed: int, split: str = "train", docs_per_text: int = 3, world_seeds: int = WORLD_SEEDS,
                ) -> Callable[[int, int], list[str]]:
    """The tiny decoder's foundation-model stage (card §5: "LM-pretrain on world text"; the paper
    starts from a pretrained LLM): (step, n) -> n texts, each `docs_per_text` documents of `split`
    (training entities only, over the pools' world seeds: held-out facts are never seen before
    evaluation) in a drawn order."""
    from paperzoo.world.conversations import corpus

    docs = [" ".join(c.text for c in d.chunks) for k in range(world_seeds)
            for d in corpus(split, world_item(seed, k, world_seeds)[0])]

    def texts(step: int, n: int) -> list[str]:
        out = []
        for i in range(n):
            rng = np.random.default_rng([seed, 16, sample_index(step, i)])
            out.append(" ".join(docs[int(j)] for j in rng.choice(len(docs), docs_per_text, replace=False)))
        return out

    return texts


def follow_up_eval(split: str, seed: int, n_dialogues: int, kinds: Sequence[str] = ("follow_up",), start: int = 0,
                   ) -> list[Sample]:
    """Held-out evaluation samples with gold context: each turn of kind in `kinds` ("first",
    "follow_up", "topic_switch") of `n_dialogues` answerable dialogues of `split`, with the
    history before it; the sample's last message is the gold answer."""
    from paperzoo.world.conversations import dialogues

    out = []
    for d in dialogues(split, seed, n_dialogues, start=start, unanswerable=0.0):
        turns = [t for t, turn in enumerate(d.turns) if turn.kind in kinds and turn.answerable]
        out += dialogue_samples(d, turns)
    return out
