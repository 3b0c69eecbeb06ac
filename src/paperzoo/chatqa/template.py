"""The ChatQA prompt template and instructions (paper App. A; §3.1, §3.2.3; App. C.2 tables, C.3.1).

Stage 1 (App. A.1) and stage 2 (App. A.2) share one layout. Written out for a two-turn
conversation with context (stage 2):

    System: This is a chat between a user and an artificial intelligence assistant. The
    assistant gives helpful, detailed, and polite answers to the user's questions based on
    the context. The assistant should also indicate when the answer cannot be found in the
    context.\\n\\n
    {Context for Latest Question}\\n\\n
    User: {Instruction} {Question 1}\\n\\n
    Assistant: {Answer 1}\\n\\n
    User: {Latest Question}\\n\\n
    Assistant:

(the system text is ONE line; the paper's verbatim box wraps it at its width). The model's
output follows "Assistant:" after one space, and the loss is on "the Latest Answer from
Assistant" only (App. A.1; `supervise="last"`; `supervise="all"` also puts it on every
earlier answer, a flag of ours). The instruction is prefixed to the FIRST user turn only.

Where the paper is ambiguous, and what we do:
- Line breaks inside the system prompt are the verbatim box's wrapping: we join them with
  single spaces (as NVIDIA's ChatQA model cards write the prompt), and write "user's" with an
  ASCII apostrophe (the PDF typesets ’).
- "{Instruction} + {Question 1}": "+" is concatenation; we join with one space (as the cards do).
- Blocks are separated by one blank line ("\\n\\n"); the template's "..." stands for further
  User/Assistant pairs in the same layout.
- Stage-1 samples have empty Context and Instruction (App. A.2, last paragraph). We then
  leave the context block out entirely, so the system prompt is followed by ONE blank line
  and "User:", which is App. A.1's stage-1 template exactly (not two blank lines around an
  empty context).
- Several context chunks (retrieved top-k) are joined with a blank line (ours; the paper
  shows one {Context} block).
- Tables (App. C.2): `markdown_table` writes a table as Markdown rows whose cells carry their
  column's header; the text world has no tables, so it is for real data (a JSONL record's
  "table", `data.py`) and for users building contexts.

Truncation (NOT in the paper, which states no rule; the rule of issue 15 and ours): when an
example exceeds the model's window, the OLDEST earlier turns (user question + assistant
answer pairs) are dropped first, keeping the system prompt, the context and the latest
question (and, for training, the latest answer); the instruction moves to the first turn
that remains. If that is still too long, the context is cut from its end. One `warnings`
warning per call says what was cut; a latest question (+ answer) that cannot fit even then
is an InputError.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

from paperzoo.core.errors import InputError

# ---------------------------------------------------------------------------------- App. A text

SYSTEM = (
    "System: This is a chat between a user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions based on the context. "
    "The assistant should also indicate when the answer cannot be found in the context."
)
USER = "User:"
ASSISTANT = "Assistant:"
SEPARATOR = "\n\n"

# App. A.2: the {Instruction} by answer type of the stage-2 datasets.
INSTRUCTION_FULL = "Please give a full and complete answer for the question."  # HumanAnnotatedConvQA / SyntheticConvQA
INSTRUCTION_SHORT_SPAN = (  # SQuAD1.1, SQuAD2.0, NarrativeQA, DROP, ROPES, NewsQA, Quoref
    "Answer the following question with a short span. The answer needs to be just in a few words."
)
INSTRUCTION_ARITHMETIC = (  # TAT-QA questions that need arithmetic or a number from the context
    "Answer the following question with a number from context or the math arithmetic using +, -, *, or /."
)
INSTRUCTION_SPAN_OR_FULL = (  # the other TAT-QA questions (short or long answers)
    "Answer the following question with a short span, or a full and complete answer."
)

TRAINING_INSTRUCTIONS: dict[str, str] = {
    "convqa": INSTRUCTION_FULL,
    "short_span": INSTRUCTION_SHORT_SPAN,
    "arithmetic": INSTRUCTION_ARITHMETIC,
    "span_or_full": INSTRUCTION_SPAN_OR_FULL,
    "sft": "",  # stage-1 data keeps the stage-1 format: no instruction (App. A.2)
}

# App. C.3.1: ChatQA's {Instruction} per ChatRAG-Bench dataset ("consistent between the data
# blends in stage-2 and test benchmarks based on different answer types"). Keys are the
# ChatRAG-Bench folder names; DoQA's three domains (doqa_cooking, ...) use "doqa".
EVAL_INSTRUCTIONS: dict[str, str] = {
    "doqa": INSTRUCTION_FULL,
    "inscit": INSTRUCTION_FULL,
    "hybridial": INSTRUCTION_FULL,
    "doc2dial": INSTRUCTION_FULL,
    "quac": INSTRUCTION_FULL,
    "qrecc": INSTRUCTION_FULL,
    "sqa": INSTRUCTION_SPAN_OR_FULL,
    "topiocqa": INSTRUCTION_SPAN_OR_FULL,
    "coqa": INSTRUCTION_SHORT_SPAN,
    "convfinqa": INSTRUCTION_ARITHMETIC,
}


def eval_instruction(dataset: str) -> str:
    """ChatQA's benchmark instruction (App. C.3.1) for a ChatRAG-Bench dataset name."""
    key = dataset.lower().replace("-", "_")
    key = "doqa" if key.startswith("doqa") else key
    if key not in EVAL_INSTRUCTIONS:
        raise InputError(f"no App. C.3.1 instruction for dataset {dataset!r}; known: {', '.join(EVAL_INSTRUCTIONS)}")
    return EVAL_INSTRUCTIONS[key]


