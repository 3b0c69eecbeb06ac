"""The coloured-shapes world: determinism, ground truth consistency, captions, caching."""

from collections import Counter
from dataclasses import replace
from itertools import islice

import numpy as np
import pytest
import torch

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.world import (
    COLOURS,
    PAD_ID,
    TEXTURES,
    VOCAB,
    SceneBatch,
    SceneConfig,
    SceneObject,
    WordTokenizer,
    describe,
    load_scenes,
    make_scenes,
    patch_targets,
    relation_word,
    scene,
    scene_stream,
    scenes_cache_path,
    show_scenes,
    tokenize,
)

CONFIG = SceneConfig()
TEXTURED = SceneConfig(textures=TEXTURES, max_tokens=19)


@pytest.fixture(scope="module")
def batch() -> SceneBatch:
    return make_scenes(CONFIG, seed=0, n=200)


@pytest.fixture(scope="module")
def scenes():
    return [scene(cfg, 3, i) for cfg in (CONFIG, TEXTURED) for i in range(150)]


def _same(a: SceneBatch, b: SceneBatch) -> bool:
    arrays = ("images", "masks", "boxes", "attributes", "n_objects", "token_ids", "token_mask", "token_object", "background")
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in arrays) and a.captions == b.captions


def test_determinism():
    a = make_scenes(CONFIG, seed=1, n=20)
    assert _same(a, make_scenes(CONFIG, seed=1, n=20))
    assert _same(a[5:], make_scenes(CONFIG, seed=1, n=15, start=5))
    assert not np.array_equal(a.images, make_scenes(CONFIG, seed=2, n=20).images)
    assert not np.array_equal(a.images, make_scenes(CONFIG, seed=1, n=20, split="eval").images)
    assert not np.array_equal(make_scenes(CONFIG, 1, 20, split="eval").images, make_scenes(CONFIG, 1, 20, split="test").images)


def test_stream_resumes():
    stream = list(islice(scene_stream(CONFIG, seed=4, batch_size=8), 3))
    assert _same(stream[2], make_scenes(CONFIG, 4, 8, start=16))
    assert _same(next(scene_stream(CONFIG, seed=4, batch_size=8, start_batch=2)), stream[2])


def test_masks_and_boxes(scenes):
    for s in scenes:
        h, w = s.image.shape[:2]
        assert s.masks.shape == (len(s.objects), h, w)
        assert s.masks.sum(0).max() <= 1, "objects overlap"
        for obj, mask in zip(s.objects, s.masks):
            x0, y0, x1, y1 = obj.box
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert mask.any()
            outside = mask.copy()
            outside[y0:y1, x0:x1] = False
            assert not outside.any(), "mask leaves its box"


def test_mask_pixels_have_object_colour(scenes):
    for s in scenes:
        for obj, mask in zip(s.objects, s.masks):
            mean = s.image[mask].mean(0) / 255
            target = np.asarray(COLOURS[obj.colour])
            # Brightness jitter (0.85-1) and dark texture bands scale the colour; compare hue,
            # and check this colour is the nearest one.
            cos = {c: mean @ np.asarray(v) / np.linalg.norm(mean) / np.linalg.norm(v) for c, v in COLOURS.items()}
            assert max(cos, key=cos.get) == obj.colour
            assert cos[obj.colour] > 0.98
            if obj.texture == "plain":
                assert np.abs(mean - target * 0.925).max() < 0.1


def test_token_object_matches_words(scenes):
    for s in scenes:
        assert len(s.words) == len(s.token_object)
        # every object appears exactly once, each word's object has that attribute
        assert sorted({i for i in s.token_object if i >= 0}) == list(range(len(s.objects)))
        for word, i in zip(s.words, s.token_object):
            if word in ("a", "and", "of", "left", "right", "above", "below", "on"):
                assert i == -1
            else:
                obj = s.objects[i]
                assert word in (obj.shape, obj.colour, obj.size, obj.texture)


