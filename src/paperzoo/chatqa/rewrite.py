"""The baselines of Table 1: conversational query rewriting (§4.2, App. B.1) and the dialogue
history as the query.

Rewrite-then-retrieve ("+ Rewrite"): a rewriter turns the dialogue history and the latest
question into one standalone question, and the single-turn retriever runs on that question
alone (Table 9's "w/ single query only", the setting of Table 1). The paper's rewriter is
GPT-3.5-turbo prompted few-shot with the App. B.1 prompt; two stand-ins here:
    `TinyRewriter`      a tiny Llama trained on the world's gold rewrites (masked SFT, greedy
                        decoding with a KV cache: the shared core pieces), the GPT-3.5 analogue
                        at world scale (a near-oracle on the world's rewrite rule, card §5);
    `PromptedRewriter`  SmolLM2-135M-Instruct (or any local chat model) prompted with App. B.1
                        word for word: the system line, the paper's two examples as user /
                        assistant turns, then the conversation, in the model's chat template.
Measured on 60 held-out follow-up turns (seed 0): SmolLM2-135M-Instruct mostly echoes the
few-shot examples ("How is the calculation for adjustments made by SHIP determined?"), so MiniLM
on its rewrites reaches recall@1 0.07 (history 0.28, gold rewrites 0.85), at ~6 s per turn on one
loaded CPU thread: a 135M model does not play GPT-3.5's part. The tiny rewriter writes the right
question but with a training entity's name on held-out entities (its word-level vocabulary has
no way to copy an unseen name).

"History as the query" (Table 1's "Dragon" row) needs no rewriter: the single-turn retriever
reads the dragon-multiturn query of `retriever.format_query`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch

from paperzoo.chatqa.config import LMConfig
from paperzoo.chatqa.retriever import ROLES, format_query
from paperzoo.core.atomic import atomic_dir
from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.trainer import Trainer, WholeState, make_accelerator

from paperzoo.core.generation import generate
from paperzoo.core.sft import batch_indices, masked_lm_loss, pad_examples

History = Sequence[tuple[str, str]]
KIND_FILE = "paperzoo.json"

# ---- App. B.1, word for word ---------------------------------------------------------------------
SYSTEM = "You are a helpful, pattern-following assistant."
HEADER = "Given the following conversation between PersonU and PersonA:"
# The paper's verbatim block wraps long lines at the page width; the wraps are joined with spaces.
INSTRUCTION = ("Instead of having this entire conversation, how can PersonU get what he or she is "
               "looking for using a single question? Respond with that question.")
FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("PersonU: Hello, I would like to know what to do if I do not agree with any decision.\n"
     "PersonA: disagree with our decision about your monthly income adjustment amounts?\n"
     "PersonU: no. Where can I find my SHIP contact information?\n"
     "PersonA: You can find your local SHIP contact information in the back of your "
     "Medicare & You 2020 Handbook online.\n"
     "PersonU: and how do they calculate the adjustments?",
     "How is the calculation for adjustments made by SHIP determined?"),
    ("PersonU: I need to know how to prepare for college.\n"
     "PersonA: You should first define your goals and interest and be sure to know the "
     "costs and how to plan financially and academically for college.\n"
     "PersonU: Is there something I can use as a guide to get ready for it?",
     "What resources or guides can I use to help me prepare for college?"),
)


def conversation_text(history: History, question: str) -> str:
    """The App. B.1 {Dialogue History + Latest Question}: "PersonU: ..." / "PersonA: ..." lines."""
    lines = []
    for q, a in history:
        lines += [f"PersonU: {q}", f"PersonA: {a}"]
    lines.append(f"PersonU: {question}")
    return "\n".join(lines)


def rewrite_messages(history: History, question: str) -> list[dict[str, str]]:
    """The App. B.1 few-shot prompt as chat messages (its role-user / role-assistant turns)."""
    messages = [{"role": "system", "content": SYSTEM}]
    for conversation, rewrite in FEW_SHOT:
        messages += [{"role": "user", "content": f"{HEADER}\n{conversation}\n{INSTRUCTION}"},
                     {"role": "assistant", "content": rewrite}]
    messages.append({"role": "user", "content": f"{HEADER}\n\n{conversation_text(history, question)}\n\n{INSTRUCTION}"})
    return messages


def _first_line(text: str) -> str:
    """A chat model's answer trimmed to the question it was asked for (its first non-empty line)."""
    for line in text.strip().splitlines():
        line = line.strip().strip('"').strip()
        if line:
            return line
    return ""


def rewriter_pairs(dialogues) -> list[tuple[str, str]]:
    """Training pairs for the tiny rewriter: (the dragon-multiturn query of a turn, its gold
    standalone rewrite), every turn of every dialogue."""
    out = []
    for d in dialogues:
        history: list[tuple[str, str]] = []
        for t in d.turns:
            out.append((format_query(history, t.question), t.rewrite))
            history.append((t.question, t.answer))
    return out


def _word_tokenizer():
    from paperzoo.world.conversations import tokenizer

    try:
        return tokenizer(extra_words=ROLES)
    except TypeError:  # a world tokenizer without extra words
        return tokenizer()


