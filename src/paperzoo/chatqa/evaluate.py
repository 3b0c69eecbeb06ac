"""Scoring a generator (and a retriever + generator) on the conversational world the way
ChatRAG-Bench is scored (§5, App. C): every turn of held-out dialogues becomes a benchmark
record (`bench.world_bench`), the model answers it greedily, and `scoring.score_records` gives
F1, the unanswerable ("no") and answerable ("yes") accuracies and their mean, the per-dataset
level of Avg-Both (Table 6).

Besides the all-turn F1 the report needs F1 by turn kind: "follow_up" turns (pronouns, the
history matters) are the card's headline measure; "first" turns name their entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from paperzoo.chatqa.bench import score_records, world_bench
from paperzoo.chatqa.scoring import f1_score, says_refusal
from paperzoo.chatqa.template import TRAINING_INSTRUCTIONS


@dataclass(frozen=True)
class WorldEval:
    """Held-out evaluation dialogues: `unanswerable` of them end with an unanswerable turn
    (the QuAC / DoQA analogue for the no / yes accuracies)."""

    split: str = "test"
    seed: int = 0
    dialogues: int = 200
    unanswerable: float = 0.3

    def load(self):
        from paperzoo.world.conversations import dialogues

        return dialogues(self.split, self.seed, self.dialogues, unanswerable=self.unanswerable)


def _mean(values: Sequence[float]) -> float | None:
    return 100.0 * sum(values) / len(values) if values else None


def evaluate_answers(dialogues: Sequence, answers: Sequence[str], contexts: Sequence[Sequence] | None = None) -> dict:
    """Scores (percent) of `answers`, one per turn of `dialogues` in order; `contexts` the chunks
    each turn was given (None: each dialogue's own context, the gold-context setting)."""
    records = world_bench(dialogues, contexts)
    overall = score_records("world", list(answers), records, source="world answers")
    turns = [t for d in dialogues for t in d.turns]
    by_kind: dict[str, list[float]] = {}
    for turn, answer in zip(turns, answers):
        if turn.answerable:
            by_kind.setdefault(turn.kind, []).append(f1_score(answer, [turn.answer]) or 0.0)
    refused = [says_refusal(a) for a in answers]
    return {
        "f1": overall.f1, "em": overall.em,
        "f1_by_kind": {k: _mean(v) for k, v in sorted(by_kind.items())},
        "n_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        "no": overall.unanswerable_acc, "yes": overall.answerable_acc, "avg_no_yes": overall.avg_no_yes,
        "n_unanswerable": overall.n_unanswerable, "n_answerable": overall.n_answerable,
        "refusal_rate": _mean([float(r) for r in refused]), "turns": len(turns),
    }


def turn_samples(dialogues: Sequence, contexts: Sequence[Sequence] | None = None,
                 instruction: str = TRAINING_INSTRUCTIONS["convqa"]) -> list[tuple[list[dict], list[str], str]]:
    """(messages ending with the turn's question, context chunk texts, instruction) per turn."""
    out, k = [], 0
    for d in dialogues:
        history: list[dict] = []
        for turn in d.turns:
            history.append({"role": "user", "content": turn.question})
            chunks = d.context if contexts is None else contexts[k]
            out.append((list(history), [c.text for c in chunks], instruction))
            history.append({"role": "assistant", "content": turn.answer})
            k += 1
    return out


def evaluate_generator(generator, dialogues: Sequence, contexts: Sequence[Sequence] | None = None, *,
                       max_new_tokens: int = 24, batch_size: int = 64) -> dict:
    """Greedy answers of `generator` to every turn, scored by `evaluate_answers`; the first few
    (question, answer, gold) triples are kept for the report."""
    samples = turn_samples(dialogues, contexts)
    answers = generator.answer_batch(samples, max_new_tokens=max_new_tokens, batch_size=batch_size)
    scores = evaluate_answers(dialogues, answers, contexts)
    gold = [t.answer for d in dialogues for t in d.turns]
    scores["examples"] = [(s[0][-1]["content"], a, g) for s, a, g in list(zip(samples, answers, gold))[:6]]
    return scores
