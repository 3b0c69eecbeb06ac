"""ChatRAG-Bench scoring (ChatQA §5.3 "Evaluation Metrics", §6.5, Table 6), as the official
`evaluation/get_scores.py` + `metrics.py` of the nvidia/ChatRAG-Bench dataset repo compute it.

Per dataset (ChatQA §5.3):
    F1    token F1 after SQuAD normalisation (lower-case; punctuation -> space; a/an/the -> space;
          whitespace collapsed), the maximum over a record's non-empty references, averaged over
          records:   P = |g ∩ a| / |g|,  R = |g ∩ a| / |a|,  F1 = 2PR / (P + R)   (multiset ∩)
    EM    ours, not the official script's: normalised exact match, max over the same references
    ConvFinQA "EM"  the output counts as right when it *contains* the executed answer or the formula
          (after the official clean-up of commas, "$", "million"/"billion", "(word)")
Unanswerable (QuAC, DoQA, §6.5): an output that contains any of the official keyphrases
(`UNANSWERABLE_KEYPHRASES`) is replaced by the refusal sentence, before F1 and before
    "no"  accuracy on turns whose first reference is the refusal: the output says "sorry" and
          "cannot find the answer";
    "yes" accuracy on the other turns: it does not. QuAC's rule: an answerable turn counts only when
          the retrieved top-5 holds its gold chunk (the official script reads a fixed index list).
Avg-Both (Table 6 caption, card "Review" #1) has two levels: per dataset the mean of its "no" and
"yes" accuracies, then the mean over datasets (QuAC and DoQA): (77.66 + 83.85)/2 = 80.76 for QuAC,
(80.76 + 73.74)/2 = 77.25.

Every score here is in percent (the paper's unit; the official script prints fractions).
Inferred where the official code is silent or crashes (each named at its line): the official
script truncates the gold to the number of predictions (we refuse a count mismatch, in bench.py);
it divides by zero when a file has no unanswerable (or no counted answerable) turns (we report
None); DoQA's three domain files are one dataset whose scores are the mean of the three.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

REFUSAL = "Sorry. I cannot find the answer based on the context."

# The official list (evaluation_utils.unanswerable_keyphrases), matched as substrings of the
# lower-cased output, in this order (the first hit wins; order does not change the result).
UNANSWERABLE_KEYPHRASES: tuple[str, ...] = (
    "cannot find", "can't find", "not able to", "unable to", "does not provide",
    "cannot provide", "cannot answer", "couldnot answer", "can't answer", "couldn't answer",
    "cannot be found", "cannot be determined", "do not have", "couldn't find", "no information",
    "does not mention", "doesn't mention", "not explicitly mentioned", "not explicitly explain",
    "can not find", "could not find", "does not specify", "doesn't provide", "doesn't specify",
    "there is no", "not mentioned", "don't have", "don't know", "does not include",
    "doesn't include", "does not contain", "doesn't contain", "not provided",
    "does not indicate", "doesn't indicate", "does not disclose", "doesn't disclose",
)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# The official character class. Its `,-.` is a range (",", "-", "."), so the set is exactly
# string.punctuation; every such character becomes a space (so "don't" -> "don t").
_PUNCTUATION = re.compile(r"[!\"#$%&()*+,\-./:;<=>?@\[\]\\^`{|}~_']")


# ---- Token F1 and EM (metrics.py) ---------------------------------------------------------

def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation in the official order: lower, punctuation -> space, articles -> space, collapse."""
    text = _PUNCTUATION.sub(" ", text.lower())
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """F1 of one prediction against one non-empty reference, in [0, 1]. An empty prediction
    (before normalisation) scores 0; so does one that shares no token with the reference."""
    if prediction == "":
        return 0.0
    pred, gold = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(gold) & Counter(pred)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _usable(references: Sequence[str]) -> list[str]:
    # The official loop strips each reference and skips the empty ones.
    return [r.strip() for r in references if r.strip()]


