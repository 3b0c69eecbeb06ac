"""§II-A Prompt Parse, and the reply parsers every step shares.

The LLM reads the user's input (a prompt, an instruction, an inspiration or a hypothesis)
and replies "Prompts: <the core prompt>". The official code takes the text after
"Prompts:" and raises when it is missing; here every parser falls back instead, and says
so: each returns (value, fell_back), and the pipeline counts the fallbacks per step.
"""

from __future__ import annotations

import re
from typing import Sequence

from paperzoo.diffusiongpt.llm import LLM, snap
from paperzoo.diffusiongpt.prompts import PROMPT_PARSE


def _after(reply: str, marker: str) -> str | None:
    """The first line after the last `marker` in `reply`, or None when it is absent."""
    if marker not in reply:
        return None
    rest = reply.rsplit(marker, 1)[1].strip()
    return rest.splitlines()[0].strip() if rest else ""


def reply_prompt(reply: str, original: str) -> tuple[str, bool]:
    """The parsed prompt of a "Prompts:" reply; the original input when the reply has none."""
    text = _after(reply, "Prompts:")
    text = (text or "").strip().strip("[]\"'` ").strip()
    return (text, False) if text else (original, True)


def reply_selected(reply: str, options: Sequence[str]) -> tuple[str, bool]:
    """The option a "Selected:" reply names (the official cut at , ; . and lower-casing); a
    reply that names no option exactly falls back to the closest one, then to "universal"
    or the first option."""
    options = list(options)
    text = reply.split("Selected:")[-1] if "Selected:" in reply else reply
    text = re.split(r"[,;.\n]", text.strip())[0].strip().strip("[]\"'` ").lower()
    if text in options:
        return text, False
    near = snap(text, options) if text else None
    if near is not None:
        return near, True
    return ("universal" if "universal" in options else options[0]), True


def reply_models(reply: str, names: Sequence[str]) -> tuple[list[str], int]:
    """The zoo names a "Model: a, b" reply lists (each snapped to a valid name); and how many
    listed items named nothing valid."""
    text = reply.rsplit("Model:", 1)[1] if "Model:" in reply else reply
    items = [i.strip().strip("[]\"'` ") for i in re.split(r"[,\n]", text) if i.strip().strip("[]\"'` ")]
    found, misses = [], 0
    for item in items:
        name = snap(item, names)
        if name is None:
            misses += 1
        elif name not in found:
            found.append(name)
    return found, misses


def prompt_parse(llm: LLM, inputs: str) -> tuple[str, bool]:
    """§II-A: the core prompt of `inputs`, and whether the reply had to be replaced."""
    return reply_prompt(llm(PROMPT_PARSE.format(inputs=inputs)), inputs)
