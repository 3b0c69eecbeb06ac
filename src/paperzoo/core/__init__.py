"""Shared machinery with no paper logic: errors, cache folder, atomic writes, seeding,
named-config registry, checkpoints, the training loop and the reproduction report.

`core` imports no system; systems import `core`.
"""

from paperzoo.core.errors import PaperzooError, ConfigError, CheckpointError, InputError
from paperzoo.core.cache import cache_dir
from paperzoo.core.atomic import atomic_path, atomic_dir
from paperzoo.core.seeding import seed_everything
from paperzoo.core.registry import ConfigRegistry

__all__ = [
    "PaperzooError", "ConfigError", "CheckpointError", "InputError",
    "cache_dir", "atomic_path", "atomic_dir", "seed_everything", "ConfigRegistry",
]