# ---- the tiny rewriter (the GPT-3.5 analogue) ----------------------------------------------------
class TinyRewriter:
    """A tiny Llama that reads "<bos> user: ... agent: ... user: {question}" and writes the
    standalone question, then <eos>. Trained with the masked LM loss on the rewrite only."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer

    @classmethod
    def new(cls, lm: LMConfig | None = None, tokenizer=None, seed: int = 0) -> "TinyRewriter":
        from dataclasses import replace

        from transformers import LlamaForCausalLM

        tokenizer = tokenizer or _word_tokenizer()
        lm = lm or LMConfig(0, 128, 2, 4, 4, 384, 384)  # ours: the size of config "tiny-ci"
        if lm.vocab_size == 0:
            lm = replace(lm, vocab_size=len(tokenizer))
        torch.manual_seed(seed)
        return cls(LlamaForCausalLM(lm.to_llama()), tokenizer)

    @property
    def window(self) -> int:
        return int(self.model.config.max_position_embeddings)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def prompt_ids(self, query: str, room: int = 0) -> list[int]:
        """<bos> + the conversation; cut from the left (oldest turns first) to leave `room`."""
        body = self._ids(query)[-(self.window - 1 - room):]
        return [int(self.tokenizer.bos_token_id)] + body

    def example(self, query: str, rewrite: str) -> tuple[list[int], list[bool]]:
        target = self._ids(rewrite) + [int(self.tokenizer.eos_token_id)]
        head = self.prompt_ids(query, room=len(target))
        return head + target, [False] * len(head) + [True] * len(target)

    def train(self, pairs: Sequence[tuple[str, str]], out_dir: str | Path, *, steps: int = 400,
              batch_size: int = 32, lr: float = 1e-3, warmup: int = 20, seed: int = 0, device: str = "cpu",
              resume: bool = False, checkpoint_every: int = 0, progress: bool = False) -> list[dict]:
        """Masked SFT on (query, gold rewrite) pairs on core's Trainer; returns the history."""
        if not pairs:
            raise InputError("TinyRewriter.train: no (query, rewrite) pairs")
        tuned = WholeState(self.model)  # whole-state resume checkpoints of a causal LM
        opt = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
        trainer = Trainer(tuned, opt, warmup_cosine(opt, warmup, steps, 0.1), out_dir,
                          accelerator=make_accelerator(device), checkpoint_every=checkpoint_every,
                          grad_clip=1.0, desc="rewriter", progress=progress)

        def batch_fn(step: int) -> dict:
            idx = batch_indices(len(pairs), batch_size, seed, step)
            return pad_examples([self.example(*pairs[i]) for i in idx], int(self.tokenizer.pad_token_id))

        trainer.fit(batch_fn, lambda m, b: {"loss": masked_lm_loss(m, b)}, steps, resume=resume)
        self.model = trainer.unwrapped.inner.eval()
        return trainer.history

    def rewrite(self, conversations: Sequence[tuple[History, str]], max_new_tokens: int = 32,
                batch_size: int = 128) -> list[str]:
        """Greedy standalone questions for (history, question) pairs."""
        prompts = [self.prompt_ids(format_query(h, q), room=max_new_tokens) for h, q in conversations]
        outs = generate(self.model, prompts, max_new_tokens=max_new_tokens, eos_id=int(self.tokenizer.eos_token_id),
                        pad_id=int(self.tokenizer.pad_token_id), temperature=0.0, batch_size=batch_size)
        return [self.tokenizer.decode(o[0], skip_special_tokens=True).strip() for o in outs]

    def save_pretrained(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_dir(path) as tmp:
            self.model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            (tmp / KIND_FILE).write_text(json.dumps({"kind": "tiny_rewriter"}) + "\n")
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "TinyRewriter":
        from transformers import AutoTokenizer, LlamaForCausalLM

        path = Path(path)
        if not (path / KIND_FILE).is_file() or not (path / "config.json").is_file():
            raise CheckpointError(f"rewriter folder {path} is missing or incomplete (expected config.json and {KIND_FILE})")
        try:
            return cls(LlamaForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path))
        except (OSError, ValueError) as err:
            raise CheckpointError(f"rewriter folder {path} could not be loaded ({err})") from None


# ---- the prompted rewriter (App. B.1 on a real chat model) ---------------------------------------
class PromptedRewriter:
    """A chat model (default SmolLM2-135M-Instruct) prompted with App. B.1, greedy decoding."""

    def __init__(self, model, tokenizer):
        if not getattr(tokenizer, "chat_template", None):
            raise CheckpointError("PromptedRewriter needs a chat model (its tokenizer has no chat template)")
        self.model = model
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, folder: str | Path | None = None) -> "PromptedRewriter":
        """From a local chat-model folder; None: SmolLM2-135M-Instruct (`core.pretrained.smollm2()`)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from paperzoo.core import pretrained

        path = pretrained.smollm2() if folder is None else pretrained.model_folder(folder)
        try:
            return cls(AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path))
        except (OSError, ValueError) as err:
            raise CheckpointError(f"chat model folder {path} could not be loaded ({err})") from None

    def prompt_ids(self, history: History, question: str) -> list[int]:
        ids = self.tokenizer.apply_chat_template(rewrite_messages(history, question), add_generation_prompt=True,
                                                 tokenize=True)
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)

    def rewrite(self, conversations: Sequence[tuple[History, str]], max_new_tokens: int = 48,
                batch_size: int = 16) -> list[str]:
        prompts = [self.prompt_ids(h, q) for h, q in conversations]
        eos = int(self.tokenizer.eos_token_id)
        pad = int(self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos)
        outs = generate(self.model, prompts, max_new_tokens=max_new_tokens, eos_id=eos, pad_id=pad,
                        temperature=0.0, batch_size=batch_size)
        return [_first_line(self.tokenizer.decode(o[0], skip_special_tokens=True)) for o in outs]
