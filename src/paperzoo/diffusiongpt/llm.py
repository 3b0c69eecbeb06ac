"""The controller: one interface, `LLM(prompt) -> str`, behind which any model answers.

The paper's controller is text-davinci-003 at temperature 0 through LangChain (§III-A), now
retired. Three stand-ins answer the same prompts (`prompts.py`):

- `RuleLLM`: deterministic rules over a fixed subject/style lexicon. It recognises which of
  the prompts it was given and answers in that prompt's reply format; what it does for each
  is written beside its handler. It needs nothing downloaded and is what CI routes with.
- `HFCausalLM(folder)`: any local Hugging Face causal LM, greedy (temperature 0, as the
  paper's), through its chat template when it has one.
- `HFCausalLM.smollm2()`: SmolLM2-135M-Instruct, real offline weights (`core.pretrained`).

Every controller counts its calls; the pipeline's parsers count the replies that named
nothing valid (`parse.py`).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections import Counter
from pathlib import Path
from typing import Mapping, Protocol, Sequence

from paperzoo.core.errors import CheckpointError


class LLM(Protocol):
    calls: int

    def __call__(self, prompt: str) -> str: ...


def _field(prompt: str, name: str) -> str:
    """The text after "name:" up to the next blank line (or the end)."""
    m = re.search(rf"{re.escape(name)}:\s*(.*?)(?:\n\s*\n|\Z)", prompt, flags=re.S)
    return m.group(1).strip() if m else ""


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def _between(prompt: str, start: str, end: str) -> str:
    i = prompt.find(start)
    if i < 0:
        return ""
    i += len(start)
    j = prompt.find(end, i)
    return prompt[i: j if j >= 0 else None].strip()


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().split(".")[0])


# Instruction, inspiration and hypothesis wrappers (§II-A's four paradigms); what is left is the prompt.
_INSTRUCTION = re.compile(r"^(?:please\s+)?(?:generate|create|draw|make|paint|render|produce|show)(?:\s+me)?\s+"
                          r"(?:(?:an?|the)\s+)?(?:image|picture|drawing|painting|illustration|photo|rendering)\s+"
                          r"(?:of|showing|with)\s+(.+)$")
_INSPIRATION = re.compile(r"^i\s+(?:want|would\s+like|wish|'d\s+like|hope|long|dream)\s+to\s+"
                          r"(?:see|look\s+at|behold|watch|have|find)\s+(.+)$")
_HYPOTHESIS = re.compile(r"^if\s+(?:you|i|we|someone)\s+(?:give|gave|show|showed|had|have|draw|drew|could\s+see|saw|found|find)"
                         r"(?:\s+(?:me|us))?\s+(.+?),\s*(?:i|we|it|that)\s+(?:will|would|'ll|could).*$")


def rule_parse(text: str) -> str:
    """The core prompt of an instruction, inspiration or hypothesis; a plain prompt as it is."""
    t = " ".join(text.strip().rstrip(".!?").split())
    low = t.lower()
    for pattern in (_INSTRUCTION, _INSPIRATION, _HYPOTHESIS):
        m = pattern.match(low)
        if m:
            return m.group(1).strip()
    return low


class RuleLLM:
    """A deterministic controller over a lexicon: category -> the words that signal it.

    `subjects` and `styles` map each category to its words (the category name counts as one).
    """

    def __init__(self, subjects: Mapping[str, Sequence[str]], styles: Mapping[str, Sequence[str]]):
        self.lexicon = {c: {c, *(w.lower() for w in ws)} for c, ws in {**subjects, **styles}.items()}
        self.subjects, self.styles = list(subjects), list(styles)
        self.calls = 0

    def __repr__(self) -> str:
        return "RuleLLM()"

    # -- which prompt is this ----------------------------------------------------------------
    def __call__(self, prompt: str) -> str:
        self.calls += 1
        if "judge the paradigm" in prompt:
            return "Prompts: " + rule_parse(prompt.rsplit("Input:", 1)[-1])
        if "Subject dimension" in prompt:
            return self._categories(_field(prompt, "Input"), self.subjects)
        if "Style dimension" in prompt:
            return self._categories(_field(prompt, "Input"), self.styles)
        if "create a Knowledge Tree" in prompt:
            return self._build(_field(prompt, "Subject Input"), _field(prompt, "Style Input"))
        if "add some input models" in prompt:
            return self._add_models(prompt)
        if "five different experts" in prompt:
            return "Selected: " + self._select(_literal(_field(prompt, "Input list")) or [], _field(prompt, "Input prompt"))
        if "has highly similar name" in prompt:
            return self._intersect(prompt)
        if "highest frequency and top ranking" in prompt:
            return self._most_frequent(prompt)
        if "that is the same model as" in prompt:
            names = _literal(_between(prompt, "from the list", " that is the same model as")) or []
            model = _between(prompt, "that is the same model as", ". The output")
            return "Model: " + (snap(model, names) or "")
        if "follow the sentence pattern" in prompt:
            return self._extend(_between(prompt, "describing an image:", "\n").rstrip("."), _field(prompt, "Example").rstrip("."))
        return ""

    # -- handlers -------------------------------------------------------------------------------
    def _words(self, text: str) -> set[str]:
        return set(re.findall(r"[a-z0-9]+", text.lower()))

    def _matches(self, text: str, category: str) -> int:
        """How many of `category`'s words occur in `text` (multi-word entries as phrases)."""
        low, words = text.lower(), self._words(text)
        return sum((w in low) if " " in w else (w in words) for w in self.lexicon.get(category, {category}))

    def _categories(self, tags_text: str, categories: list[str]) -> str:
        """The lexicon's categories that some tag signals (at most 4 subjects / 7 styles, §II-B)."""
        limit = 4 if categories is self.subjects else 7
        found = [c for c in categories if self._matches(tags_text, c)][:limit]
        return "Categories:\n" + "\n".join(f"- {c}" for c in found)

    def _build(self, subjects_text: str, styles_text: str) -> str:
        """Every style under every subject: in the scene world each style suits each subject."""
        subjects = re.findall(r"^- (.+)$", subjects_text, flags=re.M)
        styles = re.findall(r"^- (.+)$", styles_text, flags=re.M)
        lines = ["Knowledge Tree:"]
        for s in subjects:
            lines.append(f"- {s.strip()}")
            lines += [f"  - {t.strip()}" for t in styles]
        return "\n".join(lines)

    def _add_models(self, prompt: str) -> str:
        """Each model under every (subject, style) leaf its tags signal; a model that signals
        no subject goes under every subject, one that signals no style under none (it is left
        to the universal leaf)."""
        tree = parse_tree(_between(prompt, "Knowledge Tree Input:", "Models Input:"))
        tags = _literal(_field(prompt, "Model Tags Input")) or {}
        for name, model_tags in tags.items():
            text = " , ".join(model_tags)
            subjects = [s for s in tree if self._matches(text, s)] or list(tree)
            for s in subjects:
                for style in tree[s]:
                    if self._matches(text, style):
                        tree[s][style].append(name.split(".")[0])
        return "Knowledge Tree:\n" + format_tree(tree)

    def _select(self, options: list, prompt: str) -> str:
        """Five "experts" are one keyword vote here: the option whose words occur most in the
        prompt; none: "universal" when offered, else the first option."""
        options = [str(o) for o in options]
        if not options:
            return ""
        scores = [self._matches(prompt, o) for o in options]
        best = max(scores)
        if best == 0:
            return "universal" if "universal" in options else options[0]
        return options[scores.index(best)]

    def _intersect(self, prompt: str) -> str:
        """The names of the tree's list that also occur in the database's lists."""
        tree_names = _literal(_between(prompt, "each name in this list", "has highly similar")) or []
        db_lists = _literal(_between(prompt, "in the list", ", if yes")) or []
        in_db = {_norm(n) for row in db_lists for n in row}
        return "Model: " + ", ".join(n for n in tree_names if _norm(n) in in_db)

    def _most_frequent(self, prompt: str) -> str:
        """The candidate seen most often in the database's top-k lists, ties to the better mean
        rank; with no candidates, the same over every name in those lists."""
        candidates = _literal(_between(prompt, "the following model list", "that has the highest")) or []
        if isinstance(candidates, str):
            candidates = [c.strip() for c in candidates.split(",") if c.strip()]
        db_lists = _literal(_between(prompt, "according to the list", ".\nThe output")) or []
        return "Model: " + (count_select(candidates, db_lists) or "")

    def _extend(self, text: str, example: str) -> str:
        """Slot filling: the example's "in <style> style" phrase (and trigger words) appended
        when the input has none."""
        m = re.search(r"\bin (\w+) style\b", example)
        if m and not re.search(r"\bin \w+ style\b", text):
            return f"{text} {m.group(0)}"
        return text