def test_relations_agree_with_centres(scenes):
    for s in scenes:
        objs = [s.objects[i] for i in dict.fromkeys(i for i in s.token_object if i >= 0)]  # caption order
        rels = [w for w in s.words if w in ("left", "right", "above", "below")]
        assert len(rels) == len(objs) - 1
        for rel, a, b in zip(rels, objs, objs[1:]):
            (ax, ay), (bx, by) = a.centre, b.centre
            expected = {"left": ax < bx, "right": ax > bx, "above": ay < by, "below": ay > by}[rel]
            horizontal = abs(bx - ax) >= abs(by - ay)
            assert expected and horizontal == (rel in ("left", "right"))


def test_describe_and_relation_word():
    a = SceneObject("circle", "red", "large", "plain", (0, 0, 20, 20))
    b = SceneObject("square", "blue", "small", "striped", (30, 5, 40, 15))
    c = SceneObject("cross", "green", "small", "plain", (32, 30, 42, 40))
    assert relation_word(a, b) == ["left", "of"] and relation_word(b, a) == ["right", "of"]
    assert relation_word(b, c) == ["above"] and relation_word(c, b) == ["below"]
    words, owner = describe([a, b, c], [0, 1, 2])
    assert " ".join(words) == "a large red circle left of a small striped blue square above a small green cross"
    assert owner == [-1, 0, 0, 0, -1, -1, -1, 1, 1, 1, 1, -1, -1, 2, 2, 2]


def test_captions_fit_and_roundtrip(batch):
    tok = WordTokenizer()
    assert tok.vocab_size == len(VOCAB) and VOCAB[PAD_ID] == "[pad]"
    assert batch.token_mask.sum(1).max() <= CONFIG.max_tokens
    for i in range(len(batch)):
        assert tok.decode(batch.token_ids[i]) == batch.captions[i]
        assert tok.encode(batch.captions[i]) == batch.token_ids[i][batch.token_mask[i]].tolist()
    ids, mask = tok(batch.captions[:10], CONFIG.max_tokens)
    assert torch.equal(ids, torch.from_numpy(batch.token_ids[:10])) and torch.equal(mask, torch.from_numpy(batch.token_mask[:10]))
    assert tok.encode("a purple circle")[1] == 1  # unknown word -> [unk]
    with pytest.raises(InputError, match="max_tokens"):
        tokenize(["a"] * 17, 16)
    # the longest 3-object captions fill max_tokens exactly
    assert batch.token_mask.sum(1).max() == 16


def test_batch_layout(batch):
    n, o = len(batch), CONFIG.max_objects
    assert batch.images.shape == (n, 48, 48, 3) and batch.images.dtype == np.uint8
    assert batch.masks.shape == (n, o, 48, 48) and batch.boxes.shape == (n, o, 4) and batch.attributes.shape == (n, o, 4)
    for i in range(n):
        k = batch.n_objects[i]
        assert (batch.boxes[i, k:] == -1).all() and (batch.attributes[i, k:] == -1).all() and not batch.masks[i, k:].any()
        assert (batch.attributes[i, :k] >= 0).all()
    assert (batch.token_object[~batch.token_mask] == -1).all()
    x = batch.images_float()
    assert x.shape == (n, 3, 48, 48) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1


def test_getitem(batch):
    one = batch[3]
    assert len(one) == 1 and one.images.shape == (1, 48, 48, 3) and one.captions == [batch.captions[3]]
    assert _same(batch[-1], batch[len(batch) - 1])
    picked = batch[np.array([5, 1, 7])]
    assert picked.captions == [batch.captions[i] for i in (5, 1, 7)]
    assert np.array_equal(picked.masks, batch.masks[[5, 1, 7]])
    assert _same(batch[batch.n_objects == 1], batch[np.flatnonzero(batch.n_objects == 1)])
    assert len(batch[10:20]) == 10
    with pytest.raises(IndexError):
        batch[len(batch)]


