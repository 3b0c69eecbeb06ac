import dataclasses

import pytest

from paperzoo.shinobi.config import TINY, TINY_FIELD
from paperzoo.shinobi.hashgrid import HashGridConfig
from paperzoo.world import objects3d as o3

MICRO_WORLD = o3.ObjectConfig(image_size=16, train_views=6, test_views=2, quadrature=128)
MICRO = dataclasses.replace(
    TINY, field=dataclasses.replace(TINY_FIELD, grid=HashGridConfig(levels=4, features=2, log2_table=10,
                                                                    min_resolution=4, max_resolution=32),
                                    width=16, radiance_hidden=16, brdf_width=16, fourier_hidden=16),
    samples=12, rays=64, steps=20, random_ray_steps=10, patch_sizes=(4, 8), patch_levels=2, proposals=2,
    views_per_step=2)


@pytest.fixture(scope="session")
def micro_world():
    return o3.collection(MICRO_WORLD, 0)