def count_select(candidates: Sequence[str], db_lists: Sequence[Sequence[str]]) -> str | None:
    """The official selection rule made deterministic: most appearances in the database's
    top-k lists, ties broken by the better mean rank, then by name. No candidates: every name
    in the lists competes."""
    pool = list(candidates) or [n for row in db_lists for n in row]
    if not pool:
        return None
    count: Counter[str] = Counter()
    ranks: dict[str, list[int]] = {}
    for row in db_lists:
        for r, n in enumerate(row):
            count[_norm(n)] += 1
            ranks.setdefault(_norm(n), []).append(r)
    def key(name: str):
        k = _norm(name)
        rs = ranks.get(k, [len(pool)])
        return (-count[k], sum(rs) / len(rs), name)
    return min(dict.fromkeys(pool), key=key)


def snap(reply: str, names: Sequence[str]) -> str | None:
    """The element of `names` that `reply` names: exact, then normalised, then the closest
    by string similarity (None when nothing is close)."""
    names = [str(n) for n in names]
    reply = reply.strip().strip("[]'\"` ")
    if reply in names:
        return reply
    by_norm = {_norm(n): n for n in names}
    if _norm(reply) in by_norm:
        return by_norm[_norm(reply)]
    contained = [n for n in names if _norm(n) and _norm(n) in _norm(reply)]
    if contained:
        return max(contained, key=lambda n: len(_norm(n)))
    close = difflib.get_close_matches(_norm(reply), list(by_norm), n=1, cutoff=0.5)
    return by_norm[close[0]] if close else None


