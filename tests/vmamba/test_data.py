"""The ImageNet-layout loader and the augmentation recipe (no torchvision)."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from paperzoo.core.errors import InputError
from paperzoo.vmamba.data import (
    OPS, ImageFolder, eval_transform, mixup_cutmix, rand_augment, random_erasing, random_resized_crop, train_transform,
)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("n02", "n01"):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (40 + 10 * i, 60, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.JPEG")
    (tmp_path / "n01" / "notes.txt").write_text("x")
    return tmp_path


def test_image_folder_classes_sorted_and_transforms(folder):
    ds = ImageFolder(folder, eval_transform(32))
    assert ds.classes == ["n01", "n02"] and len(ds) == 6
    x, y = ds[4]
    assert x.shape == (3, 32, 32) and y == 1
    train = ImageFolder(folder, train_transform(32, seed=1))
    assert train[0][0].shape == (3, 32, 32)
    torch.testing.assert_close(ImageFolder(folder, train_transform(32, seed=1))[0][0], ImageFolder(folder, train_transform(32, seed=1))[0][0])


def test_eval_crop_is_central_after_resize():
    im = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8)[None, :, None], (32, 1, 3)))  # a horizontal ramp
    x = eval_transform(16)(im)
    assert x.shape == (3, 16, 16)
    ramp = x[0, 0]
    assert ramp[0] < ramp[-1] and abs(float(ramp.mean() - x[0].mean())) < 1e-6


def test_augmentations_keep_shape_and_range():
    rng = random.Random(0)
    im = Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8))
    for name, op in OPS.items():
        out = op(im, 0.9, rng)
        assert out.size == im.size and out.mode == "RGB", name
    assert rand_augment(im, rng).size == (48, 48)
    assert random_resized_crop(im, 24, rng).size == (24, 24)
    x = torch.zeros(3, 32, 32)
    assert not torch.equal(random_erasing(x, random.Random(0), p=1.0), x)
    assert torch.equal(random_erasing(x, random.Random(0), p=0.0), x)


def test_mixup_cutmix_targets_sum_to_one():
    g = torch.Generator().manual_seed(0)
    images, labels = torch.randn(8, 3, 16, 16), torch.arange(8) % 5
    for _ in range(6):
        mixed, soft = mixup_cutmix(images, labels, 5, g)
        assert mixed.shape == images.shape and soft.shape == (8, 5)
        torch.testing.assert_close(soft.sum(1), torch.ones(8))
        assert (soft >= 0.1 / 5 * 0.99).all()  # label smoothing floor


def test_bad_folders(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        ImageFolder(tmp_path / "none")
    with pytest.raises(InputError, match="no class folders"):
        ImageFolder(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(InputError, match="hold no images"):
        ImageFolder(tmp_path)