def f1_score(prediction: str, references: Sequence[str]) -> float | None:
    """Max token F1 over the non-empty references, in [0, 1]; None when every reference is
    empty (the official script then leaves the record out of the mean)."""
    refs = _usable(references)
    return max(token_f1(prediction, r) for r in refs) if refs else None


def exact_match(prediction: str, references: Sequence[str]) -> float | None:
    """1.0 when the normalised prediction equals some normalised non-empty reference, else 0.0;
    None as in `f1_score`. (EM is ours: the official script computes F1 only.)"""
    refs = _usable(references)
    if not refs:
        return None
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(r) for r in refs))


def clean_prediction(prediction: str) -> str:
    """What compute_f1_score does to each output first: strip, then drop "</s>"."""
    return prediction.strip().replace("</s>", "")


# ---- Unanswerable turns (get_scores.py) ---------------------------------------------------

def map_refusal(prediction: str) -> str:
    """An output containing an official keyphrase becomes the refusal sentence; any other output
    is returned lower-cased (the official loop lower-cases every output it looks at)."""
    lowered = prediction.lower()
    return REFUSAL if any(k in lowered for k in UNANSWERABLE_KEYPHRASES) else lowered


def says_refusal(prediction: str) -> bool:
    """The official "cannot answer" test, applied after `map_refusal`: "sorry" and "cannot find the answer"."""
    lowered = map_refusal(prediction).lower()
    return "sorry" in lowered and "cannot find the answer" in lowered


def is_unanswerable(references: Sequence[str]) -> bool:
    """A gold turn is unanswerable when its first reference is exactly the refusal sentence."""
    return len(references) > 0 and references[0] == REFUSAL


# ---- ConvFinQA (get_scores.py: evaluate_convfinqa) ----------------------------------------

