"""Named configs: a registry of dataclass *values* per system (nanoGPT / timm style).

A named config is plain data; `registry.get("vit-b-16")` returns it, and an unknown name
raises a ConfigError that lists the known names.
"""

import dataclasses
from typing import Generic, TypeVar

from paperzoo.core.errors import ConfigError

C = TypeVar("C")


class ConfigRegistry(Generic[C]):
    """Maps names to frozen dataclass config values for one system."""

    def __init__(self, system: str):
        self.system = system
        self._configs: dict[str, C] = {}

    def register(self, name: str, config: C) -> C:
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"config {name!r} must be a dataclass value, got {type(config).__name__}")
        if name in self._configs:
            raise ValueError(f"{self.system} config {name!r} is registered twice")
        self._configs[name] = config
        return config

    def get(self, name_or_config: "str | C") -> C:
        """The config named `name_or_config`, or the value itself when it is already a config."""
        if not isinstance(name_or_config, str):
            if dataclasses.is_dataclass(name_or_config):
                return name_or_config
            raise ConfigError(f"expected a {self.system} config name or config value, got {type(name_or_config).__name__}")
        try:
            return self._configs[name_or_config]
        except KeyError:
            raise ConfigError(
                f"unknown {self.system} config {name_or_config!r}; known: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return list(self._configs)

    def __contains__(self, name: str) -> bool:
        return name in self._configs