def template_words() -> tuple[str, ...]:
    """Every word the template and its instructions can put in a prompt, split the way a
    word-level tokenizer splits text (runs of letters/digits, and runs of punctuation), in
    first-seen order: the extra vocabulary a world tokenizer needs (`paperzoo.world`)."""
    text = " ".join([SYSTEM, USER, ASSISTANT, *TRAINING_INSTRUCTIONS.values(), *EVAL_INSTRUCTIONS.values()])
    return tuple(dict.fromkeys(re.findall(r"\w+|[^\w\s]", text)))


# ---------------------------------------------------------------------------------- messages


def _check_messages(messages: Sequence[Mapping[str, str]], ends_with: str) -> list[tuple[str, str]]:
    """Messages as (role, content) pairs, checked to alternate user/assistant from a user turn."""
    if len(messages) == 0:
        raise InputError("a ChatQA conversation needs at least one user message")
    out = []
    for i, m in enumerate(messages):
        try:
            role, content = m["role"], m["content"]
        except (KeyError, TypeError):
            raise InputError(f"message {i} is {m!r}; expected {{'role': 'user'|'assistant', 'content': str}}") from None
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise InputError(f"message {i} has role {role!r}; expected {expected!r} (turns alternate, starting with the user)")
        if not isinstance(content, str):
            raise InputError(f"message {i} content is {type(content).__name__}; expected str")
        out.append((role, content.strip()))
    if out[-1][0] != ends_with:
        raise InputError(f"the conversation must end with a{'n' if ends_with == 'assistant' else ''} {ends_with} "
                         f"message here, got {out[-1][0]!r} last")
    return out