def _is_float(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def convfinqa_correct(prediction: str, exe_answer: float | int | str, formula: str, question: str) -> bool:
    """The official containment rule. `exe_answer` is the record's JSON value as loaded (its
    str() is what is searched for, so 80.0 and 80 differ), `formula` its first reference,
    `question` the content of its last message."""
    text = prediction.replace(",", "")                                   # 1,000,000 -> 1000000
    text = text.replace("$", "").replace("million", "").replace("billion", "")
    text = re.sub(r"\((\b\w+\b)\)", "", text)                            # 10 (2017) + 20 (2018) -> 10 + 20
    text = " ".join(text.split())
    gold = exe_answer
    if str(gold) in text or str(formula) in text:
        return True
    if _is_float(gold) and (str(round(float(gold), 3)) in text or str(round(float(gold), 2)) in text):
        return True
    if "percent" in question and _is_float(gold) and any(
            s in text for s in (str(float(gold) * 100), str(round(float(gold) * 100, 1)), str(round(float(gold) * 100, 2)))):
        return True
    # Inferred: the official `int(gold)` / `gold < 0` assume a JSON number (a string would raise
    # there); we read a numeric string as its number.
    if str(gold).endswith(".0") and _is_float(gold) and str(int(float(gold))) in text:
        return True
    if "decrease" in text and _is_float(gold) and float(gold) < 0:
        negated = -1 * gold if isinstance(gold, (int, float)) else -1 * float(gold)
        if str(negated) in text:
            return True
    return False


# ---- Per-dataset rules and scores ---------------------------------------------------------

@dataclass(frozen=True)
class DatasetRule:
    """How get_scores.py treats one benchmark file (it decides by substrings of the file names)."""

    name: str
    file: str                        # path under the benchmark's data folder
    metric: str = "f1"               # "f1" | "convfinqa"
    unanswerable: bool = False       # keyphrase mapping before F1, and the no/yes accuracies
    drop_refusal_references: bool = False   # INSCIT: the refusal was added to its answer lists
    answerable_needs_gold_context: bool = False   # QuAC: "yes" counts only turns whose top-5 holds the gold


RULES: dict[str, DatasetRule] = {r.name: r for r in [
    DatasetRule("doc2dial", "doc2dial/test.json"),
    DatasetRule("quac", "quac/test.json", unanswerable=True, answerable_needs_gold_context=True),
    DatasetRule("qrecc", "qrecc/test.json"),
    DatasetRule("topiocqa", "topiocqa/dev.json"),
    DatasetRule("inscit", "inscit/dev.json", drop_refusal_references=True),
    DatasetRule("coqa", "coqa/dev.json"),
    DatasetRule("doqa_cooking", "doqa/test_cooking.json", unanswerable=True),
    DatasetRule("doqa_travel", "doqa/test_travel.json", unanswerable=True),
    DatasetRule("doqa_movies", "doqa/test_movies.json", unanswerable=True),
    DatasetRule("convfinqa", "convfinqa/dev.json", metric="convfinqa"),
    DatasetRule("sqa", "sqa/test.json"),
    DatasetRule("hybridial", "hybridial/test.json"),
    # Our conversational world, written by bench.write_world: unanswerable turns carry the refusal;
    # with retrieved contexts, QuAC's rule applies (with the gold context it changes nothing).
    DatasetRule("world", "world/test.json", unanswerable=True, answerable_needs_gold_context=True),
]}

# The paper's ten datasets; DoQA is the mean of its three domain files (inferred: the paper
# reports one DoQA number and does not say how the domains are pooled).
BENCHMARK: dict[str, tuple[str, ...]] = {
    "doc2dial": ("doc2dial",), "quac": ("quac",), "qrecc": ("qrecc",), "topiocqa": ("topiocqa",),
    "inscit": ("inscit",), "coqa": ("coqa",), "hybridial": ("hybridial",),
    "doqa": ("doqa_cooking", "doqa_travel", "doqa_movies"), "sqa": ("sqa",), "convfinqa": ("convfinqa",),
}


@dataclass
class DatasetScore:
    """One file's scores, in percent. `score` is the dataset's number in the paper's tables:
    F1, or "EM" for ConvFinQA. Accuracies are None where the dataset has none (or no such turns)."""

    name: str
    n: int                                  # records scored
    score: float | None                     # F1 (or ConvFinQA's EM), the table number; None if no record has a reference
    metric: str                             # "F1" | "EM"
    f1: float | None = None
    em: float | None = None
    n_f1: int = 0                           # records in the F1 mean (references not all empty)
    unanswerable_acc: float | None = None   # "no"
    answerable_acc: float | None = None     # "yes"
    n_unanswerable: int = 0
    n_answerable: int = 0                   # answerable turns counted for "yes"
    notes: list[str] = field(default_factory=list)

    @property
    def avg_no_yes(self) -> float | None:
        """The per-dataset level of Avg-Both: the mean of "no" and "yes"."""
        if self.unanswerable_acc is None or self.answerable_acc is None:
            return None
        return (self.unanswerable_acc + self.answerable_acc) / 2

    def to_dict(self) -> dict:
        return {**asdict(self), "avg_no_yes": self.avg_no_yes}


def _mean(values: Sequence[float]) -> float | None:
    return 100 * math.fsum(values) / len(values) if values else None


def score_dataset(rule: DatasetRule | str, predictions: Sequence[str], answers: Sequence[Sequence[str]], *,
                  exe_answers: Sequence | None = None, questions: Sequence[str] | None = None,
                  gold_in_context: Sequence[bool | None] | None = None) -> DatasetScore:
    """Score one file's outputs against its references (same length, record order).

    `exe_answers` and `questions` (the last message of each record) are needed for ConvFinQA.
    `gold_in_context` (QuAC's rule): per record, whether the context the model saw held the gold
    chunk; None (or None entries) counts every answerable turn, as the official script does when
    it has no index list.
    """
    rule = RULES[rule] if isinstance(rule, str) else rule
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} gold records")
    if not answers:
        raise ValueError(f"{rule.name}: nothing to score (no records)")
    notes: list[str] = []
    if rule.metric == "convfinqa":
        if exe_answers is None or questions is None:
            raise ValueError("ConvFinQA needs exe_answers and questions")
        # The official loop uses each prediction line as read (stripped), without the "</s>" clean-up.
        right = [convfinqa_correct(p, exe, refs[0] if refs else "", q)
                 for p, exe, refs, q in zip(predictions, exe_answers, answers, questions)]
        em = _mean([float(r) for r in right])
        return DatasetScore(rule.name, len(predictions), em, "EM", em=em, notes=notes)

    refs_list = [list(refs) for refs in answers]
    if rule.drop_refusal_references:
        refs_list = [[r for r in refs if r != REFUSAL] for refs in refs_list]
    preds = [map_refusal(p) for p in predictions] if rule.unanswerable else list(predictions)
    preds = [clean_prediction(p) for p in preds]
    f1s = [v for v in (f1_score(p, refs) for p, refs in zip(preds, refs_list)) if v is not None]
    ems = [v for v in (exact_match(p, refs) for p, refs in zip(preds, refs_list)) if v is not None]
    f1, em = _mean(f1s), _mean(ems)
    result = DatasetScore(rule.name, len(predictions), f1, "F1", f1=f1, em=em,
                          n_f1=len(f1s), notes=notes)
    if len(f1s) < len(predictions):
        notes.append(f"{len(predictions) - len(f1s)} records with only empty references left out of F1 "
                     "(as the official script does)")
    if rule.unanswerable:
        no, yes = [], []
        for i, (p, refs) in enumerate(zip(predictions, answers)):
            if is_unanswerable(refs):
                no.append(float(says_refusal(p)))
            elif not (rule.answerable_needs_gold_context and gold_in_context is not None
                      and gold_in_context[i] is False):
                yes.append(float(not says_refusal(p)))
        result.unanswerable_acc, result.answerable_acc = _mean(no), _mean(yes)
        result.n_unanswerable, result.n_answerable = len(no), len(yes)
        if rule.answerable_needs_gold_context and gold_in_context is None:
            notes.append("answerable accuracy counts every answerable turn (no gold-in-context information given)")
    return result


