"""Score a set of images against a reference set: CMMD (both estimators, labelled) and FID.

Either side may be a folder of images or an `.npz` file of embeddings (array
"embeddings", (N, D)), such as one written by `save_embeddings` or by `--cache`.
Embeddings of a folder are cached (when a cache folder is given) under a key made of the
embedder's weights fingerprint, its preprocessing, and the ordered file list with sizes and
modification times, so any change to any of them recomputes.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.cmmd.embedders import Embedder, load_embedder
from paperzoo.cmmd.fid import fid
from paperzoo.cmmd.images import list_images, load_images
from paperzoo.cmmd.mmd import SCALE, SIGMA, cmmd_both


def save_embeddings(path: str | Path, embeddings: np.ndarray, meta: dict | None = None) -> Path:
    """Write (N, D) embeddings (and JSON metadata) as an .npz, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, embeddings=np.asarray(embeddings, np.float32), meta=np.asarray(json.dumps(meta or {})))
    return path


def load_embeddings(path: str | Path) -> np.ndarray:
    """(N, D) float32 from an .npz with an "embeddings" array; a bad file raises naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "embeddings" not in data:
                raise InputError(f"{path}: no 'embeddings' array (found {', '.join(data.files) or 'nothing'})")
            embeddings = data["embeddings"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: not a readable .npz of embeddings ({type(e).__name__}: {e})") from e
    if embeddings.ndim != 2 or not len(embeddings):
        raise InputError(f"{path}: embeddings must be a non-empty (N, D) array, got shape {embeddings.shape}")
    return embeddings.astype(np.float32)


def cache_key(embedder: Embedder, files: list[Path]) -> str:
    listing = [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    blob = json.dumps([embedder.describe(), listing], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def embed_folder(folder: str | Path, embedder: Embedder, max_count: int | None = None, cache: str | Path | None = None,
                 batch_size: int = 64, progress: bool = True, drop_remainder: int | None = None) -> np.ndarray:
    """Embeddings of the sorted images of `folder` (the first `max_count`), cached if `cache` is given."""
    files = list_images(folder, max_count, drop_remainder)
    path = Path(cache) / f"{Path(folder).name}-{cache_key(embedder, files)}.npz" if cache else None
    if path is not None and path.is_file():
        try:
            cached = load_embeddings(path)
            if cached.shape == (len(files), embedder.dim):
                return cached
        except InputError:
            pass  # a damaged cache entry is recomputed
    out = np.zeros((len(files), embedder.dim), np.float32)
    from tqdm.auto import tqdm

    with tqdm(total=len(files), desc=f"embed {Path(folder).name}", disable=not progress, unit="img") as bar:
        for start in range(0, len(files), batch_size):
            chunk = files[start:start + batch_size]
            out[start:start + len(chunk)] = embedder.embed(load_images(chunk, embedder.input_size), batch_size=batch_size)
            bar.update(len(chunk))
    if path is not None:
        save_embeddings(path, out, {**embedder.describe(), "folder": str(folder), "count": len(files)})
    return out


def embeddings_of(source: str | Path, embedder_factory, **kwargs) -> np.ndarray:
    """A folder is embedded; an .npz is read as embeddings."""
    source = Path(source)
    if source.is_file() and source.suffix == ".npz":
        return load_embeddings(source)[: kwargs.get("max_count")]
    if not source.exists():
        raise InputError(f"{source}: no such folder or .npz file")
    if not source.is_dir():
        raise InputError(f"{source}: expected a folder of images or an .npz of embeddings")
    list_images(source, kwargs.get("max_count"), kwargs.get("drop_remainder"))  # a bad folder fails before any model loads
    return embed_folder(source, embedder_factory(), **kwargs)


def score_embeddings(ref: np.ndarray, ev: np.ndarray, sigma: float = SIGMA, scale: float = SCALE) -> dict:
    """CMMD (both estimators) and FID (None when N <= D) of two embedding sets."""
    if ref.shape[1] != ev.shape[1]:
        raise InputError(f"reference and evaluated embeddings have different dimensions ({ref.shape[1]} vs {ev.shape[1]}); "
                         "embed both with the same embedder")
    values = cmmd_both(ref, ev, sigma=sigma, scale=scale, estimators=("unbiased", "biased") if min(len(ref), len(ev)) > 1 else ("biased",))
    result = {"cmmd_unbiased": values.get("unbiased"), "cmmd_biased": values["biased"],
              "n_ref": len(ref), "n_eval": len(ev), "dim": ref.shape[1], "sigma": sigma, "scale": scale}
    if min(len(ref), len(ev)) > ref.shape[1]:
        result["fid"] = fid(ref, ev)
    else:
        result["fid"] = None
        result["fid_note"] = f"FID needs more images than embedding dimensions (N > {ref.shape[1]})"
    return result


def score(ref: str | Path, ev: str | Path, embedder: str | Path | Embedder | None = None, max_count: int | None = None,
          cache: str | Path | None = None, device: str = "cpu", batch_size: int = 64, progress: bool = True,
          drop_remainder: int | None = None) -> dict:
    """Score folder (or .npz) `ev` against `ref`; see `score_embeddings` for the fields."""
    made: list[Embedder] = []

    def factory() -> Embedder:  # built only if a folder needs embedding, and only once
        if not made:
            made.append(load_embedder(embedder, device, progress))
        return made[0]

    kwargs = dict(max_count=max_count, cache=cache, batch_size=batch_size, progress=progress, drop_remainder=drop_remainder)
    for source in (ref, ev):  # both inputs are checked before anything is embedded
        if Path(source).is_dir():
            list_images(source, max_count, drop_remainder)
    x, y = embeddings_of(ref, factory, **kwargs), embeddings_of(ev, factory, **kwargs)
    result = score_embeddings(x, y)
    if made:
        result["embedder"] = made[0].name
    return result
