"""File listing and preprocessing: the official io_util behaviour, plus RGBA/greyscale."""

import numpy as np
import pytest
from PIL import Image

from paperzoo.cmmd.images import centre_crop, list_images, load_image, preprocess
from paperzoo.core.errors import InputError


def official_preprocess(path, size):
    """google-research cmmd/io_util.py `_read_image` + /255, transcribed (RGB or greyscale input)."""
    im = Image.open(path)
    w, h = im.size
    l = min(w, h)  # noqa: E741
    left, top = (w - l) // 2, (h - l) // 2
    im = im.crop((left, top, left + l, top + l)).resize((size, size), Image.BICUBIC)
    x = np.asarray(im).astype(np.float32)
    if x.ndim == 2:
        x = np.tile(x[..., None], (1, 1, 3))
    return x / 255.0


def test_listing_is_sorted_case_insensitive_and_counted(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.JpEg", "d.txt", "e.gif"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.JpEg"]
    assert [p.name for p in list_images(tmp_path, max_count=2)] == ["a.jpg", "b.PNG"]
    assert [p.name for p in list_images(tmp_path, drop_remainder=2)] == ["a.jpg", "b.PNG"]
    with pytest.raises(InputError, match="max_count"):
        list_images(tmp_path, max_count=0)


def test_empty_or_missing_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"no images \(expected files ending in .png, .jpg, .jpeg"):
        list_images(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        list_images(tmp_path / "nope")


@pytest.mark.parametrize("size_hw", [(60, 40), (40, 61), (33, 33)])
def test_preprocessing_matches_the_official_loader(tmp_path, size_hw):
    rng = np.random.default_rng(0)
    w, h = size_hw
    path = tmp_path / "x.png"
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    ours = load_image(path, 24)
    assert ours.shape == (24, 24, 3) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, official_preprocess(path, 24))
    grey = tmp_path / "g.png"
    Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L").save(grey)
    np.testing.assert_array_equal(load_image(grey, 24), official_preprocess(grey, 24))


def test_centre_crop_offsets_and_antialiased_resize():
    im = Image.fromarray(np.arange(7 * 4, dtype=np.uint8).reshape(4, 7))  # w 7, h 4: offset (1, 0)
    np.testing.assert_array_equal(np.asarray(centre_crop(im)), np.arange(28).reshape(4, 7)[:, 1:5])
    board = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)  # 1-px checkerboard
    small = preprocess(Image.fromarray(board).convert("RGB"), 8)
    assert np.abs(small - 0.5).max() < 0.05  # antialiased: grey, not aliased black/white


def test_rgba_is_composited_over_white_and_bad_files_are_named(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red, but fully transparent on the left half
    rgba[:, 4:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png", 8)
    np.testing.assert_allclose(x[:, :4], np.ones((8, 4, 3)))  # transparent -> white
    np.testing.assert_allclose(x[:, 4:], np.broadcast_to([1.0, 0.0, 0.0], (8, 4, 3)))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="broken.jpg: not a readable image"):
        load_image(tmp_path / "broken.jpg", 8)
