"""Loading the official VMamba release checkpoints (MzeroMiko/VMamba, `.pth`) from a local path.

Our module names are the official ones, so a current checkpoint's state dict loads as is;
older releases need the renames of the official `_load_from_state_dict`:

    patch_embed.proj -> patch_embed.0        patch_embed.norm -> patch_embed.2
    layers.i.blocks.j.ln_1 -> ...norm        layers.i.blocks.j.self_attention -> ...op
    norm -> classifier.norm                  head -> classifier.head

Which release goes with which config (card §6): vssm1_tiny_0230s -> vmamba-t;
vssm_tiny_0230 -> vmamba-t-s2l5; vssm_{small,base}_0229 -> vmamba-s / vmamba-b;
vssm1_{small,base}_0229s -> vmamba-s-s1l20 / vmamba-b-s1l20; vssm{tiny,small,base}_dp0x ->
vanilla-t/s/b. The load is strict: a missing, unexpected or mis-shaped key is an error
that names it.

Release files are training snapshots: besides `model` (and sometimes `model_ema`) they
pickle the training config, which `torch.load(weights_only=True)` refuses. Pass
`trust_pickle=True` only for files you trust. A state dict in the official layout saved as
`.safetensors` (e.g. the parity fixture of `tests/fixtures/vmamba/`) loads the same way,
with nothing to trust.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch

from paperzoo.core.errors import CheckpointError
from paperzoo.vmamba.config import VMambaConfig, registry
from paperzoo.vmamba.model import VMamba

LEGACY_PREFIXES = (("patch_embed.proj", "patch_embed.0"), ("patch_embed.norm", "patch_embed.2"),
                   ("norm.", "classifier.norm."), ("head.", "classifier.head."))
LEGACY_BLOCK = re.compile(r"^(layers\.\d+\.blocks\.\d+\.)(ln_1|self_attention)\.")


def map_official_keys(state: dict) -> dict:
    """Apply the official legacy renames; current keys pass through unchanged."""
    out = {}
    for key, value in state.items():
        new = key.removeprefix("module.")
        for old, repl in LEGACY_PREFIXES:
            if new.startswith(old):
                new = repl + new[len(old):]
                break
        new = LEGACY_BLOCK.sub(lambda m: m.group(1) + {"ln_1": "norm", "self_attention": "op"}[m.group(2)] + ".", new)
        out[new] = value
    return out


def read_official(path: str | Path, ema: bool = False, trust_pickle: bool = False) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return map_official_keys(load_file(str(path)))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({str(e)[:200]})") from e
    try:
        blob = torch.load(str(path), map_location="cpu", weights_only=not trust_pickle)
    except Exception as e:  # noqa: BLE001 - every way an unpickler fails means an unusable file
        if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in str(e):
            raise CheckpointError(f"{path}: holds pickled objects besides tensors (the release files pickle their training "
                                  "config); load it with trust_pickle=True (CLI: --trust-checkpoint) if you trust the file") from e
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {str(e)[:200]})") from e
    if isinstance(blob, dict) and ("model" in blob or "model_ema" in blob):
        key = "model_ema" if ema and "model_ema" in blob else "model"
        if ema and "model_ema" not in blob:
            raise CheckpointError(f"{path}: no 'model_ema' weights in this checkpoint (keys: {', '.join(blob)})")
        blob = blob[key]
    if not isinstance(blob, dict) or not all(isinstance(v, torch.Tensor) for v in blob.values()):
        raise CheckpointError(f"{path}: expected a state dict (or a dict with 'model'), got {type(blob).__name__}")
    return map_official_keys(blob)


def load_official(path: str | Path, config: VMambaConfig | str, ema: bool = False, trust_pickle: bool = False) -> VMamba:
    """A VMamba of `config` with the weights of an official release checkpoint (strict)."""
    config = registry.get(config)
    state = read_official(path, ema, trust_pickle)
    model = VMamba(config)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = [f"{len(missing)} missing (e.g. {', '.join(missing[:3])})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})" if unexpected else "",
                 f"{len(wrong)} of another shape (e.g. {wrong[0]})" if wrong else ""]
        raise CheckpointError(f"{path}: does not fit the config ({'; '.join(p for p in parts if p)}); "
                              "check which config the release file belongs to (module docstring)")
    model.load_state_dict(state, strict=True)
    return model


def load_pretrained(path: str | Path, config: VMambaConfig | str | None = None, **kwargs) -> VMamba:
    """A paperzoo checkpoint folder (config.json + safetensors) or an official `.pth` file."""
    path = Path(path)
    if path.is_dir():
        return VMamba.from_pretrained(path)  # a paperzoo folder: safetensors, nothing to trust or choose
    if config is None:
        raise CheckpointError(f"{path}: an official checkpoint needs its config name (e.g. 'vmamba-t')")
    return load_official(path, config, **kwargs)