# ---- Across datasets -------------------------------------------------------------------------

def avg_both(no_yes: Mapping[str, tuple[float, float]]) -> tuple[dict[str, float], float]:
    """Table 6's Avg-Both: per dataset (no + yes) / 2, then the mean of those over datasets.
    Returns (per-dataset means, Avg-Both)."""
    if not no_yes:
        raise ValueError("avg_both needs at least one dataset's (no, yes) accuracies")
    per = {name: (no + yes) / 2 for name, (no, yes) in no_yes.items()}
    return per, math.fsum(per.values()) / len(per)


def combine(scores: Mapping[str, DatasetScore]) -> dict:
    """The paper's view of a set of scored files: one number per benchmark dataset (DoQA the
    mean of its domains), "Average" over the datasets present, and Avg-Both over the datasets
    with no/yes accuracies (QuAC, DoQA, and our world)."""
    table: dict[str, float] = {}
    no_yes: dict[str, tuple[float, float]] = {}
    groups: list[tuple[str, list[DatasetScore]]] = []
    for name, parts in BENCHMARK.items():
        present = [scores[p] for p in parts if p in scores]
        if len(present) == len(parts):
            groups.append((name, present))
        else:   # a group with some files missing: each present file is its own row
            groups += [(s.name, [s]) for s in present]
    in_benchmark = {p for parts in BENCHMARK.values() for p in parts}
    groups += [(name, [s]) for name, s in scores.items() if name not in in_benchmark]
    for name, present in groups:
        if any(s.score is None for s in present):
            continue
        table[name] = math.fsum(s.score for s in present) / len(present)
        pairs = [(s.unanswerable_acc, s.answerable_acc) for s in present if s.avg_no_yes is not None]
        if pairs and len(pairs) == len(present):
            no_yes[name] = (math.fsum(p[0] for p in pairs) / len(pairs), math.fsum(p[1] for p in pairs) / len(pairs))
    out: dict = {"datasets": table, "average": math.fsum(table.values()) / len(table) if table else None}
    if no_yes:
        per, both = avg_both(no_yes)
        out["no_yes"] = {k: {"no": v[0], "yes": v[1], "avg": per[k]} for k, v in no_yes.items()}
        out["avg_both"] = both
    return out