def test_save_load_roundtrip(batch, tmp_path):
    path = batch[:30].save(tmp_path / "b.npz")
    assert _same(SceneBatch.load(path), batch[:30])
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="b.npz"):
        SceneBatch.load(path)


def test_load_scenes_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path))
    first = load_scenes(CONFIG, seed=5, n=12)
    path = scenes_cache_path(CONFIG, 5, 12, "eval")
    assert path.exists() and str(path).startswith(str(tmp_path))
    assert _same(first, make_scenes(CONFIG, 5, 12, split="eval"))

    # the second call reads the file: a marker written into it comes back
    marked = first[:]
    marked.captions = ["marker"] * 12
    marked.save(path)
    assert load_scenes(CONFIG, seed=5, n=12).captions == ["marker"] * 12

    path.write_bytes(path.read_bytes()[:100])  # truncated: regenerated and rewritten
    assert _same(load_scenes(CONFIG, seed=5, n=12), first)
    assert _same(SceneBatch.load(path), first)
    assert scenes_cache_path(replace(CONFIG, noise=0.0), 5, 12, "eval") != path


def test_patch_targets_match_loop(batch):
    masks = batch.masks[:20]
    for patch, cov in ((8, 0.25), (6, 0.5), (16, 0.1)):
        fast = patch_targets(masks, patch, cov)
        g = 48 // patch
        slow = np.zeros((20, 3, g * g), bool)
        for n in range(20):
            for o in range(3):
                for r in range(g):
                    for c in range(g):
                        block = masks[n, o, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch]
                        slow[n, o, r * g + c] = block.sum() >= cov * patch * patch
        assert np.array_equal(fast, slow)
    with pytest.raises(InputError, match="patch"):
        patch_targets(masks, 7)


def test_config_errors():
    with pytest.raises(ConfigError, match="colours.*'pink'.*red"):
        SceneConfig(colours=("red", "pink"))
    with pytest.raises(ConfigError, match="shapes"):
        SceneConfig(shapes=("hexagon",))
    with pytest.raises(ConfigError, match="min_objects"):
        SceneConfig(min_objects=3, max_objects=2)
    with pytest.raises(ConfigError, match="image_size"):
        SceneConfig(image_size=32, max_objects=6)
    with pytest.raises(ConfigError, match="max_tokens.*19"):
        SceneConfig(textures=TEXTURES)
    with pytest.raises(InputError, match="split"):
        scene(CONFIG, 0, 0, split="validation")
    assert SceneConfig(colours=["red", "blue"]).colours == ("red", "blue")


def test_small_image_places_objects():
    cfg = SceneConfig(image_size=32, max_objects=4, min_objects=4, max_tokens=22)
    for i in range(30):
        s = scene(cfg, 0, i)
        assert len(s.objects) == 4 and s.masks.sum(0).max() <= 1


def test_attribute_distribution_uniform():
    b = make_scenes(CONFIG, seed=6, n=2000)
    present = b.attributes[b.attributes[..., 0] >= 0]
    for col, values in ((0, CONFIG.shapes), (1, CONFIG.colours), (2, CONFIG.sizes)):
        counts = np.bincount(present[:, col], minlength=len(values))
        expected = len(present) / len(values)
        assert np.abs(counts / expected - 1).max() < 0.15, (values, counts)
    n_counts = Counter(b.n_objects.tolist())
    assert set(n_counts) == {1, 2, 3} and min(n_counts.values()) > 550


