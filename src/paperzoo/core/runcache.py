"""One run cache for every `reproduce`: a run is trained and scored once, then served
from disk for as long as nothing it depends on has changed.

A run lives in its own folder. Its key is the full settings (a JSON-able dict: the
config, the training budget, the seed, the data), plus a hash of the source files of
the system and of `paperzoo.core` and `paperzoo.world`, so that any change to the code
reruns it instead of serving a stale number. The folder holds:

- `run-key.json`: the key, written before the run starts;
- whatever the run writes (a model, checkpoints it may resume from);
- `result.json`: the run's result, written atomically once the run has finished.

A folder whose `run-key.json` matches and has `result.json` is a cache hit. One whose key
matches but has no result was interrupted: it is kept, so a trainer with `resume` picks
up its checkpoints. One whose key differs is stale: it is emptied before the run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from paperzoo.core.atomic import atomic_path

KEY_FILE, RESULT_FILE = "run-key.json", "result.json"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # src/paperzoo
# Shared packages a system builds on besides core and world; their code is hashed with it.
USES: dict[str, tuple[str, ...]] = {"diffusiongpt": ("diffusion",), "worlddreamer": ("diffusion",),
                                    "customvideo": ("diffusion",)}


@lru_cache(maxsize=None)
def code_hash(system: str) -> str:
    """sha256 over the .py files of `paperzoo.<system>`, `paperzoo.core`, `paperzoo.world` and
    the shared packages it USES (paths and bytes)."""
    h = hashlib.sha256()
    for part in (system, "core", "world", *USES.get(system, ())):
        folder = PACKAGE_ROOT / part
        if not folder.is_dir():
            raise ValueError(f"code_hash: no package folder {folder}")
        for path in sorted(folder.rglob("*.py")):
            h.update(str(path.relative_to(PACKAGE_ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_key(system: str, settings: dict) -> dict:
    """The stored key: the settings as given, and the code hash."""
    try:
        text = json.dumps({"system": system, "code": code_hash(system), "settings": settings}, sort_keys=True)
    except TypeError as err:
        raise ValueError(f"run settings must be JSON-serialisable: {err}") from None
    return json.loads(text)  # normalised as it is stored (tuples become lists)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def cached_run(folder: str | Path, system: str, settings: dict, fn: Callable[[Path], dict]) -> dict:
    """`fn(folder)`'s result for these settings, computed once.

    `fn` trains and scores the run inside `folder` and returns a JSON-able dict; the cache
    adds "run_key" to it. Stale folders are emptied first; interrupted ones are kept.
    """
    folder = Path(folder)
    key = run_key(system, settings)
    stored_key = _read(folder / KEY_FILE)
    if stored_key == key:
        if (result := _result(folder, key)) is not None:
            return result
    elif folder.exists():
        shutil.rmtree(folder)  # stale: another config or older code
    folder.mkdir(parents=True, exist_ok=True)
    if stored_key != key:
        with atomic_path(folder / KEY_FILE) as tmp:
            tmp.write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")
    result = dict(fn(folder))
    result["run_key"] = key
    with atomic_path(folder / RESULT_FILE) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _result(folder: Path, key: dict) -> dict | None:
    """The finished result stored for this key, or None."""
    result = _read(folder / RESULT_FILE)
    return result if isinstance(result, dict) and result.get("run_key") == key else None


def is_cached(folder: str | Path, system: str, settings: dict) -> bool:
    folder = Path(folder)
    key = run_key(system, settings)
    return _read(folder / KEY_FILE) == key and _result(folder, key) is not None