def context_text(context: str | Sequence[str] | None) -> str:
    """The {Context} block: a string, or chunks joined by a blank line; "" when empty."""
    if context is None:
        return ""
    if isinstance(context, str):
        return context.strip()
    return SEPARATOR.join(c.strip() for c in context if c.strip())


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """A table as context text, the paper's way (App. C.2): Markdown rows with "|" between
    cells, and each cell prefixed by its column's header, because "as the number of rows in a
    table increases, it is harder for the model to link the values of cells in the last few
    rows to their corresponding headers". The paper's example turns

        | Boat | Crew | Nation | Date | Meet | Location |
        | M1x | Mahe | FR | 2009 | | Poznan |

    into (the header row itself is not written; the first column reads "value (Header)")

        | M1x (Boat) | Crew: Mahe | Nation: FR | Date: 2009 | Meet: | Location: Poznan |

    rows: the header row first, then the body rows, each as long as the header. Cells are
    str()-ed with their white space collapsed (None is an empty cell). Inferred, where the
    paper's one example does not say: an empty first cell is written "(Header)", a column with
    an empty header gets its bare values, rows are joined by one newline.
    """
    if len(rows) == 0:
        raise InputError("markdown_table: expected the header row first, got no rows")

    def cell(value) -> str:
        return "" if value is None else " ".join(str(value).split())

    header = [cell(h) for h in rows[0]]
    lines = []
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise InputError(f"markdown_table: row {i} has {len(row)} cells; the header has {len(header)}")
        cells = []
        for k, (name, value) in enumerate(zip(header, map(cell, row))):
            if not name:
                cells.append(value)
            elif k == 0:
                cells.append(f"{value} ({name})".strip())
            else:
                cells.append(f"{name}: {value}".rstrip())
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Piece:
    """A span of the rendered sample. kind: "head" (system prompt and separators), "context",
    "turn" (an earlier user + assistant pair's user part), "answer" (an assistant answer's
    text after "Assistant:"), "gap" (the separator after an earlier answer), "latest" (the
    latest user turn, ending with "Assistant:"). `turn` indexes the user/assistant pair."""

    kind: str
    text: str
    turn: int = -1


def render(messages: Sequence[Mapping[str, str]], context: str | Sequence[str] | None = "", instruction: str = "",
           *, first_turn: int = 0) -> list[Piece]:
    """The App. A layout as pieces whose texts concatenate to the full sample.

    `messages` alternate user/assistant starting with the user; ending with a user message
    gives a prompt (ending "Assistant:"), ending with an assistant message gives a training
    sample (prompt + " " + latest answer). Pairs before `first_turn` are left out (truncation);
    the instruction goes on the first user turn that is kept.
    """
    ends = messages[-1].get("role") if len(messages) and isinstance(messages[-1], Mapping) else "user"
    pairs = _check_messages(messages, ends_with="assistant" if ends == "assistant" else "user")
    ctx = context_text(context)
    pieces = [Piece("head", SYSTEM + SEPARATOR)]
    if ctx:
        pieces += [Piece("context", ctx), Piece("head", SEPARATOR)]
    questions = [c for r, c in pairs if r == "user"]
    answers = [c for r, c in pairs if r == "assistant"]
    latest = len(questions) - 1
    for t in range(first_turn, len(questions)):
        q = questions[t]
        if t == first_turn and instruction.strip():
            q = f"{instruction.strip()} {q}"
        user = f"{USER} {q}{SEPARATOR}{ASSISTANT}"
        pieces.append(Piece("latest" if t == latest else "turn", user, t))
        if t < len(answers):
            pieces.append(Piece("answer", f" {answers[t]}", t))
            if t < latest:
                pieces.append(Piece("gap", SEPARATOR, t))
    return pieces


def build_prompt(messages: Sequence[Mapping[str, str]], context: str | Sequence[str] | None = "",
                 instruction: str = "") -> str:
    """The App. A input text for the latest (user) question, ending with "Assistant:".

    `messages`: [{"role": "user", "content": ...}, {"role": "assistant", ...}, ..., user]
    (the ChatRAG-Bench `messages` layout). `context`: a string or chunk texts; empty for
    stage-1 (SFT) samples. `instruction`: prefixed to the first user turn (App. A.2).
    """
    _check_messages(messages, ends_with="user")
    return "".join(p.text for p in render(messages, context, instruction))


def build_sample(messages: Sequence[Mapping[str, str]], context: str | Sequence[str] | None = "",
                 instruction: str = "") -> str:
    """A whole training sample as text: the prompt of the latest question, then " " + the latest answer."""
    _check_messages(messages, ends_with="assistant")
    return "".join(p.text for p in render(messages, context, instruction))


