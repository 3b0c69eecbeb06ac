"""Real-scale data paths, on tiny data the tests write: image folders + JSONL, webdataset
shards, a local Hugging Face tokenizer folder, and training end to end on them."""

import io
import json
import tarfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

import paperzoo.sparc as sparc
from paperzoo.core.errors import InputError
from paperzoo.sparc.data import ImageTextFolder, WebDatasetShards, load_image, load_tokenizer, real_batches

WORDS = ["a", "red", "blue", "circle", "square", "dog", "cat", "on", "the", "grass"]


def write_tokenizer(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(folder)
    return folder


def image_bytes(mode: str, size=(40, 30), fmt="PNG", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arr = rng.integers(0, 255, (size[1], size[0], channels), dtype=np.uint8).squeeze()
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, fmt)
    return buf.getvalue()


def write_folder(root, n=6):
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    modes = [("RGB", "jpg", "JPEG"), ("RGBA", "png", "PNG"), ("L", "png", "PNG")]
    for i in range(n):
        mode, ext, fmt = modes[i % 3]
        (root / f"img{i}.{ext}").write_bytes(image_bytes(mode, fmt=fmt, seed=i))
        rows.append({"image": f"img{i}.{ext}", "caption": "a red circle on the grass" if i % 2 else "a blue dog"})
    (root / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def write_shard(path, n=5):
    with tarfile.open(path, "w") as tar:
        for i in range(n):
            for ext, data in (("jpg", image_bytes("RGB", fmt="JPEG")), ("txt", f"a cat {i}".encode())):
                info = tarfile.TarInfo(f"{i:05d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_load_image_centre_crops_any_mode():
    for mode in ("RGB", "RGBA", "L"):
        im = load_image(image_bytes(mode, size=(40, 30)), 16)
        assert im.shape == (16, 16, 3) and im.dtype == np.uint8
    with pytest.raises(InputError, match="unreadable"):
        load_image(b"not an image", 16)


def test_hf_tokenizer_folder_truncates_and_masks(tmp_path):
    tokenize = load_tokenizer(write_tokenizer(tmp_path / "tok"), context_length=4)
    ids, mask = tokenize(["a red circle", "a red circle on the grass"])
    assert ids.shape == (2, 4) and mask.tolist() == [[True, True, True, False], [True] * 4]
    assert ids[0, :3].tolist() == [2, 3, 5]
    with pytest.raises(InputError, match="tokenizer 'nowhere'"):
        load_tokenizer("nowhere", 4)


def test_image_text_folder_and_errors(tmp_path):
    data = ImageTextFolder(write_folder(tmp_path / "d"), image_size=16)
    assert len(data) == 6
    image, caption = data[1]
    assert image.shape == (16, 16, 3) and caption == "a red circle on the grass"
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="has no captions.jsonl"):
        ImageTextFolder(tmp_path / "empty", 16)
    (tmp_path / "empty" / "captions.jsonl").write_text("\n")
    with pytest.raises(InputError, match="empty"):
        ImageTextFolder(tmp_path / "empty", 16)
    (tmp_path / "empty" / "captions.jsonl").write_text('{"image": "gone.png", "caption": "x"}\n')
    with pytest.raises(InputError, match="do not exist, e.g. .*gone.png"):
        ImageTextFolder(tmp_path / "empty", 16)
    (tmp_path / "empty" / "captions.jsonl").write_text('{"img": 1}\n')
    with pytest.raises(InputError, match="captions.jsonl:1"):
        ImageTextFolder(tmp_path / "empty", 16)


def test_webdataset_shards(tmp_path):
    shards = [write_shard(tmp_path / "a.tar", 3), write_shard(tmp_path / "b.tar", 2)]
    pairs = list(WebDatasetShards(shards, 16))
    assert len(pairs) == 5 and pairs[0][0].shape == (16, 16, 3) and pairs[2][1] == "a cat 2"
    with pytest.raises(InputError, match="does not exist"):
        WebDatasetShards([tmp_path / "c.tar"], 16)
    (tmp_path / "bad.tar").write_bytes(b"nope")
    with pytest.raises(InputError, match="not a readable tar"):
        list(WebDatasetShards([tmp_path / "bad.tar"], 16))


def test_folder_batches_are_a_function_of_the_step(tmp_path):
    data = ImageTextFolder(write_folder(tmp_path / "d", n=5), image_size=16)
    tokenize = load_tokenizer(write_tokenizer(tmp_path / "tok"), 8)
    fn = real_batches(data, tokenize, batch_size=4, seed=0)
    a, b = fn(3), fn(3)
    assert torch.equal(a["images"], b["images"]) and a["token_ids"].shape == (4, 8)
    # Every epoch visits every item once: steps 0..4 cover 20 samples = 4 epochs of 5.
    seen = torch.cat([fn(s)["images"] for s in range(5)]).flatten(1).sum(1)
    singles = torch.stack([torch.tensor(data[i][0]).float().sum() / 255 for i in range(5)])
    counts = [(seen - s).abs().lt(1e-3).sum().item() for s in singles]
    assert counts == [4] * 5


SMALL = replace(
    sparc.config("tiny"),
    vision=sparc.VisionConfig(image_size=16, patch_size=8, width=32, layers=1, heads=2),
    text=sparc.TextConfig(vocab_size=16, context_length=8, width=32, layers=1, heads=2),
    embed_dim=16,
)


@pytest.mark.parametrize("kind", ["folder", "shards"])
def test_train_end_to_end_on_local_data(tmp_path, kind):
    tok = write_tokenizer(tmp_path / "tok")
    data = write_folder(tmp_path / "d") if kind == "folder" else [write_shard(tmp_path / "a.tar"), write_shard(tmp_path / "b.tar")]
    model, history = sparc.train(SMALL, "tiny", out_dir=tmp_path / "run", data=data, tokenizer=tok,
                                 steps=3, batch_size=4, device="cpu", progress=False)
    assert len(history) == 1 and np.isfinite(history[-1]["loss"])
    loaded = sparc.SparcModel.from_pretrained(tmp_path / "run" / "model")
    assert loaded.config == SMALL


def test_world_data_needs_world_tokenizer(tmp_path):
    with pytest.raises(InputError, match="--tokenizer world"):
        sparc.train("tiny", out_dir=tmp_path, data="world", tokenizer=str(tmp_path), steps=1, progress=False)


def test_ranks_draw_disjoint_data(tmp_path):
    from paperzoo.sparc.data import WorldData
    from paperzoo.world.scenes import SceneConfig

    ranks = [WorldData(SceneConfig(), 0, 4, 16, rank=r, world_size=2)(step=3) for r in (0, 1)]
    assert not torch.equal(ranks[0]["images"], ranks[1]["images"])
    single = WorldData(SceneConfig(), 0, 8, 16)(step=3)  # one process, double batch: the same 8 scenes
    assert torch.equal(torch.cat([r["images"] for r in ranks]), single["images"])

    data = ImageTextFolder(write_folder(tmp_path / "d", n=8), image_size=16)
    tokenize = load_tokenizer(write_tokenizer(tmp_path / "tok"), 8)
    halves = [real_batches(data, tokenize, 4, seed=0, rank=r, world_size=2)(0)["images"] for r in (0, 1)]
    whole = real_batches(data, tokenize, 8, seed=0)(0)["images"]
    assert torch.equal(torch.cat(halves), whole)

    shards = [write_shard(tmp_path / "a.tar", 2)]
    with pytest.raises(InputError, match="cannot feed 2 processes"):
        real_batches(WebDatasetShards(shards, 16), tokenize, 2, rank=0, world_size=2)


def test_data_globs_expand(tmp_path):
    from paperzoo.sparc.train import expand_paths

    for name in ("b.tar", "a.tar"):
        write_shard(tmp_path / name, 1)
    assert expand_paths([str(tmp_path / "*.tar")]) == [tmp_path / "a.tar", tmp_path / "b.tar"]
    with pytest.raises(InputError, match="matches no file"):
        expand_paths([str(tmp_path / "*.zip")])
