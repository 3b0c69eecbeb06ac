"""`ArrayBatch`: examples of one world kind as equal-length arrays plus their captions.

Shared by `scenes.SceneBatch` and `videos.ClipBatch`: indexing a sub-batch, an atomic,
pickle-free .npz round trip in which an unreadable or incomplete file raises one InputError,
a cache that regenerates a missing, corrupt or mismatched file (`cached`), and endless
resumable batches (`stream`).
A subclass is a dataclass whose fields are its arrays (named in `ARRAYS`) and `captions`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable, ClassVar, Iterator, Sequence

import numpy as np

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError


class ArrayBatch:
    ARRAYS: ClassVar[tuple[str, ...]]
    KIND: ClassVar[str]  # for error messages, e.g. "scene batch"
    captions: list[str]

    def __len__(self) -> int:
        return len(getattr(self, self.ARRAYS[0]))

    def __getitem__(self, idx: int | slice | np.ndarray | Sequence[int]):
        """A sub-batch; an int gives a batch of one, so arrays keep their leading axis."""
        if isinstance(idx, (int, np.integer)):
            i = int(idx) + (len(self) if idx < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"index {idx} out of range for a batch of {len(self)}")
            idx = slice(i, i + 1)
        elif not isinstance(idx, slice):
            idx = np.asarray(idx)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
        rows = np.arange(len(self))[idx]
        return type(self)(**{k: getattr(self, k)[idx] for k in self.ARRAYS}, captions=[self.captions[r] for r in rows])

    def save(self, path: str | os.PathLike) -> Path:
        """Write an .npz atomically (captions as a unicode array, no pickling)."""
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz"
                np.savez_compressed(f, **{k: getattr(self, k) for k in self.ARRAYS}, captions=np.asarray(self.captions, dtype=str))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a batch written by `save`; an unreadable or incomplete file raises InputError."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in cls.ARRAYS}
                captions = [str(c) for c in data["captions"]]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"{path}: not a readable {cls.KIND} ({type(e).__name__}: {e})") from e
        n = len(arrays[cls.ARRAYS[0]])
        if any(len(a) != n for a in arrays.values()) or len(captions) != n:
            raise InputError(f"{path}: arrays of different lengths; the file is incomplete")
        return cls(**arrays, captions=captions)

    @classmethod
    def cached(cls, path: Path, n: int, make: Callable[[], "ArrayBatch"], fits: Callable[["ArrayBatch"], bool]):
        """The batch saved at `path` if it is readable, holds `n` examples and `fits`; else `make()`, saved there."""
        if path.exists():
            try:
                batch = cls.load(path)
                if len(batch) == n and fits(batch):
                    return batch
            except InputError:
                pass
        batch = make()
        batch.save(path)
        return batch


def stream(make: Callable[[int, int], ArrayBatch], batch_size: int, start_batch: int = 0) -> Iterator[ArrayBatch]:
    """Endless batches: batch k is `make(batch_size, k * batch_size)`, examples k * batch_size ... (resumable)."""
    if batch_size < 1:
        raise InputError(f"batch_size: must be >= 1, got {batch_size}")
    k = start_batch
    while True:
        yield make(batch_size, k * batch_size)
        k += 1
