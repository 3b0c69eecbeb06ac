"""LoRA (Hu et al. 2021) through `peft`, for the systems that fine-tune a real LM on small
hardware (chatqa, self_rewarding): W x + (alpha / r) B A x on every attention and MLP
projection, A and B trained, W frozen; merged back into W afterwards, so what a stage
writes is always a plain Hugging Face model. Where a paper fine-tunes all weights, LoRA is a
named deviation of the system that uses it.
"""

from __future__ import annotations

from torch import nn

from paperzoo.core.errors import ConfigError

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def add_lora(model: nn.Module, rank: int, alpha: int = 16, dropout: float = 0.0) -> nn.Module:
    """`model` with LoRA adapters (rank r, scale alpha/r) on every attention and MLP projection (peft)."""
    if rank <= 0:
        raise ConfigError(f"LoRA rank {rank}: must be > 0 (rank 0 means full fine-tuning: do not add adapters)")
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ConfigError("LoRA tuning needs the `peft` package (pip install peft); "
                          "or use full fine-tuning (lora_rank=0)") from None
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in present]
    if not targets:
        raise ConfigError(f"no LoRA target modules ({', '.join(LORA_TARGETS)}) in {type(model).__name__}")
    return get_peft_model(model, LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                                            target_modules=targets, task_type="CAUSAL_LM"))


def merge_lora(model: nn.Module) -> nn.Module:
    """The plain model with LoRA adapters folded into its weights (W + (alpha/r) B A); a model
    without adapters is returned as it is."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
