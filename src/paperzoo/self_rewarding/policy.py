"""A policy: a causal LM plus the format that turns text into its tokens.

The same object is the instruction follower and the judge (the point of the paper). A
policy folder is a Hugging Face checkpoint (config.json + model.safetensors + tokenizer
files, readable by `AutoModelForCausalLM.from_pretrained`) plus `paperzoo.json` naming
its prompt style; a folder without it (any local Llama, Mistral, ... checkpoint) is
used in the "chat" style.
"""

from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from paperzoo.core.atomic import atomic_dir
from paperzoo.core.errors import CheckpointError
from paperzoo.self_rewarding.config import LMConfig, model_config
from paperzoo.self_rewarding.formats import Format, world_tokenizer

STYLE_FILE = "paperzoo.json"


@contextmanager
def _quiet_transformers():
    """No per-shard progress bars from transformers while a (tiny) policy is saved or loaded:
    the loop saves and reloads models often, and our own bars say what is happening."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


@dataclass
class Policy:
    model: torch.nn.Module
    fmt: Format

    def copy(self) -> "Policy":
        """An independent copy (M_{t+1} starts as M_t; M_t stays as the DPO reference)."""
        return Policy(copy.deepcopy(self.model), self.fmt)

    def save(self, path: str | Path) -> Path:
        """Write the folder atomically (a reader never sees half a checkpoint)."""
        path = Path(path)
        with atomic_dir(path) as tmp, _quiet_transformers():
            self.model.save_pretrained(tmp)
            self.fmt.tokenizer.save_pretrained(tmp)
            (tmp / STYLE_FILE).write_text(json.dumps({"style": self.fmt.style}) + "\n")
        return path


def new_policy(config: str | LMConfig = "tiny", seed: int = 0) -> Policy:
    """M0 for the world: a randomly initialised Llama of `config` with the world tokenizer."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return Policy(LlamaForCausalLM(model_config(config).to_llama()), Format(world_tokenizer(), "world"))


def load_policy(path: str | Path, dtype: torch.dtype | None = None) -> Policy:
    """A policy from a local folder: ours, or any Hugging Face causal-LM checkpoint."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint folder {path} does not exist (expected a Hugging Face causal-LM folder)")
    if not (path / "config.json").is_file():
        raise CheckpointError(f"checkpoint folder {path} has no config.json (expected a Hugging Face causal-LM folder)")
    style_file = path / STYLE_FILE
    style = json.loads(style_file.read_text()).get("style", "chat") if style_file.is_file() else "chat"
    try:
        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(path)
            kwargs = {"dtype": dtype} if dtype is not None else {}
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"checkpoint folder {path} could not be loaded as a causal LM ({err})") from None
    if tokenizer.eos_token_id is None:
        raise CheckpointError(f"checkpoint {path}: its tokenizer has no EOS token, so responses cannot end")
    return Policy(model, Format(tokenizer, style))
