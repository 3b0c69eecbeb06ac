"""`create_model`, the timm-style constructor: a named config with overrides, built fresh or
loaded from a local checkpoint (checkpoint.py). Kept apart from model.py so that the network
does not depend on the loaders, which depend on it."""

from __future__ import annotations

from dataclasses import replace

from paperzoo.vmamba.checkpoint import load_pretrained
from paperzoo.vmamba.config import VMambaConfig, registry
from paperzoo.vmamba.model import VMamba


def create_model(name: str | VMambaConfig, num_classes: int | None = None, pretrained: str | None = None,
                 ema: bool = False, trust_pickle: bool = False, **overrides) -> VMamba:
    """timm-style constructor: a named config (see `paperzoo vmamba configs`) with overrides;
    `pretrained` is a local path to an official release checkpoint or a paperzoo folder
    (`ema`: take the release file's "model_ema" weights; `trust_pickle`: allow the pickled
    training config that release files carry)."""
    config = registry.get(name)
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    config = replace(config, **overrides) if overrides else config
    if pretrained is None:
        return VMamba(config)
    return load_pretrained(pretrained, config, ema=ema, trust_pickle=trust_pickle)
