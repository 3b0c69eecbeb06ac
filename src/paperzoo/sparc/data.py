"""SPARC's data: the scene world for `tiny`, and local image-text data at real scale.

Every source yields batches as dicts {"images": (B, 3, S, S) float in [0, 1],
"token_ids": (B, L) int64, "token_mask": (B, L) bool}, the input of `SparcModel.loss`.

- `WorldData`: an endless seeded stream of scenes (`paperzoo.world.scenes`); batch k is a
  pure function of (config, seed, k), so a resumed run sees the same batches.
- `ImageTextFolder`: a folder of images with a `captions.jsonl` ({"image": relative path,
  "caption": text} per line), e.g. CC3M/COCO exported to disk.
- `WebDatasetShards`: webdataset-style .tar shards ({key}.jpg|png|webp + {key}.txt|json),
  read with the standard library's tarfile.
- `load_tokenizer`: the world's word tokenizer, or a local Hugging Face tokenizer folder
  (SentencePiece or BPE, as `transformers.AutoTokenizer` reads it), truncating captions
  over the context length (the mask keeps only real tokens).
"""

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from paperzoo.core.errors import InputError
from paperzoo.world.scenes import SceneConfig, WordTokenizer, make_scenes

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")

Tokenize = Callable[[Sequence[str]], tuple[torch.Tensor, torch.Tensor]]


