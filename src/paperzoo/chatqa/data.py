"""The generator's training data from local files (paper §3.1 stage 1, §3.2.3 stage 2): NVIDIA's
ChatQA-Training-Data release, or your own JSONL conversations, as the same sample source the
world blends give (`blends.py`): `(step, n) -> n blends.Sample`, a pure function of (seed, step,
position in the batch), so a resumed run draws exactly the batches it would have drawn.

ChatQA-Training-Data (huggingface.co/datasets/nvidia/ChatQA-Training-Data, checked out into
ROOT). One folder per source, each file a JSON list of records; the source's weight is the
ChatQA-1.5 card's (`blends.SOURCES`, HF discussion #5) and its {Instruction} the App. A.2 one of
its answer type (`template.TRAINING_INSTRUCTIONS`):

    file under ROOT                   source        weight  instruction (App. A.2)
    drop/train.json                   drop          .069    short span
    narrativeqa/train.json            narrqa        .095    short span
    quoref/train.json                 quoref        .026    short span
    ropes/train.json                  ropes         .026    short span
    squad1.1/train.json               squad1.1      .095    short span
    squad2.0/train.json               squad2.0      .095    short span
    newsqa/train.json                 newsqa        .095    short span
    tatqa/train_arithmetic.json       tatqa-arith   .150    number or arithmetic
    tatqa/train_others.json           tatqa-other   .080    short span, or full and complete
    synthetic_convqa/train.json       synth_convqa  .300    full and complete
    sft/train.json                    sft           .200    none (the stage-1 format)

A record: {"messages": [{"role": "user"|"assistant", "content": ...}, ..., the latest user
question], "document": the context (absent in sft), "answers": [...]}, and the latest answer is
`answers[0]`: a string, a list of reference strings (NarrativeQA: one is drawn per sample from
(seed, step, position)), or {"text": ...} (SQuAD). A record with no answer (answers empty, None,
or blank) is skipped and counted. A missing file is skipped with one warning naming it and the
weights are renormalised over the sources present (the release itself later removed newsqa/).
Stage 1 is the `sft` source; stage 2 is every source by weight, sft included ("all of SFT
datasets of stage-1 are blended in stage-2", §6.1.2). The release keeps the instructions out of
the records ("in stage-2 training, we add specific instructions", its README): they are added
here, and not a second time where a record's first question already starts with one (a guard,
ours). TAT-QA's tables come flattened inside `document` and are used as they are.

User JSONL (one conversation per line, blank lines skipped):

    {"messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}, ...],
     "context": str or [chunk, ...]    (or "document"; optional),
     "table": [[header, ...], [cell, ...], ...]   (optional: App. C.2 rows, `template.markdown_table`,
                                                   after the context),
     "instruction": str                (optional),
     "answers": [...]                  (optional: the latest answer as above; without it the
                                        messages end with the assistant's answer)}

Stage 1 takes the records without context (the SFT format), stage 2 every record, uniformly.
Without "instruction", a record with context gets the conversational one ("Please give a full
and complete answer ...") and one without gets none (inferred: the paper's user data has no
answer type). A malformed line is one InputError naming the file and the line. The file is read
once to check every line and keep its byte offset; a sample re-reads its line, so the decoded
text is never held in memory.

A release file is one JSON list, so it is parsed whole, once per process; only the fields used
are kept, and equal documents (SQuAD's several questions per paragraph) are stored once.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np

from paperzoo.chatqa.blends import SOURCES, Sample, draw_source, sample_index
from paperzoo.chatqa.template import INSTRUCTION_FULL, TRAINING_INSTRUCTIONS, markdown_table
from paperzoo.core.errors import InputError

# Where each source of blends.SOURCES lives in a ChatQA-Training-Data checkout.
RELEASE_FILES: dict[str, str] = {
    "drop": "drop/train.json",
    "narrqa": "narrativeqa/train.json",
    "quoref": "quoref/train.json",
    "ropes": "ropes/train.json",
    "squad1.1": "squad1.1/train.json",
    "squad2.0": "squad2.0/train.json",
    "newsqa": "newsqa/train.json",
    "tatqa-arith": "tatqa/train_arithmetic.json",
    "tatqa-other": "tatqa/train_others.json",
    "synth_convqa": "synthetic_convqa/train.json",
    "sft": "sft/train.json",
}
JSONL_SOURCE = "jsonl"
# An instruction already at the start of a record's first question (the App. A.2 texts and the
# release README's shortened forms all start so): not added a second time.
_INSTRUCTION_STARTS = ("answer the following question", "please give a full and complete answer")
_RECORD, _ANSWER = 18, 19  # random streams of (seed, stream, sample index); blends uses 10-16


class DataWarning(UserWarning):
    """Training data was skipped: a missing source, or records without an answer."""


class Record(NamedTuple):
    """One training conversation: `messages` as (role, content) pairs ending with the latest user
    question, `answers` the references of its latest answer (one is drawn per sample), `context`
    the chunk texts, `instruction` the record's own (None: its source's)."""

    messages: tuple[tuple[str, str], ...]
    answers: tuple[str, ...]
    context: tuple[str, ...]
    instruction: str | None = None


# ---------------------------------------------------------------------------- record fields


def answer_references(answers, where: str) -> tuple[str, ...]:
    """The latest answer's references from a record's "answers": answers[0] is a string, a list
    of strings (NarrativeQA) or {"text": a string or a list} (SQuAD); () when there is none."""
    if answers is None:
        return ()
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list):
        raise InputError(f"{where}: 'answers' is {type(answers).__name__}; expected a list whose first item is the "
                         "latest answer")
    if not answers:
        return ()
    first = answers[0]
    if isinstance(first, dict):
        if "text" not in first:
            raise InputError(f"{where}: answers[0] is an object without 'text'; expected {{\"text\": ...}} (SQuAD)")
        first = first["text"]
    if first is None:
        return ()
    refs = [first] if isinstance(first, str) else first
    if not isinstance(refs, list) or not all(isinstance(a, str) for a in refs):
        raise InputError(f"{where}: answers[0] is {type(first).__name__}; expected a string, a list of strings "
                         "or {\"text\": ...}")
    return tuple(a.strip() for a in refs if a.strip())


def _messages(raw, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}: 'messages' must be a non-empty list of {{\"role\", \"content\"}}")
    out = []
    for i, m in enumerate(raw):
        expected = "user" if i % 2 == 0 else "assistant"
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise InputError(f"{where}: messages[{i}] must be {{\"role\": \"user\"|\"assistant\", \"content\": str}}")
        if m.get("role") != expected:
            raise InputError(f"{where}: messages[{i}] has role {m.get('role')!r}; expected {expected!r} "
                             "(turns alternate, starting with the user)")
        out.append((expected, m["content"].strip()))
    return tuple(out)


def _conversation(raw: Mapping, where: str, answers_required: bool):
    """(messages up to the latest question, answer references) of a record, or None when it has
    no answer and `answers_required` is False (a release record: skipped and counted)."""
    messages = _messages(raw.get("messages"), where)
    given = raw.get("answers")
    if messages[-1][0] == "assistant":
        if answer_references(given, where):
            raise InputError(f"{where}: the messages end with the assistant's answer and 'answers' gives one too; "
                             "give the latest answer once")
        return messages[:-1], (messages[-1][1],) if messages[-1][1] else ()
    refs = answer_references(given, where)
    if not refs and answers_required:
        raise InputError(f"{where}: no latest answer: end the messages with the assistant's answer, or give 'answers'")
    return messages, refs


def _context(raw: Mapping, where: str) -> tuple[str, ...]:
    value = raw.get("context", raw.get("document"))
    if value is None:
        chunks: list[str] = []
    elif isinstance(value, str):
        chunks = [value]
    elif isinstance(value, list) and all(isinstance(c, str) for c in value):
        chunks = list(value)
    else:
        raise InputError(f"{where}: the context ('context' or 'document') must be a string or a list of strings")
    table = raw.get("table")
    if table is not None:
        if not isinstance(table, list) or not all(isinstance(r, list) for r in table):
            raise InputError(f"{where}: 'table' must be a list of rows (lists), the header row first")
        try:
            chunks.append(markdown_table(table))
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
    return tuple(c.strip() for c in chunks if c.strip())


def release_record(raw, where: str, documents: dict[str, str] | None = None) -> Record | None:
    """A ChatQA-Training-Data record, or None when it has no answer. `documents` interns equal
    documents (one string for every question of a paragraph)."""
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected an object with messages and answers, got {type(raw).__name__}")
    conv = _conversation(raw, where, answers_required=False)
    if not conv[1]:
        return None
    context = _context({"document": raw.get("document")}, where)
    if documents is not None:
        context = tuple(documents.setdefault(c, c) for c in context)
    return Record(conv[0], conv[1], context)


def jsonl_record(raw, where: str) -> Record:
    """A user JSONL record (see the module docstring)."""
    if not isinstance(raw, dict):
        hint = " (a JSON list? expected one JSON object per line)" if isinstance(raw, list) else ""
        raise InputError(f"{where}: expected a JSON object with \"messages\", got {type(raw).__name__}{hint}")
    messages, refs = _conversation(raw, where, answers_required=True)
    if not refs:
        raise InputError(f"{where}: the latest answer is empty")
    instruction = raw.get("instruction")
    if instruction is not None and not isinstance(instruction, str):
        raise InputError(f"{where}: 'instruction' must be a string")
    return Record(messages, refs, _context(raw, where), instruction)


# ---------------------------------------------------------------------------- stores


class _Loaded:
    """A source's records held in memory (a release file)."""

    def __init__(self, records: list[Record]):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, i: int) -> Record:
        return self.records[i]


