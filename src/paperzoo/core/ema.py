"""An exponential moving average of a model's weights (Polyak averaging, as timm's ModelEma).

After every optimiser step, each floating-point entry of the state dict moves towards the
live model's: ema <- decay * ema + (1 - decay) * weights; integer buffers are copied. The
average is evaluated beside the raw model (VMamba App. E keeps an EMA with decay 0.9999).
"""

import copy

import torch
from torch import nn

from paperzoo.core.errors import ConfigError


class ModelEma:
    """Holds `module`, a frozen copy of the model whose weights are the running average."""

    def __init__(self, model: nn.Module, decay: float = 0.9999):
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"ema decay: expected 0 <= decay < 1, got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        live = model.state_dict()
        for name, avg in self.module.state_dict().items():
            value = live[name].detach()
            if avg.dtype.is_floating_point:
                avg.lerp_(value.to(avg.dtype), 1.0 - self.decay)
            else:
                avg.copy_(value)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