# -- tokenizers -----------------------------------------------------------------------------
def load_tokenizer(source: str | Path, context_length: int) -> Tokenize:
    """A function captions -> (token_ids (N, L), token_mask (N, L)) with L = context_length.

    `source`: "world" for the scene world's word vocabulary, or a local folder that
    `transformers.AutoTokenizer.from_pretrained` reads (nothing is downloaded).
    """
    if str(source) == "world":
        words = WordTokenizer()
        return lambda captions: words(list(captions), context_length)
    path = Path(source)
    if not path.is_dir():
        raise InputError(f"tokenizer {source!r}: expected 'world' or a local Hugging Face tokenizer folder")
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as err:
        raise InputError(f"tokenizer folder {path} could not be read ({err})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token

    def tokenize(captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = tok(list(captions), padding="max_length", truncation=True, max_length=context_length, return_tensors="pt")
        return enc["input_ids"].long(), enc["attention_mask"].bool()

    return tokenize


# -- images -----------------------------------------------------------------------------------
def load_image(source: str | Path | bytes, size: int) -> np.ndarray:
    """Read an image (path or bytes) as RGB, resize the shorter side to `size` (bicubic) and
    centre-crop to (size, size): (size, size, 3) uint8. RGBA, palette and greyscale become RGB."""
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"image {name} is unreadable ({err})") from None


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


# -- the world ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorldData:
    """Endless seeded scene batches for the tiny config (card §5)."""

    scene_config: SceneConfig
    seed: int
    batch_size: int
    context_length: int
    rank: int = 0  # under DDP each process draws its own scenes
    world_size: int = 1

    def __call__(self, step: int) -> dict[str, torch.Tensor]:
        start = (step * self.world_size + self.rank) * self.batch_size
        batch = make_scenes(self.scene_config, self.seed, self.batch_size, start=start, split="train")
        L = self.context_length
        return {
            "images": batch.images_float(),
            "token_ids": torch.from_numpy(batch.token_ids[:, :L]).long(),
            "token_mask": torch.from_numpy(batch.token_mask[:, :L]),
        }


# -- local real data --------------------------------------------------------------------------
class ImageTextFolder:
    """A local folder of images plus `captions.jsonl`; index i -> (image uint8 (S,S,3), caption)."""

    def __init__(self, root: str | Path, image_size: int, captions_file: str = "captions.jsonl"):
        self.root = Path(root)
        self.image_size = image_size
        index = self.root / captions_file
        if not self.root.is_dir():
            raise InputError(f"data folder {self.root} does not exist")
        if not index.is_file():
            raise InputError(f"data folder {self.root} has no {captions_file} (one JSON object per line: {{\"image\": ..., \"caption\": ...}})")
        self.items: list[tuple[Path, str]] = []
        for n, line in enumerate(index.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                self.items.append((self.root / row["image"], str(row["caption"])))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{index}:{n}: expected a JSON object with 'image' and 'caption'") from None
        if not self.items:
            raise InputError(f"{index} lists no images; the data folder is empty")
        missing = [str(p) for p, _ in self.items if not p.is_file()]
        if missing:
            raise InputError(f"{index} lists {len(missing)} image(s) that do not exist, e.g. {missing[0]}")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        path, caption = self.items[i]
        return load_image(path, self.image_size), caption


class WebDatasetShards:
    """Iterate (image uint8 (S,S,3), caption) pairs from webdataset .tar shards, in order."""

    def __init__(self, shards: Sequence[str | Path], image_size: int):
        self.shards = [Path(s) for s in shards]
        if not self.shards:
            raise InputError("no webdataset shards given (expected one or more .tar files)")
        for s in self.shards:
            if not s.is_file():
                raise InputError(f"webdataset shard {s} does not exist")
        self.image_size = image_size

    def __iter__(self) -> Iterator[tuple[np.ndarray, str]]:
        for shard in self.shards:
            try:
                tar = tarfile.open(shard)
            except tarfile.TarError as err:
                raise InputError(f"webdataset shard {shard} is not a readable tar file ({err})") from None
            with tar:
                sample_key, parts = None, {}
                for member in tar:
                    if not member.isfile():
                        continue
                    key, _, ext = member.name.partition(".")
                    if key != sample_key:
                        if parts:
                            yield from self._decode(shard, sample_key, parts)
                        sample_key, parts = key, {}
                    parts[ext.lower()] = tar.extractfile(member).read()
                if parts:
                    yield from self._decode(shard, sample_key, parts)

    def _decode(self, shard: Path, key: str, parts: dict[str, bytes]) -> Iterator[tuple[np.ndarray, str]]:
        image = next((parts[e] for e in ("jpg", "jpeg", "png", "webp") if e in parts), None)
        if image is None:
            return  # a key without an image (e.g. metadata only) is skipped, as webdataset does
        if "txt" in parts:
            caption = parts["txt"].decode("utf-8").strip()
        elif "json" in parts:
            caption = str(json.loads(parts["json"]).get("caption", ""))
        else:
            raise InputError(f"webdataset shard {shard}: sample {key!r} has an image but no .txt or .json caption")
        yield load_image(image, self.image_size), caption


def real_batches(
    pairs: "ImageTextFolder | WebDatasetShards", tokenize: Tokenize, batch_size: int, seed: int = 0,
    rank: int = 0, world_size: int = 1,
) -> Callable[[int], dict]:
    """A `batch_fn(step)` over local data: folders are shuffled per epoch (seeded), shards streamed
    and cycled. Folder batches are a pure function of the step, so `--resume` sees the same data.
    Under DDP (`world_size` processes) each rank takes its own slice of the folder's order, and
    its own shards (round robin; there must be at least one shard per rank)."""

    def collate(items: list[tuple[np.ndarray, str]]) -> dict[str, torch.Tensor]:
        ids, mask = tokenize([c for _, c in items])
        return {"images": to_tensor(np.stack([im for im, _ in items])), "token_ids": ids, "token_mask": mask}

    if isinstance(pairs, ImageTextFolder):
        n = len(pairs)

        def folder_batch(step: int) -> dict:
            # Global sample g of the run is item order_e[g mod n] of epoch e = g // n.
            first = (step * world_size + rank) * batch_size
            positions = range(first, first + batch_size)
            orders = {e: np.random.default_rng([seed, e]).permutation(n) for e in {g // n for g in positions}}
            return collate([pairs[int(orders[g // n][g % n])] for g in positions])

        return folder_batch

    if world_size > 1:
        if len(pairs.shards) < world_size:
            raise InputError(f"{len(pairs.shards)} webdataset shard(s) cannot feed {world_size} processes; give at least one per process")
        pairs = WebDatasetShards(pairs.shards[rank::world_size], pairs.image_size)

    def stream() -> Iterator:
        while True:
            yield from pairs

    it = stream()
    return lambda step: collate([next(it) for _ in range(batch_size)])