def test_show_scenes(tmp_path):
    path = show_scenes(CONFIG, 0, 8, tmp_path / "grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    path2 = show_scenes(TEXTURED, 0, 3, tmp_path / "b.png", batch=make_scenes(TEXTURED, 0, 3))
    assert path2.stat().st_size > 1_000


def test_caption_words_choose_the_named_attributes():
    from paperzoo.world.scenes import SHAPES, max_caption_length, make_scenes

    cfg = SceneConfig(caption_words=("shape",), max_tokens=max_caption_length(3, False, ("shape",)))
    assert cfg.max_tokens == 10
    batch = make_scenes(cfg, 0, 50)
    for caption, n in zip(batch.captions, batch.n_objects):
        words = caption.split()
        assert sum(w in SHAPES for w in words) == n and words.count("a") == n
        assert not any(w in ("red", "green", "blue", "small", "large") for w in words)
    both = make_scenes(SceneConfig(caption_words=("colour", "shape")), 0, 5)
    for caption, n in zip(both.captions, both.n_objects):
        words = caption.split()
        assert sum(w in SHAPES for w in words) == n and sum(w in ("red", "green", "blue", "yellow", "magenta", "cyan") for w in words) == n
        assert "small" not in words and "large" not in words
    with pytest.raises(ConfigError, match="caption_words"):
        SceneConfig(caption_words=("smell",))


def test_named_background_is_drawn_and_captioned():
    from paperzoo.world import BACKGROUND_TOKEN, BACKGROUNDS

    cfg = SceneConfig(caption_words=("shape",), backgrounds=tuple(BACKGROUNDS))
    batch = make_scenes(cfg, 0, 300)
    assert sorted(set(batch.background.tolist())) == [0, 1, 2]  # every tone is drawn
    for i, caption in enumerate(batch.captions):
        name = cfg.backgrounds[batch.background[i]]
        assert caption.endswith(f" on {name}")
        # the background word is marked, and the pixels no object covers have its tone
        n_words = int(batch.token_mask[i].sum())
        assert batch.token_object[i, n_words - 1] == BACKGROUND_TOKEN and batch.token_object[i, n_words - 2] == -1
        free = ~batch.masks[i].any(0)
        mean = batch.images[i][free].mean(0) / 255
        assert np.abs(mean - np.asarray(BACKGROUNDS[name])).max() < 0.02, (name, mean)
    # hard negatives and round trips keep the background
    again = SceneBatch.from_scenes([scene(cfg, 0, i) for i in range(5)], cfg)
    assert np.array_equal(again.background, batch.background[:5]) and again.captions == batch.captions[:5]
    words, owner = describe([scene(cfg, 0, 0).objects[0]], [0], ("shape",), "grey")
    assert words[-2:] == ["on", "grey"] and owner[-2:] == [-1, BACKGROUND_TOKEN]


def test_named_background_leaves_the_unnamed_world_unchanged_and_validates():
    # Naming backgrounds is opt-in: the default world draws none.
    assert (make_scenes(CONFIG, 4, 10).background == -1).all()
    with pytest.raises(ConfigError, match="backgrounds.*'pink'"):
        SceneConfig(backgrounds=("pink",))
    with pytest.raises(ConfigError, match="backgrounds"):
        SceneConfig(backgrounds="grey")
    with pytest.raises(ConfigError, match="max_tokens.*18"):
        SceneConfig(backgrounds=("grey",))  # full captions need 16 + 2 words


def test_default_world_is_pinned():
    """The default world's pixels and captions are fixed: a change here must bump
    WORLD_VERSION and will invalidate every cached run trained on the old world."""
    import hashlib

    b = make_scenes(CONFIG, 0, 50)
    assert hashlib.md5(b.images.tobytes() + b.masks.tobytes()).hexdigest() == "1cfa9962971c19c223f47a8747d4bbc3"
    assert b.captions[3] == "a small cyan triangle right of a large blue diamond below a small blue cross"


def test_paint_scene_cuts_boxes_at_the_edge():
    from paperzoo.world import paint_scene

    obj = SceneObject("square", "red", "large", "plain", box=(-5, 40, 15, 60))  # hangs over two edges
    image, masks = paint_scene([obj], CONFIG, np.random.default_rng(0))
    assert image.shape == (48, 48, 3) and masks.shape == (1, 48, 48)
    assert masks[0].sum() == 15 * 8 and masks[0, 40:, :15].all()
    assert (image[masks[0]][:, 0] > 150).all()  # red where the mask is
