"""LoRA on the UNet, through `peft` (as diffusers' own LoRA training does).

    W x  ->  W x + (alpha / r) B A x        A: (r, in), B: (out, r), B = 0 at the start

on the UNet's attention projections (to_q, to_k, to_v, to_out), its transformer in/out and
feed-forward projections, and its ResNet convolutions (conv1, conv2), so a LoRA can change
both what the model draws and how (a style). The text encoder is not adapted. An expert is
its adapter state alone (`lora_state`); `fold_lora` merges adapters into the weights, which
is how a LoRA is applied for sampling and how a "checkpoint merge" is built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from paperzoo.core.errors import ConfigError

UNET_LORA_TARGETS: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out",
                                      "ff.net.0.proj", "ff.net.2", "conv1", "conv2")


@dataclass(frozen=True)
class LoraSpec:
    rank: int = 4
    alpha: float = 4.0
    targets: tuple[str, ...] = UNET_LORA_TARGETS

    def __post_init__(self):
        object.__setattr__(self, "targets", tuple(self.targets))
        if self.rank <= 0:
            raise ConfigError(f"LoRA rank {self.rank}: must be > 0")

    def to_dict(self) -> dict:
        return {**asdict(self), "targets": list(self.targets)}


def _peft():
    try:
        import peft
    except ImportError:
        raise ConfigError("LoRA experts need the `peft` package (pip install peft, or: make install)") from None
    return peft


def add_lora(model: nn.Module, spec: LoraSpec) -> nn.Module:
    """Inject LoRA adapters (B = 0, so the output is unchanged) into the UNet of `model` (a
    `TextToImage`) in place; only the adapters are left trainable."""
    peft = _peft()
    config = peft.LoraConfig(r=spec.rank, lora_alpha=spec.alpha, target_modules=list(spec.targets), lora_dropout=0.0)
    peft.inject_adapter_in_model(config, model.denoiser.unet)
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
    return model


def lora_state(model: nn.Module) -> dict[str, Tensor]:
    """The UNet's adapter tensors alone (names as peft writes them)."""
    return {k: v.detach().clone() for k, v in _peft().get_peft_model_state_dict(model.denoiser.unet).items()}


def load_lora_state(model: nn.Module, state: dict[str, Tensor]) -> None:
    result = _peft().set_peft_model_state_dict(model.denoiser.unet, state)
    unexpected = getattr(result, "unexpected_keys", None) or []
    if unexpected:
        raise ConfigError(f"LoRA state does not fit this UNet: unexpected keys {unexpected[:3]}")


@torch.no_grad()
def fold_lora(model: nn.Module) -> nn.Module:
    """Merge every adapter of `model`'s UNet into its base layer's weight and put the plain
    layer back; all weights are trainable again."""
    from peft.tuners.lora import LoraLayer

    unet = model.denoiser.unet
    for name, module in list(unet.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent = unet.get_submodule(parent_name) if parent_name else unet
            setattr(parent, child, module.get_base_layer())
    for p in model.parameters():
        p.requires_grad_(True)
    return model
