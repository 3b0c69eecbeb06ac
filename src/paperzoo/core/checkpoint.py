"""Checkpoints as a folder: `model.safetensors` + `config.json` (the diffusers/transformers layout).

`PretrainedMixin` gives an `nn.Module` whose `config` attribute is a dataclass value the
pair `save_pretrained(path)` / `from_pretrained(path)`. Writes are atomic (a reader never
sees half a checkpoint); every way a checkpoint can be bad raises one CheckpointError
naming the path and what was expected.
"""

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from paperzoo.core.atomic import atomic_dir
from paperzoo.core.errors import CheckpointError

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


def config_to_dict(config: Any) -> dict:
    """A dataclass config (possibly nested) as JSON-ready data."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type, data: dict) -> Any:
    """Rebuild dataclass `cls` from `config_to_dict` output: nested dataclasses and tuples restored."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    kwargs = {}
    for name, value in data.items():
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif isinstance(value, list) and typing.get_origin(hint) is tuple:
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def save_state(path: Path, module: torch.nn.Module) -> None:
    """Write a module's state dict as safetensors (shared tensors cloned so safetensors accepts them)."""
    state = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
    save_file(state, str(path))


def load_state(path: Path, module: torch.nn.Module, strict: bool = True) -> None:
    """Load safetensors into a module, with one CheckpointError for a corrupt file or key mismatch."""
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint weights {path} are unreadable or corrupt ({err})") from None
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"checkpoint {path} does not match {type(module).__name__}: "
            f"missing keys {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected keys {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    bad = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"checkpoint {path}: tensor {k!r} has shape {tuple(state[k].shape)}, "
            f"the model expects {tuple(expected[k].shape)}"
        )
    module.load_state_dict(state, strict=strict)


class PretrainedMixin:
    """`save_pretrained` / `from_pretrained` for a module with a dataclass `config`.

    Subclasses set `config_class` and take the config as their only required constructor argument.
    """

    config_class: ClassVar[type]

    def save_pretrained(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_dir(path) as tmp:
            save_state(tmp / WEIGHTS_NAME, self)
            payload = {"class": type(self).__name__, "config": config_to_dict(self.config)}
            (tmp / CONFIG_NAME).write_text(json.dumps(payload, indent=2) + "\n")
            self.save_extra(tmp)
        return path

    def save_extra(self, folder: Path) -> None:
        """Hook: write files that belong with the weights (e.g. data statistics) into the
        checkpoint folder while it is still being written; `load_extra` reads them back."""

    def load_extra(self, folder: Path) -> None:
        """Hook: read what `save_extra` wrote."""

    @classmethod
    def load_config(cls, path: str | Path):
        path = Path(path)
        if not path.is_dir():
            raise CheckpointError(f"checkpoint folder {path} does not exist (expected a folder with {CONFIG_NAME} and {WEIGHTS_NAME})")
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (path / name).is_file():
                raise CheckpointError(f"checkpoint folder {path} has no {name}")
        try:
            payload = json.loads((path / CONFIG_NAME).read_text())
            if payload.get("class") != cls.__name__:
                raise CheckpointError(
                    f"checkpoint {path} holds a {payload.get('class')!r}, expected a {cls.__name__!r}"
                )
            return config_from_dict(cls.config_class, payload["config"])
        except CheckpointError:
            raise
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
            raise CheckpointError(f"checkpoint config {path / CONFIG_NAME} is corrupt ({err})") from None

    @classmethod
    def from_pretrained(cls, path: str | Path, map_location: str | torch.device = "cpu"):
        config = cls.load_config(path)
        model = cls(config)
        load_state(Path(path) / WEIGHTS_NAME, model)
        model.load_extra(Path(path))
        return model.to(map_location)
