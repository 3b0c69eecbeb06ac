"""ChatRAG-Bench files (ChatQA §5, App. C): read the benchmark's JSON, read predictions, score
them, and write our conversational world in the same layout so both go through one scorer.

A benchmark file is a JSON list of records, one per user turn:
    {"messages": [{"role": "user"|"assistant", "content": ...}, ...],   # the history, last = the question
     "ctxs": [{"title": ..., "text": ...}, ...],                        # the context (gold or retrieved chunks)
     "answers": [...],                                                  # references (ConvFinQA: [formula])
     "exe_answer": 12.5}                                                # ConvFinQA only: the executed number
The ten datasets sit under a data folder with the official names (`scoring.RULES[...].file`, e.g.
`doqa/test_cooking.json`). Predictions are one answer per line, read as get_scores.py reads them
(`readlines()`, each line stripped), or JSONL (`{"answer": ...}` per line) for a `.jsonl` file.

Our world's records (`write_world`) add "id", a "gold_chunk" id and an "id" per ctx, so QuAC's
rule (answerable turns count when the context held the gold chunk) can be applied to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.chatqa.scoring import REFUSAL, RULES, DatasetRule, DatasetScore, score_dataset


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Context:
    title: str
    text: str
    id: str | None = None            # our world's chunk id; absent in the released files


@dataclass(frozen=True)
class BenchRecord:
    """One ChatRAG-Bench record (one user turn with its history, context and references)."""

    messages: tuple[Message, ...]
    ctxs: tuple[Context, ...]
    answers: tuple[str, ...]
    exe_answer: float | int | str | None = None   # ConvFinQA: kept as the JSON value (its str() is matched)
    id: str | None = None
    gold_chunk: str | None = None                 # our world: the supporting chunk's id (None: unanswerable)

    @property
    def question(self) -> str:
        """The last message's content (what the official ConvFinQA rule reads as the question)."""
        return self.messages[-1].content

    @property
    def gold_in_context(self) -> bool | None:
        """Whether the context holds the gold chunk; None when the record does not say (released files)."""
        if self.gold_chunk is None or any(c.id is None for c in self.ctxs):
            return None
        return any(c.id == self.gold_chunk for c in self.ctxs)


# ---- Reading the benchmark -----------------------------------------------------------------

def _record(raw, where: str, needs_exe: bool) -> BenchRecord:
    def bad(what: str) -> InputError:
        return InputError(f"{where}: {what}")

    if not isinstance(raw, dict):
        raise bad(f"expected an object with messages, ctxs and answers, got {type(raw).__name__}")
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("'messages' must be a non-empty list of {role, content}")
    parsed = []
    for j, m in enumerate(messages):
        if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
            raise bad(f"messages[{j}] must be {{\"role\": str, \"content\": str}}")
        parsed.append(Message(m["role"], m["content"]))
    ctxs = raw.get("ctxs")
    if not isinstance(ctxs, list):
        raise bad("'ctxs' must be a list of {title, text}")
    contexts = []
    for j, c in enumerate(ctxs):
        if not (isinstance(c, dict) and isinstance(c.get("text"), str) and isinstance(c.get("title", ""), str)):
            raise bad(f"ctxs[{j}] must be {{\"title\": str, \"text\": str}}")
        contexts.append(Context(c.get("title", ""), c["text"], c.get("id") if isinstance(c.get("id"), str) else None))
    # As load_groundtruth_file: "answers" (a list), else "answer" (a string, a list, or str() of anything else).
    if "answers" in raw:
        answers = raw["answers"]
    elif "answer" in raw:
        one = raw["answer"]
        answers = one if isinstance(one, list) else [one if isinstance(one, str) else str(one)]
    else:
        raise bad("needs 'answers' (a list of strings)")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise bad("'answers' must be a non-empty list of strings")
    exe = raw.get("exe_answer")
    if needs_exe and (exe is None or isinstance(exe, bool) or not isinstance(exe, (int, float, str))):
        raise bad("ConvFinQA records need 'exe_answer' (the executed number)")
    gold, rid = raw.get("gold_chunk"), raw.get("id")
    return BenchRecord(tuple(parsed), tuple(contexts), tuple(answers), exe,
                       rid if isinstance(rid, str) else None, gold if isinstance(gold, str) else None)


def load_gold(path: str | Path, rule: DatasetRule | str | None = None) -> list[BenchRecord]:
    """Read one benchmark JSON file; a malformed record raises InputError naming the file and its index."""
    path = Path(path)
    rule = RULES[rule] if isinstance(rule, str) else rule
    if not path.is_file():
        raise InputError(f"{path}: no such benchmark file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a JSON file ({err})") from None
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: expected a non-empty JSON list of records")
    needs_exe = rule is not None and rule.metric == "convfinqa"
    return [_record(raw, f"{path}: record {i}", needs_exe) for i, raw in enumerate(data)]


