"""Real scale under `accelerate launch` (card §6): embedding and the kernel sums split
across processes.

1. Each process embeds a contiguous shard of the sorted file list (autocast when the
   accelerator has mixed precision on); `gather_for_metrics` reassembles the embeddings
   in file order and drops the padding duplicates of the last uneven shard.
2. CMMD's three Gram-matrix sums are split by row blocks: process r takes blocks
   r, r + W, r + 2W, ...; the six partial sums (totals and diagonals) are all-reduced, so
   no process ever holds more than `block` rows of any Gram matrix.

    accelerate launch -m paperzoo cmmd score REF EVAL --embedder CLIP_DIR

A single process runs the same code with a world size of 1 (this is what the tests check
against the plain functions).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from paperzoo.cmmd.embedders import Embedder
from paperzoo.cmmd.images import load_images
from paperzoo.cmmd.mmd import ESTIMATORS, SCALE, SIGMA, KernelSums, check_pair, kernel_sums, mmd2_from_sums


def embed_files_sharded(files: list[Path], embedder: Embedder, accelerator, batch_size: int = 64) -> np.ndarray:
    """Embeddings (N, D) of `files` in order, each process embedding its share; every process returns all N."""
    n = len(files)
    per = -(-n // accelerator.num_processes)
    start = min(accelerator.process_index * per, n)
    mine = files[start:start + per]
    out = torch.zeros((per, embedder.dim), dtype=torch.float32, device=accelerator.device)
    autocast = accelerator.autocast() if accelerator.mixed_precision != "no" else nullcontext()
    with autocast:
        for k in tqdm(range(0, len(mine), batch_size), desc="embed (shard)", disable=not accelerator.is_local_main_process):
            chunk = mine[k:k + batch_size]
            out[k:k + len(chunk)] = torch.from_numpy(embedder.embed(load_images(chunk, embedder.input_size), batch_size)).to(out.device)
    # pad rows of a short last shard are cut by count: gather everything, keep the first n
    counts = accelerator.gather(torch.tensor([len(mine)], device=accelerator.device)).cpu().tolist()
    gathered = accelerator.gather(out).cpu()
    rows = [gathered[r * per:r * per + c] for r, c in enumerate(counts)]
    return torch.cat(rows)[:n].numpy()


def cmmd_sharded(x, y, accelerator, sigma: float = SIGMA, scale: float = SCALE, block: int = 4096,
                 dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Both CMMD estimators, the Gram sums split across processes by row blocks."""
    x, y = check_pair(x, y)
    x, y = x.to(accelerator.device, dtype), y.to(accelerator.device, dtype)
    gamma = 1.0 / (2.0 * sigma**2)
    rank, world = accelerator.process_index, accelerator.num_processes

    def shard(a, b, same):
        blocks = range(rank, -(-len(a) // block), world)
        return kernel_sums(a, b, gamma, block, same=same, row_blocks=blocks)

    parts = [shard(x, x, True), shard(y, y, True), shard(x, y, False)]
    local = torch.tensor([[p.total, p.diagonal] for p in parts], dtype=torch.float64, device=accelerator.device)
    total = accelerator.reduce(local, reduction="sum").cpu().tolist()
    xx, yy, xy = (KernelSums(t, d) for t, d in total)
    return {e: scale * mmd2_from_sums(xx, yy, xy, len(x), len(y), e) for e in ESTIMATORS}


def score_sharded(ref: str | Path, ev: str | Path, embedder: Embedder, accelerator, max_count: int | None = None,
                  batch_size: int = 64, block: int = 4096) -> dict:
    """`score.score` across processes: folders embedded in shards, kernel sums split by row blocks."""
    from paperzoo.cmmd.fid import fid
    from paperzoo.cmmd.images import list_images
    from paperzoo.cmmd.score import load_embeddings

    def embeddings(source) -> np.ndarray:
        source = Path(source)
        if source.is_file() and source.suffix == ".npz":
            return load_embeddings(source)[:max_count]
        return embed_files_sharded(list_images(source, max_count), embedder, accelerator, batch_size)

    x, y = embeddings(ref), embeddings(ev)
    values = cmmd_sharded(x, y, accelerator, block=block)
    d = x.shape[1]
    return {"cmmd_unbiased": values["unbiased"], "cmmd_biased": values["biased"], "n_ref": len(x), "n_eval": len(y), "dim": d,
            "sigma": SIGMA, "scale": SCALE, "fid": fid(x, y) if min(len(x), len(y)) > d else None,
            "embedder": embedder.name, "processes": accelerator.num_processes}
