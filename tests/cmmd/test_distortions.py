"""Distortions: level 0 is (nearly) the identity, strength grows with the level, seeded."""

import numpy as np
import pytest

from paperzoo.cmmd.distortions import FAMILIES, LEVELS, distort
from paperzoo.core.errors import InputError
from paperzoo.world.scenes import SceneConfig, make_scenes

WORLD = SceneConfig()


@pytest.fixture(scope="module")
def batch():
    return make_scenes(WORLD, 0, 24, split="test")


@pytest.mark.parametrize("family", FAMILIES)
def test_strength_grows_with_level(batch, family):
    errors = []
    for level in range(LEVELS):
        out = distort(family, level, batch.images, seed=1, batch=batch, config=WORLD)
        assert out.shape == batch.images.shape and out.dtype == np.uint8
        errors.append(np.mean((out.astype(float) - batch.images) ** 2))
    assert errors[0] < 20  # identity (jpeg 95: within ~4 grey levels rms)
    assert errors[-1] > 10 * max(errors[0], 1) and errors[-1] == max(errors)
    if family != "semantic":  # semantic redraws are random in where objects land; the others are graded
        assert all(a < b for a, b in zip(errors, errors[1:])), errors
    again = distort(family, 3, batch.images, seed=1, batch=batch, config=WORLD)
    np.testing.assert_array_equal(again, distort(family, 3, batch.images, seed=1, batch=batch, config=WORLD))


def test_semantic_changes_content_not_texture(batch):
    out = distort("semantic", 5, batch.images, seed=0, batch=batch, config=WORLD)
    moved = np.mean(np.any(out != batch.images, axis=-1), axis=(1, 2))
    assert np.median(moved) > 0.02  # objects moved, recoloured or reshaped
    background = ~batch.masks.any(1) & ~np.any(out > 80, axis=-1)
    assert np.abs(out[background].astype(float).mean() - 0.1 * 255) < 3  # the canvas is the same canvas


def test_bad_arguments(batch):
    with pytest.raises(InputError, match="level: must be in 0..5"):
        distort("blur", 6, batch.images)
    with pytest.raises(InputError, match="family: unknown 'swirl'"):
        distort("swirl", 1, batch.images)
    with pytest.raises(InputError, match="semantic distortions redraw scenes"):
        distort("semantic", 1, batch.images)
