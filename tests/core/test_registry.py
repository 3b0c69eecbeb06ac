from dataclasses import dataclass

import pytest

from paperzoo.core.errors import ConfigError, PaperzooError
from paperzoo.core.registry import ConfigRegistry
from paperzoo.core.seeding import seed_everything


@dataclass(frozen=True)
class C:
    n: int = 1


def test_registry_get_names_and_unknown():
    reg = ConfigRegistry("demo")
    reg.register("a", C(1))
    reg.register("b", C(2))
    assert reg.get("b") == C(2)
    assert reg.get(C(7)) == C(7)
    assert reg.names() == ["a", "b"]
    with pytest.raises(ConfigError, match="unknown demo config 'zzz'; known: a, b"):
        reg.get("zzz")
    assert issubclass(ConfigError, PaperzooError) and issubclass(ConfigError, ValueError)
    with pytest.raises(ValueError):
        reg.register("a", C(3))


def test_same_seed_same_numbers():
    import numpy as np
    import torch

    seed_everything(3)
    a = (torch.rand(3), np.random.rand(3))
    seed_everything(3)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all()
