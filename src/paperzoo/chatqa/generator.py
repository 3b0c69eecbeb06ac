"""The ChatQA generator: a causal LM, its tokenizer, and the App. A template (paper §3, §5.1).

Two kinds, one interface:
- "world": a Llama built from scratch (`config.GENERATORS["tiny"]`, the card's inferred
  sizes) on the world's word-level tokenizer (`paperzoo.world.conversations.tokenizer`, with
  the template's words added, `template.template_words()`);
- "hf": any local Hugging Face causal-LM folder (SmolLM2-135M-Instruct through
  `paperzoo.core.pretrained`, a local Llama 2/3 checkpoint) with its own tokenizer.
Both read the same plain "System: ... User: ... Assistant:" text of App. A, never the
model's own chat template (the card's pitfall: ChatQA is trained and evaluated on the
plain text, not on Llama-3 header tokens).

`answer` decodes greedily (the card's real-scale decoding) through the shared batched
`generate` with a KV cache. A generator folder is a Hugging Face checkpoint (config.json,
model.safetensors, tokenizer files; `AutoModelForCausalLM.from_pretrained` reads it) plus
`paperzoo.json` naming the tokenizer kind; a folder without it is read as kind "hf".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

import torch

from paperzoo.chatqa.config import GeneratorConfig, generator_config
from paperzoo.chatqa.template import ASSISTANT, USER, encode, template_words
from paperzoo.core.atomic import atomic_dir
from paperzoo.core.errors import CheckpointError, ConfigError, InputError
from paperzoo.core import generation
from paperzoo.core.generation import generate


KIND_FILE = "paperzoo.json"
Messages = Sequence[Mapping[str, str]]


def world_tokenizer():
    """The world's word-level tokenizer (a `transformers` fast tokenizer) with the template's words
    and the instruction tasks' symbols (the stage-1 data) added."""
    from paperzoo.world.conversations import tokenizer
    from paperzoo.world.instructions import VOCAB
    from paperzoo.world.text import SPECIALS

    return tokenizer(extra_words=[*template_words(), *(w for w in VOCAB if w not in SPECIALS)],
                     model_max_length=384)


def _quiet():
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


