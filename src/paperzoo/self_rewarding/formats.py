"""How instructions, responses and judge prompts become tokens, for the two kinds of model.

"world" (the tiny CPU model): the world's 59-word vocabulary as a `tokenizers` WordLevel
tokenizer, and compact prompts that fit its 128 positions,

    instruction:  <bos> reverse : c a f =>                       response: f a c <eos>
    judge:        <bos> judge reverse : c a f => f a x |          judgment: type yes length yes
                                                                   half yes prefix no exact no Score: 3 <eos>

The judgment lists the rubric's criteria (the "justification") and ends with "Score: k",
the shape of the paper's Fig. 2 output, so one parser reads both.

"chat" (any Hugging Face causal LM, e.g. Llama 2 70B): the instruction as a user turn in
the tokenizer's chat template (a plain "User:/Assistant:" layout where it has none), and
the judge prompt of Fig. 2 word for word (`paperzoo.self_rewarding.judge.JUDGE_PROMPT`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from paperzoo.world.instructions import ARROW, CRITERIA, VOCAB

PLAIN_TEMPLATE = "User: {instruction}\n\nAssistant: "


def world_tokenizer():
    """The world vocabulary as a `transformers` fast tokenizer (WordLevel, whitespace split)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        model_max_length=128,
    )


def judgment_text(met: Sequence[bool], score: int) -> str:
    """The world judge's target: each criterion with yes/no, then 'Score: k'."""
    words = [f"{name} {'yes' if ok else 'no'}" for name, ok in zip(CRITERIA, met)]
    return " ".join(words) + f" Score: {score}"


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
        return int(self.tokenizer.eos_token_id)

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

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
        """The LLM-as-a-Judge prompt for one (instruction, response) pair."""
        if self.style == "world":
            return self._bos() + self._encode(f"judge {instruction} {ARROW} {response} |")
        from paperzoo.self_rewarding.judge import judge_prompt

        return self.prompt_ids(judge_prompt(instruction, response))

    def context_ids(self, x: "str | JudgeRequest") -> list[int]:
        """What the model reads before its output: an instruction prompt, or a judge prompt."""
        if isinstance(x, JudgeRequest):
            return self.judge_prompt_ids(x.instruction, x.response)
        return self.prompt_ids(x)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()
