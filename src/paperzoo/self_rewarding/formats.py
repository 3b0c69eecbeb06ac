"""How instructions, responses and judge prompts become tokens, for the two kinds of model.

"world" (the tiny CPU model): the world's 60-word vocabulary as a `tokenizers` WordLevel
tokenizer, and compact prompts that fit its 128 positions,

    instruction:  <bos> reverse : c a f =>                       response: f a c <eos>
    judge:        <bos> judge reverse : c a f answer  f a c =>  f a x |  type yes length yes
                                                      half yes prefix no exact no Score: 3 <eos>

The judgment is a short justification (the answer the judge works out for itself, then
the rubric's criteria, each yes or no) ending in "Score: k", the shape of the paper's
Fig. 2 output (a justification of up to 100 words, then the score), so one parser reads both.
The world judge writes its own answer before it reads the response it grades (two
generation calls, the response inserted between them): with the response in view, a tiny
model learns to copy it as "its" answer and then grades everything as right.

"chat" (any Hugging Face causal LM, e.g. Llama 2 70B): the instruction as a user turn in
the tokenizer's chat template (a plain "User:/Assistant:" layout where it has none), and
the judge prompt of Fig. 2 word for word (`paperzoo.self_rewarding.judge.JUDGE_PROMPT`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from paperzoo.core import generation
from paperzoo.world.instructions import ARROW, CRITERIA, VOCAB
from paperzoo.world.text import word_tokenizer

PLAIN_TEMPLATE = "User: {instruction}\n\nAssistant: "


def world_tokenizer():
    """The world vocabulary as a `transformers` fast tokenizer (WordLevel, whitespace split;
    built by the text worlds' shared `paperzoo.world.text.word_tokenizer`)."""
    return word_tokenizer(VOCAB, split="whitespace", model_max_length=128)


def judgment_text(answer: str, met: Sequence[bool], score: int) -> str:
    """The world judge's target: the justification, then 'Score: k'. The justification is
    the answer the judge itself derives for the instruction, then each criterion with yes/no
    (a judge can only tell "exact" from "half right" by working the task out)."""
    words = [f"{name} {'yes' if ok else 'no'}" for name, ok in zip(CRITERIA, met)]
    return f"answer {answer} | " + " ".join(words) + f" Score: {score}"


def rubric_judgment(task, reply: str) -> str:
    """A Fig. 2 judgment written from the checker (`paperzoo.world.checkable`), for EFT on a
    chat model: a brief justification naming the requirements `reply` meets and misses (and any
    text nobody asked for), then "Score: k", k the rubric's additive score. Under 100 words."""
    from paperzoo.world import checkable

    a, met_criteria = checkable.assess(task, reply), checkable.criteria(task, reply)
    score = sum(met_criteria)  # checkable.rubric_score
    if not met_criteria[0]:
        return f"The response does not attempt the request.\nScore: {score}"
    met = [checkable.requirement(task, n) for n, ok in a.met if ok]
    missed = [checkable.requirement(task, n) for n, ok in a.met if not ok]
    parts = [f"Requirements met: {_listed(met)}."] if met else []
    if missed:
        parts.append(f"Missed: {_listed(missed)}.")
    elif score < 5:
        parts.append("All met, but with text that was not asked for.")
    else:
        parts.append("All met, and nothing else added.")
    return " ".join(parts) + f"\nScore: {score}"


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def split_world_judgment(text: str) -> tuple[str, str]:
    """("the judge's answer", "criteria ... Score: k") from `judgment_text`'s output."""
    if not text.startswith("answer ") or " | " not in text:
        raise ValueError(f"not a world judgment (expected 'answer ... | ... Score: k'): {text!r}")
    answer, verdict = text[len("answer "):].split(" | ", 1)
    return answer.strip(), verdict.strip()


@dataclass(frozen=True)
class JudgeRequest:
    """An EFT input: judge `response` to `instruction` (its target is the judgment text)."""

    instruction: str
    response: str


@dataclass
class Format:
    """Turns text into the token ids a policy sees. `style` is "world" or "chat"."""

    tokenizer: object
    style: str

    @property
    def eos_id(self) -> int:
        return generation.eos_id(self.tokenizer)

    @property
    def pad_id(self) -> int:
        return generation.pad_id(self.tokenizer)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _bos(self) -> list[int]:
        bos = self.tokenizer.bos_token_id
        return [int(bos)] if bos is not None else []

    def prompt_ids(self, instruction: str) -> list[int]:
        """Tokens before the response: the instruction in this style's template."""
        if self.style == "world":
            return self._bos() + self._encode(f"{instruction} {ARROW}")
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": instruction}], add_generation_prompt=True, tokenize=True)
            return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        return self._bos() + self._encode(PLAIN_TEMPLATE.format(instruction=instruction))

    def response_ids(self, response: str) -> list[int]:
        """The response's tokens, ending with EOS (what SFT and DPO score)."""
        return self._encode(response) + [self.eos_id]

    def judge_prompt_ids(self, instruction: str, response: str) -> list[int]:
        """The LLM-as-a-Judge prompt for one (instruction, response) pair ("chat" style; the
        world judge reads the response only after working out its own answer, see below)."""
        if self.style == "world":
            raise ValueError("the world judge is prompted in two stages: judge_answer_ids, then judge_verdict_ids")
        from paperzoo.self_rewarding.judge import judge_prompt

        return self.prompt_ids(judge_prompt(instruction, response))

    # The world judge, in two stages: "<bos> judge x answer" -> the judge's own answer A,
    # ended by "=>"; then "... A => y |" -> the criteria and "Score: k", ended by EOS. Its
    # answer is thus a derivation from the instruction, not a copy of the response it grades.
    def judge_answer_ids(self, instruction: str) -> list[int]:
        return self._bos() + self._encode(f"judge {instruction} answer")

    def judge_verdict_ids(self, instruction: str, answer: Sequence[int], response: str) -> list[int]:
        return self.judge_answer_ids(instruction) + list(answer) + self._encode(f"{ARROW} {response} |")

    @property
    def arrow_id(self) -> int:
        return self._encode(ARROW)[0]

    def example_ids(self, context: "str | JudgeRequest", target: str) -> tuple[list[int], list[bool]]:
        """One SFT example as token ids and a mask of the tokens the loss is on (the
        response, or the judgment; never the prompt, nor in a world judgment the graded response)."""
        if isinstance(context, JudgeRequest) and self.style == "world":
            answer, verdict = split_world_judgment(target)
            first = self.judge_answer_ids(context.instruction)
            own = self._encode(f"{answer} {ARROW}")
            given = self._encode(f"{context.response} |")
            tail = self._encode(verdict) + [self.eos_id]
            ids = first + own + given + tail
            return ids, [False] * len(first) + [True] * len(own) + [False] * len(given) + [True] * len(tail)
        if isinstance(context, JudgeRequest):
            head = self.judge_prompt_ids(context.instruction, context.response)
        else:
            head = self.prompt_ids(context)
        tail = self.response_ids(target)
        return head + tail, [False] * len(head) + [True] * len(tail)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()