def parse_tree(text: str) -> dict[str, dict[str, list[str]]]:
    """The indented "- " list of a "Knowledge Tree:" reply as {subject: {style: [models]}}
    (the official parser: 0, 2 and 4 spaces of indent; names lower-cased as it keys them)."""
    tree: dict[str, dict[str, list[str]]] = {}
    subject = style = None
    for line in text.split("Knowledge Tree:")[-1].splitlines():
        if line.startswith("    - ") and subject is not None and style is not None:
            tree[subject][style].append(line[6:].strip())
        elif line.startswith("  - ") and subject is not None:
            style = line[4:].strip().lower()
            tree[subject].setdefault(style, [])
        elif line.startswith("- "):
            subject, style = line[2:].strip().lower(), None
            tree.setdefault(subject, {})
    return tree


def format_tree(tree: Mapping[str, Mapping[str, Sequence[str]]]) -> str:
    lines = []
    for subject, styles in tree.items():
        lines.append(f"- {subject}")
        for style, models in styles.items():
            lines.append(f"  - {style}")
            lines += [f"    - {m}" for m in models]
    return "\n".join(lines)


class HFCausalLM:
    """A local Hugging Face causal LM as the controller: greedy decoding, the prompt as one
    user turn of its chat template (plain text when it has none)."""

    def __init__(self, model, tokenizer, max_new_tokens: int = 96):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_new_tokens = max_new_tokens
        self.calls = 0

    def __repr__(self) -> str:
        return f"HFCausalLM({getattr(self.model.config, '_name_or_path', '?')})"

    @classmethod
    def load(cls, folder: str | Path, max_new_tokens: int = 96) -> "HFCausalLM":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from paperzoo.core import pretrained

        path = pretrained.model_folder(folder)
        try:
            return cls(AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), max_new_tokens)
        except (OSError, ValueError) as err:
            raise CheckpointError(f"controller LM folder {path} could not be loaded ({err})") from None

    @classmethod
    def smollm2(cls, max_new_tokens: int = 96) -> "HFCausalLM":
        from paperzoo.core.pretrained import SMOLLM2

        return cls.load(SMOLLM2, max_new_tokens)

    def prompt_ids(self, prompt: str) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                                     tokenize=True)
            return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        return list(self.tokenizer(prompt)["input_ids"])

    def __call__(self, prompt: str) -> str:
        from paperzoo.core.generation import eos_id, generate, pad_id

        self.calls += 1
        out = generate(self.model, [self.prompt_ids(prompt)], max_new_tokens=self.max_new_tokens,
                       eos_id=eos_id(self.tokenizer), pad_id=pad_id(self.tokenizer), temperature=0.0, share_prefix=0)
        return self.tokenizer.decode(out[0][0], skip_special_tokens=True).strip()