def load_predictions(path: str | Path) -> list[str]:
    """One answer per line, as get_scores.py reads them (`readlines()`, each stripped), or, for a
    `.jsonl` file, one `{"answer": str}` object per line (blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such predictions file")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err})") from None
    if path.suffix.lower() != ".jsonl":
        return [line.strip() for line in lines]
    answers = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: line {number} is not JSON ({err.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("answer"), str):
            raise InputError(f"{path}: line {number} must be an object with a string 'answer'")
        answers.append(row["answer"].strip())
    return answers


def dataset_of(path: str | Path) -> str | None:
    """The dataset a benchmark file belongs to, from its official relative path (e.g.
    .../doqa/test_cooking.json -> doqa_cooking); None when the path does not say."""
    parts = Path(path).parts
    for name, rule in RULES.items():
        tail = tuple(Path(rule.file).parts)
        if parts[-len(tail):] == tail:
            return name
    return None


def gold_file(gold: str | Path, dataset: str | None) -> tuple[Path, str]:
    """Resolve GOLD (a file, or a data folder with the official layout) and the dataset name."""
    gold = Path(gold)
    if dataset is not None and dataset not in RULES:
        raise InputError(f"--dataset {dataset!r}: expected one of {', '.join(RULES)}")
    if gold.is_dir():
        if dataset is None:
            raise InputError(f"{gold} is a folder: name the dataset with --dataset ({', '.join(RULES)})")
        path = gold / RULES[dataset].file
        if not path.is_file():
            raise InputError(f"{gold}: no {RULES[dataset].file} in this folder (the official layout)")
        return path, dataset
    if not gold.exists():
        raise InputError(f"{gold}: no such benchmark file or folder")
    name = dataset or dataset_of(gold)
    if name is None:
        raise InputError(f"{gold}: cannot tell the dataset from the file name; give --dataset ({', '.join(RULES)})")
    return gold, name


def score_records(dataset: str, predictions: Sequence[str], records: Sequence[BenchRecord], *,
                  source: str = "predictions", gold_in_context: Sequence[bool | None] | None = None) -> DatasetScore:
    """Score predictions against loaded records; a count mismatch raises InputError with both counts
    (the official script silently cut the gold to the predictions' length)."""
    if len(predictions) != len(records):
        raise InputError(f"{source}: {len(predictions)} predictions for {len(records)} gold records; expected one per record")
    if gold_in_context is None and any(r.gold_in_context is not None for r in records):
        gold_in_context = [r.gold_in_context for r in records]
    return score_dataset(dataset, predictions, [r.answers for r in records],
                         exe_answers=[r.exe_answer for r in records], questions=[r.question for r in records],
                         gold_in_context=gold_in_context)


def quac_gold_in_context(ordinals: Iterable[int], records: Sequence[BenchRecord]) -> list[bool | None]:
    """The official QuAC list (`quac_correct_retrieved_instance_idx_list`: positions among the
    *answerable* turns whose top-5 held the gold) as a per-record mask for `score_records`."""
    keep, out, k = set(ordinals), [], 0
    for r in records:
        if r.answers[0] == REFUSAL:
            out.append(None)
        else:
            out.append(k in keep)
            k += 1
    return out


def score_file(predictions: str | Path, gold: str | Path, dataset: str | None = None,
               quac_ordinals: Iterable[int] | None = None) -> DatasetScore:
    """`paperzoo chatqa score PRED GOLD`: read both, check they line up, score."""
    path, name = gold_file(gold, dataset)
    records = load_gold(path, name)
    preds = load_predictions(predictions)
    mask = quac_gold_in_context(quac_ordinals, records) if quac_ordinals is not None else None
    return score_records(name, preds, records, source=str(predictions), gold_in_context=mask)


# ---- Our world in the same layout ----------------------------------------------------------

def world_records(dialogues: Sequence, contexts: Sequence[Sequence] | None = None) -> list[dict]:
    """ChatRAG-style records for `paperzoo.world.conversations` dialogues: one per turn, the
    history as alternating user/assistant messages ending with the turn's question, the context
    chunks as ctxs (title = the chunk's document), and the turn's reply as the one reference.

    contexts: optional, one chunk list per record in order (e.g. a retriever's top-k); default is
    each dialogue's own context (the gold-context setting).
    """
    records: list[dict] = []
    for dialogue in dialogues:
        history: list[dict] = []
        for k, turn in enumerate(dialogue.turns):
            history.append({"role": "user", "content": turn.question})
            records.append({"id": f"{dialogue.id}/{k}", "messages": list(history),
                            "ctxs": [{"title": c.doc, "text": c.text, "id": c.id} for c in dialogue.context],
                            "answers": [turn.answer], "gold_chunk": turn.gold_chunk})
            history.append({"role": "assistant", "content": turn.answer})
    if contexts is not None:
        if len(contexts) != len(records):
            raise InputError(f"world_records: {len(contexts)} context lists for {len(records)} turns")
        for record, chunks in zip(records, contexts):
            record["ctxs"] = [{"title": c.doc, "text": c.text, "id": c.id} for c in chunks]
    return records


def world_bench(dialogues: Sequence, contexts: Sequence[Sequence] | None = None) -> list[BenchRecord]:
    """`world_records` read back as BenchRecords (what `load_gold` gives for the written file),
    for scoring a run in memory: `score_records("world", answers, world_bench(dialogues))`."""
    return [_record(raw, f"world record {i}", False) for i, raw in enumerate(world_records(dialogues, contexts))]


def write_world(folder: str | Path, dialogues: Sequence, contexts: Sequence[Sequence] | None = None) -> Path:
    """Write FOLDER/world/test.json (atomically), scored by `score_file(..., dataset="world")`."""
    records = world_records(dialogues, contexts)
    if not records:
        raise InputError("write_world: no dialogues to write")
    target = Path(folder) / RULES["world"].file
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return target


def write_predictions(path: str | Path, answers: Sequence[str]) -> Path:
    """Write predictions one per line, as get_scores.py reads them. A newline inside an answer
    would shift every later line, so answers are written with their whitespace collapsed."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(" ".join(a.split()) + "\n" for a in answers), encoding="utf-8")
    return path