@dataclass
class Generator:
    """A causal LM with its tokenizer, reading App. A prompts. kind: "world" or "hf"."""

    model: torch.nn.Module
    tokenizer: object
    kind: str

    @property
    def window(self) -> int:
        """The most tokens the model attends to (its position table)."""
        return int(self.model.config.max_position_embeddings)

    @property
    def eos_id(self) -> int:
        return generation.eos_id(self.tokenizer)

    @property
    def pad_id(self) -> int:
        return generation.pad_id(self.tokenizer)

    # -- text -> tokens -------------------------------------------------------------
    def example(self, messages: Messages, context="", instruction: str = "", *, supervise: str = "last",
                max_length: int | None = None) -> tuple[list[int], list[bool]]:
        """A training sample (messages ending with the assistant's latest answer) as
        (ids, loss_mask); truncated to `max_length` (default: the window)."""
        return encode(self.tokenizer, messages, context, instruction, supervise=supervise,
                      max_length=min(max_length or self.window, self.window), where="training sample")

    def text_example(self, text: str, max_length: int | None = None) -> tuple[list[int], list[bool]]:
        """Plain text for language-model pretraining: its tokens + EOS, the loss on all of them
        (cut to `max_length`, default the window)."""
        ids = list(self.tokenizer(text, add_special_tokens=True)["input_ids"]) + [self.eos_id]
        ids = ids[: min(max_length or self.window, self.window)]
        return ids, [True] * len(ids)

    def prompt(self, messages: Messages, context="", instruction: str = "", max_new_tokens: int = 64) -> list[int]:
        """The prompt ids for the latest user question, truncated to leave room for the answer."""
        room = self.window - max_new_tokens
        if room < 1:
            raise InputError(f"max_new_tokens={max_new_tokens} leaves no room in the window of {self.window}")
        return encode(self.tokenizer, messages, context, instruction, max_length=room, where="prompt")[0]

    def decode(self, ids: Sequence[int]) -> str:
        text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
        # an un-tuned HF model may go on to write the next turn itself: the answer ends there
        for stop in (f"\n{USER}", f"\n{ASSISTANT}"):
            text = text.split(stop)[0]
        return text.strip()

    # -- answering ------------------------------------------------------------------
    def answer(self, messages: Messages, context="", instruction: str = "", *, max_new_tokens: int = 64) -> str:
        """The greedy answer to the latest user message, given the context and instruction."""
        return self.answer_batch([(messages, context, instruction)], max_new_tokens=max_new_tokens)[0]

    def answer_batch(self, samples: Sequence[tuple[Messages, object, str]], *, max_new_tokens: int = 64,
                     batch_size: int = 64, progress: bool = False) -> list[str]:
        """Greedy answers to many (messages, context, instruction) samples, batched with a KV cache."""
        prompts = [self.prompt(m, c, i, max_new_tokens) for m, c, i in samples]
        outs = generate(self.model, prompts, n=1, max_new_tokens=max_new_tokens, eos_id=self.eos_id,
                        pad_id=self.pad_id, temperature=0.0, batch_size=batch_size, progress=progress,
                        desc="answer")
        return [self.decode(o[0]) for o in outs]

    # -- folders ----------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> Path:
        """Write the folder atomically: HF model + tokenizer files + paperzoo.json (the kind)."""
        path = Path(path)
        _quiet()
        model = self.model
        if hasattr(model, "merge_and_unload"):  # a peft (LoRA) model: save the merged weights
            raise InputError("save_pretrained: merge the LoRA adapters first (core.lora.merge_lora)")
        with atomic_dir(path) as tmp:
            model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            (tmp / KIND_FILE).write_text(json.dumps({"system": "chatqa", "tokenizer": self.kind}) + "\n")
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, dtype: torch.dtype | None = None) -> "Generator":
        """A generator from a local folder: ours, or any Hugging Face causal-LM checkpoint."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not path.is_dir():
            raise CheckpointError(f"generator folder {path} does not exist (expected a Hugging Face causal-LM folder)")
        if not (path / "config.json").is_file():
            raise CheckpointError(f"generator folder {path} has no config.json (expected a Hugging Face causal-LM folder)")
        kind = "hf"
        if (path / KIND_FILE).is_file():
            try:
                kind = json.loads((path / KIND_FILE).read_text())["tokenizer"]
            except (ValueError, KeyError, TypeError) as err:
                raise CheckpointError(f"generator folder {path}: {KIND_FILE} is corrupt ({err})") from None
            if kind not in ("world", "hf"):
                raise CheckpointError(f"generator folder {path}: tokenizer kind {kind!r}; expected 'world' or 'hf'")
        _quiet()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            kwargs = {"dtype": dtype} if dtype is not None else {}
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        except Exception as err:  # a truncated safetensors file, a foreign config, missing tokenizer files
            raise CheckpointError(f"generator folder {path} could not be loaded as a causal LM "
                                  f"({type(err).__name__}: {err})") from None
        if tokenizer.eos_token_id is None:
            raise CheckpointError(f"generator folder {path}: its tokenizer has no EOS token, so answers cannot end")
        return cls(model, tokenizer, kind)


def new_generator(config: str | GeneratorConfig = "tiny", seed: int = 0) -> Generator:
    """A generator of a named config: a randomly initialised Llama on the world tokenizer
    (`lm` configs; vocab 0 = the tokenizer's size), or a pretrained folder (`pretrained`)."""
    cfg = generator_config(config)
    if cfg.pretrained is not None:
        return load_generator(cfg.pretrained)
    from transformers import LlamaForCausalLM

    tok = world_tokenizer()
    if cfg.lm.vocab_size not in (0, len(tok)):  # e.g. llama2-7b: a parameter-count config, not a world model
        raise ConfigError(f"generator config {config if isinstance(config, str) else cfg!r} has its own "
                          f"{cfg.lm.vocab_size}-token vocabulary; a from-scratch world model needs vocab_size 0 "
                          "(the world tokenizer's size); for real weights pass a local Hugging Face folder")
    lm = replace(cfg.lm, vocab_size=len(tok))
    llama = lm.to_llama()
    llama.pad_token_id, llama.bos_token_id, llama.eos_token_id = tok.pad_token_id, tok.bos_token_id, tok.eos_token_id
    torch.manual_seed(seed)
    return Generator(LlamaForCausalLM(llama), tok, "world")


def load_generator(name_or_path: str | Path) -> Generator:
    """A named real model (`smollm2-135m-instruct`) built once in the cache, a registered
    from-scratch config name (untrained), or any local HF causal-LM folder."""
    from paperzoo.chatqa.config import GENERATORS

    name = str(name_or_path)
    if name in GENERATORS and GENERATORS.get(name).lm is not None:
        return new_generator(name)
    if name in GENERATORS or not Path(name).exists():
        from paperzoo.core.pretrained import model_folder

        return Generator.from_pretrained(model_folder(name))
    return Generator.from_pretrained(name)
