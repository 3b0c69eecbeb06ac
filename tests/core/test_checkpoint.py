import json
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from paperzoo.core.checkpoint import PretrainedMixin, config_from_dict, config_to_dict
from paperzoo.core.errors import CheckpointError


@dataclass(frozen=True)
class Inner:
    sizes: tuple[int, ...] = (3, 4)


@dataclass(frozen=True)
class TinyConfig:
    inner: Inner = field(default_factory=Inner)
    scale: float = 1.0
    name: str = "x"


class Tiny(PretrainedMixin, nn.Module):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig):
        super().__init__()
        self.config = config
        self.lin = nn.Linear(*config.inner.sizes)


def test_config_round_trip_restores_nested_dataclasses_and_tuples():
    c = TinyConfig(inner=Inner((5, 6)), scale=2.0)
    assert config_from_dict(TinyConfig, json.loads(json.dumps(config_to_dict(c)))) == c


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Tiny(TinyConfig(inner=Inner((3, 2))))
    model.save_pretrained(tmp_path / "m")
    loaded = Tiny.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        Tiny.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        Tiny.from_pretrained(tmp_path / "empty")


def test_corrupt_config_weights_and_mismatches(tmp_path):
    model = Tiny(TinyConfig())
    path = model.save_pretrained(tmp_path / "m")
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json is corrupt"):
        Tiny.from_pretrained(path)

    path = model.save_pretrained(tmp_path / "m")
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="unreadable or corrupt"):
        Tiny.from_pretrained(path)

    path = model.save_pretrained(tmp_path / "m")
    cfg = json.loads((path / "config.json").read_text())
    cfg["config"]["inner"]["sizes"] = [3, 5]
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="has shape"):
        Tiny.from_pretrained(path)

    cfg["class"] = "SomethingElse"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="expected a 'Tiny'"):
        Tiny.from_pretrained(path)


def test_missing_keys_are_named(tmp_path):
    class Other(Tiny):
        def __init__(self, config):
            super().__init__(config)
            self.extra = nn.Linear(2, 2)

    Tiny(TinyConfig()).save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["class"] = "Other"
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="missing keys.*extra"):
        Other.from_pretrained(tmp_path / "m")