# ---------------------------------------------------------------------------------- tokens


class TruncationWarning(UserWarning):
    """A ChatQA sample was longer than the model's window and was cut (oldest turns, then context)."""


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def _bos(tokenizer) -> list[int]:
    """[BOS] where the tokenizer itself starts plain text with it (Llama's <s>); nothing where
    it does not (SmolLM2's <|im_start|> is a chat-template token, not a text start)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return []
    plain = tokenizer("a", add_special_tokens=True)["input_ids"]
    return [int(bos)] if len(plain) and plain[0] == bos else []


def _assemble(tokenizer, pieces: list[Piece], supervise: str, eos: bool, context_keep: int | None):
    ids, mask = _bos(tokenizer), []
    mask = [False] * len(ids)
    latest = max(p.turn for p in pieces if p.kind in ("latest", "turn"))
    for p in pieces:
        tok = _encode(tokenizer, p.text)
        if p.kind == "context" and context_keep is not None:
            tok = tok[:context_keep]
        on = p.kind == "answer" and (supervise == "all" or p.turn == latest)
        ids += tok
        mask += [on] * len(tok)
    if eos:
        eos_id = tokenizer.eos_token_id
        if eos_id is None:
            raise InputError("the tokenizer has no EOS token, so an answer cannot end")
        ids.append(int(eos_id))
        mask.append(True)
    return ids, mask


def encode(tokenizer, messages: Sequence[Mapping[str, str]], context: str | Sequence[str] | None = "",
           instruction: str = "", *, max_length: int | None = None, supervise: str = "last",
           where: str = "sample") -> tuple[list[int], list[bool]]:
    """A sample as token ids and its loss mask (True on the supervised tokens).

    Ending with an assistant message: a training sample, [BOS] prompt + latest answer + EOS,
    the mask True on the latest answer and EOS (`supervise="last"`, App. A.1), or on every
    assistant answer (`supervise="all"`; earlier answers without an EOS, as they appear in
    the prompt). Ending with a user message: a prompt (mask all False) for generation.
    The pieces are tokenized one by one and concatenated (a word-level tokenizer gives the
    same ids as tokenizing the whole text; a BPE one may differ only at piece boundaries).

    `max_length`: the window; a longer sample is truncated (oldest turns, then the context's
    end; see the module docstring) with one TruncationWarning naming `where`.
    """
    if supervise not in ("last", "all"):
        raise InputError(f"supervise={supervise!r}; expected 'last' (the paper) or 'all'")
    training = len(messages) > 0 and isinstance(messages[-1], Mapping) and messages[-1].get("role") == "assistant"
    n_questions = (len(messages) + 1) // 2
    first, keep, cut = 0, None, []
    pieces = render(messages, context, instruction)
    ids, mask = _assemble(tokenizer, pieces, supervise, training, None)
    if max_length is not None and len(ids) > max_length:
        while len(ids) > max_length and first < n_questions - 1:  # 1. the oldest turns first
            first += 1
            pieces = render(messages, context, instruction, first_turn=first)
            ids, mask = _assemble(tokenizer, pieces, supervise, training, None)
        if first:
            cut.append(f"{first} oldest turn{'s' if first > 1 else ''}")
        if len(ids) > max_length:  # 2. then the context, from its end
            ctx = [p for p in pieces if p.kind == "context"]
            n_ctx = len(_encode(tokenizer, ctx[0].text)) if ctx else 0
            over = len(ids) - max_length
            if over > n_ctx:
                raise InputError(f"{where}: the system prompt and the latest question"
                                 f"{' and answer' if training else ''} alone take {len(ids) - n_ctx} tokens, "
                                 f"more than the window of {max_length}")
            keep = n_ctx - over
            ids, mask = _assemble(tokenizer, pieces, supervise, training, keep)
            cut.append(f"{over} of {n_ctx} context tokens from its end")
        warnings.warn(f"{where} is longer than the window of {max_length} tokens: dropped {' and '.join(cut)}",
                      TruncationWarning, stacklevel=2)
    return ids, mask