class _JsonlLines:
    """A JSONL file's kept lines by byte offset: a record is decoded when it is drawn."""

    def __init__(self, path: Path, offsets: np.ndarray, lines: np.ndarray):
        self.path, self.offsets, self.lines = path, offsets, lines

    def __len__(self) -> int:
        return len(self.offsets)

    def get(self, i: int) -> Record:
        with open(self.path, "rb") as f:
            f.seek(int(self.offsets[i]))
            line = f.readline()
        return jsonl_record(json.loads(line), f"{self.path}:{int(self.lines[i])}")


def _check_not_lfs_pointer(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"version https://git-lfs"):
        raise InputError(f"{path} is a Git LFS pointer, not the data; fetch the files (git lfs pull) and run again")


def read_release_file(path: str | Path) -> tuple[list[Record], int]:
    """(the records with an answer, how many were skipped without one) of one release JSON file;
    a malformed record is one InputError naming the file and the record's index."""
    path = Path(path)
    _check_not_lfs_pointer(path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a JSON file ({err})") from None
    if not isinstance(raw, list):
        raise InputError(f"{path}: expected a JSON list of records, got {type(raw).__name__}")
    documents: dict[str, str] = {}
    records, skipped = [], 0
    for i in range(len(raw)):
        rec = release_record(raw[i], f"{path}: record {i}", documents)
        raw[i] = None  # free the decoded record as we go
        if rec is None:
            skipped += 1
        else:
            records.append(rec)
    return records, skipped


def index_jsonl(path: str | Path, keep: Callable[[Record], bool] = lambda r: True) -> tuple[_JsonlLines, int]:
    """Check every line of a JSONL file and index those whose record passes `keep`:
    (the index, how many valid records `keep` left out)."""
    path = Path(path)
    offsets, lines, left_out, offset = [], [], 0, 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                raw = json.loads(line)
            except UnicodeDecodeError as err:
                raise InputError(f"{where}: not UTF-8 text ({err.reason})") from None
            except json.JSONDecodeError as err:
                hint = " (a JSON list? expected one JSON object per line)" if number == 1 and line.lstrip()[:1] == b"[" else ""
                raise InputError(f"{where}: not a JSON object ({err.msg}){hint}") from None
            if keep(jsonl_record(raw, where)):
                offsets.append(start)
                lines.append(number)
            else:
                left_out += 1
    return _JsonlLines(path, np.array(offsets, dtype=np.int64), np.array(lines, dtype=np.int64)), left_out


# ---------------------------------------------------------------------------- the sampler


class Source(NamedTuple):
    name: str          # a blends.SOURCES name, or "jsonl"
    group: str         # blends' group ("conversational", "single_turn", "arithmetic", "sft"); per record for JSONL
    instruction: str   # the App. A.2 instruction of its answer type
    weight: float
    records: object    # _Loaded or _JsonlLines: len() and get(i) -> Record


class TrainingData:
    """A stage's sample source over local data: `(step, n) -> n Samples`.

    Sample `index = blends.sample_index(step, i)` draws its source by the normalised weights
    (`blends.draw_source`, the world blends' draw), then a record uniformly from that source and,
    where the record has several references, one of them, all from (seed, index): the same
    data and seed give the same batch at every step, in every process, after every resume.
    """

    def __init__(self, sources: Sequence[Source], seed: int, where: str, skipped: Mapping[str, int] | None = None):
        sources = [s for s in sources if s.weight > 0 and len(s.records) > 0]
        if not sources:
            raise InputError(f"{where}: no training records")
        self.sources = {s.name: s for s in sources}
        self.names = [s.name for s in sources]
        self.p = np.array([s.weight for s in sources], dtype=float)
        self.p /= self.p.sum()
        self.seed, self.where = seed, where
        self.skipped = dict(skipped or {})

    @property
    def weights(self) -> dict[str, float]:
        """The normalised sampling weight of each source present."""
        return dict(zip(self.names, self.p.tolist()))

    def subset(self, names: Sequence[str]) -> "TrainingData":
        """The same records restricted to `names` (e.g. stage 1's sft out of a loaded stage 2)."""
        return TrainingData([self.sources[n] for n in names if n in self.sources], self.seed, self.where,
                            {n: k for n, k in self.skipped.items() if n in names})

    def sample(self, index: int) -> Sample:
        src = self.sources[draw_source(self.seed, index, self.names, self.p)]
        rng = np.random.default_rng([self.seed, _RECORD, index])
        rec = src.records.get(int(rng.integers(len(src.records))))
        answer = rec.answers[int(np.random.default_rng([self.seed, _ANSWER, index]).integers(len(rec.answers)))]
        instruction = rec.instruction
        if instruction is None:
            first = rec.messages[0][1].lower()
            instruction = "" if first.startswith(_INSTRUCTION_STARTS) else src.instruction
        group = src.group if src.name != JSONL_SOURCE else ("conversational" if rec.context else "sft")
        messages = tuple({"role": r, "content": c} for r, c in rec.messages)
        return Sample(messages + ({"role": "assistant", "content": answer},), rec.context, instruction,
                      src.name, group)

    def __call__(self, step: int, n: int) -> list[Sample]:
        return [self.sample(sample_index(step, i)) for i in range(n)]

    def summary(self) -> str:
        """One line per source: its records and its share of the draws."""
        lines = [f"{self.where}:"]
        for name, p in self.weights.items():
            skipped = f", {self.skipped[name]:,} without an answer skipped" if self.skipped.get(name) else ""
            lines.append(f"  {name:<13} {len(self.sources[name].records):>9,} records  {100 * p:5.1f}% of draws{skipped}")
        return "\n".join(lines)


def _release_source(name: str, records: object) -> Source:
    weight, group, kind = SOURCES[name]
    return Source(name, group, TRAINING_INSTRUCTIONS[kind], weight, records)


def load_release(root: str | Path, seed: int = 0, sources: Sequence[str] | None = None) -> TrainingData:
    """A ChatQA-Training-Data checkout as a sample source over `sources` (default: all, stage 2)
    by the card's weights, renormalised over the files present (one DataWarning per missing one)."""
    root = Path(root)
    names = list(RELEASE_FILES) if sources is None else list(sources)
    unknown = [n for n in names if n not in RELEASE_FILES]
    if unknown:
        raise InputError(f"unknown ChatQA-Training-Data sources {unknown}; known: {', '.join(RELEASE_FILES)}")
    if not root.is_dir():
        raise InputError(f"{root}: no such ChatQA-Training-Data folder")
    present = [n for n in names if (root / RELEASE_FILES[n]).is_file()]
    if not present:
        expected = ", ".join(RELEASE_FILES[n] for n in names)
        raise InputError(f"{root}: none of the ChatQA-Training-Data files is here; expected {expected} "
                         "(a local checkout of huggingface.co/datasets/nvidia/ChatQA-Training-Data)")
    for n in names:
        if n not in present:
            warnings.warn(f"{root}: no {RELEASE_FILES[n]}; source {n} is left out and the other weights renormalised",
                          DataWarning, stacklevel=2)
    loaded, skipped = [], {}
    for n in present:
        records, skipped[n] = read_release_file(root / RELEASE_FILES[n])
        loaded.append(_release_source(n, _Loaded(records)))
    if any(skipped.values()):
        counts = ", ".join(f"{n}: {k:,}" for n, k in skipped.items() if k)
        warnings.warn(f"{root}: skipped records without an answer ({counts})", DataWarning, stacklevel=2)
    return TrainingData(loaded, seed, f"ChatQA-Training-Data at {root}", skipped)


def load_jsonl(path: str | Path, seed: int = 0, stage: int = 2) -> TrainingData:
    """A user JSONL file as a sample source: stage 1 its records without context, stage 2 all,
    drawn uniformly."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such JSONL file")
    if stage == 1:
        index, left_out = index_jsonl(path, keep=lambda r: not r.context)
        if left_out:
            warnings.warn(f"{path}: stage 1 (SFT) leaves out {left_out:,} records with a context", DataWarning,
                          stacklevel=2)
    else:
        index, left_out = index_jsonl(path)
    if len(index) == 0:
        what = "records without a context (stage 1's SFT format)" if stage == 1 else "records"
        raise InputError(f"{path}: no {what}; expected one {{\"messages\": [...]}} conversation per line")
    # The source's default instruction; a record's own "instruction" wins, and a record without
    # context (the SFT format) gets none: resolved per record in `_JsonlSource`.
    return TrainingData([Source(JSONL_SOURCE, "conversational", INSTRUCTION_FULL, 1.0, _JsonlSource(index))], seed,
                        f"JSONL {path} (stage {stage})")


class _JsonlSource:
    """JSONL records with their defaults filled in: no instruction for a record without context."""

    def __init__(self, lines: _JsonlLines):
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def get(self, i: int) -> Record:
        rec = self.lines.get(i)
        return rec if rec.instruction is not None or rec.context else rec._replace(instruction="")


# ---------------------------------------------------------------------------- the stages


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; expected a ChatQA-Training-Data folder or a JSONL file")
    return path


def stage1(path: str | Path, seed: int = 0) -> TrainingData:
    """Stage 1 (§3.1, SFT) from PATH: a ChatQA-Training-Data folder (its sft/) or a JSONL file
    (its records without context)."""
    path = _existing(path)
    return load_release(path, seed, ["sft"]) if path.is_dir() else load_jsonl(path, seed, stage=1)


def stage2(path: str | Path, seed: int = 0) -> TrainingData:
    """Stage 2 (§3.2.3) from PATH: a ChatQA-Training-Data folder (every source by the card's
    weights, sft included) or a JSONL file (every record)."""
    path = _existing(path)
    return load_release(path, seed) if path.is_dir() else load_jsonl(path, seed, stage=2)


def stage_sources(seed: int, data: str | Path | None = None, sft_data: str | Path | None = None,
                  unanswerable: float = 0.05, stages: Sequence[str] = ("1", "2")):
    """(stage-1 source or None, stage-2 source or None) for the `train` commands.

    Stage 2: `data` (a release folder or a JSONL), else the world blend (`blends.stage2`).
    Stage 1: `sft_data`, else the release's sft/ when `data` is a release folder (the paper's
    stage-1 data, the one blended into stage 2), else the world's SFT tasks (`blends.stage1`),
    with a DataWarning when `data` was given. `unanswerable` applies to the world blend only
    (the release's conversations carry their own unanswerable turns).
    """
    from paperzoo.chatqa import blends

    s1 = s2 = None
    if "2" in stages:
        s2 = stage2(data, seed) if data is not None else blends.stage2(seed, unanswerable)
    if "1" in stages:
        if sft_data is not None:
            s1 = stage1(sft_data, seed)
        elif data is not None and Path(data).is_dir() and (Path(data) / RELEASE_FILES["sft"]).is_file():
            s1 = s2.subset(["sft"]) if isinstance(s2, TrainingData) and "sft" in s2.sources else stage1(data, seed)
        else:
            if data is not None:
                why = f"no {RELEASE_FILES['sft']} in {data}" if Path(data).is_dir() else f"{data} is stage 2's data"
                warnings.warn(f"stage 1 trains on the world's SFT tasks ({why}); pass --sft-data (a JSONL or a "
                              "ChatQA-Training-Data folder) or train stage 2 only", DataWarning, stacklevel=2)
            s1 = blends.stage1(seed)
    return s1, s2
