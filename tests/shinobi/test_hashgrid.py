"""The pure-torch hash grid against its point-by-point reference: values, gradients in the table and in
x, and second derivatives in x (SHINOBI's normals need them)."""

import math

import pytest
import torch

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.shinobi.hashgrid import HashGrid, HashGridConfig, encode_reference

# 4 levels 2 -> 16 with T = 2^8: levels 0-1 dense (2^3, 4^3 <= 256), levels 2-3 hashed (8^3, 16^3 > 256)
SMALL = HashGridConfig(levels=4, features=2, log2_table=8, min_resolution=2, max_resolution=16)


def test_levels_follow_the_tcnn_layout():
    c = SMALL
    assert c.growth == pytest.approx(2.0)
    assert [c.resolution(level) for level in range(4)] == [2, 4, 8, 16]  # ceil(2 * 2^l - 1) + 1
    assert [c.dense(level) for level in range(4)] == [True, True, False, False]
    assert [c.table_size(level) for level in range(4)] == [8, 64, 256, 256]
    grid = HashGrid(c)
    assert grid.table.shape == (8 + 64 + 256 + 256, 2)
    assert grid.table.abs().max() <= 1e-4


def test_encoding_equals_the_reference_values_and_gradients():
    torch.manual_seed(0)
    grid = HashGrid(SMALL).double()
    with torch.no_grad():
        grid.table.uniform_(-1, 1)
    x = torch.rand(6, 3, dtype=torch.float64, requires_grad=True)
    fast, slow = grid(x), encode_reference(grid, x)
    torch.testing.assert_close(fast, slow)
    probe = torch.randn_like(fast)
    g_fast = torch.autograd.grad((fast * probe).sum(), [x, grid.table])
    g_slow = torch.autograd.grad((slow * probe).sum(), [x, grid.table])
    for a, b in zip(g_fast, g_slow):
        torch.testing.assert_close(a, b)


def test_hashed_levels_collide_and_dense_levels_do_not():
    grid = HashGrid(HashGridConfig(levels=2, features=1, log2_table=6, min_resolution=3, max_resolution=32))
    r = [grid.config.resolution(level) for level in range(2)]
    assert grid.config.dense(0) and not grid.config.dense(1)
    for level in range(2):
        v = torch.stack(torch.meshgrid(*[torch.arange(r[level])] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
        rows = grid.index(v.expand(-1, 2, 3))[:, level, 0]  # vertex 0 of the cell at v is v
        distinct = len(torch.unique(rows))
        assert distinct == (r[level] ** 3 if level == 0 else 64)


def test_second_derivatives_in_x():
    torch.manual_seed(1)
    grid = HashGrid(HashGridConfig(levels=3, features=2, log2_table=6, min_resolution=2, max_resolution=8)).double()
    with torch.no_grad():
        grid.table.uniform_(-1, 1)
    # inside cells (away from vertex planes, where the encoding is only piecewise smooth)
    x = (torch.rand(4, 3, dtype=torch.float64) * 0.2 + 0.4).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: grid(p), (x,))
    assert torch.autograd.gradgradcheck(lambda p: grid(p), (x,))


def test_shapes_and_bad_input():
    grid = HashGrid(SMALL)
    assert grid(torch.rand(2, 5, 3)).shape == (2, 5, 8)
    with pytest.raises(InputError, match="hash grid input"):
        grid(torch.rand(4, 2))
    with pytest.raises(ConfigError, match="resolutions"):
        HashGridConfig(min_resolution=64, max_resolution=8)


def test_the_papers_grid():
    """16 levels, 8 -> 2048, F = 2 (App. A.2); T = 2^19 (the paper does not give T)."""
    c = HashGridConfig()
    assert c.output_dim == 32
    assert c.resolution(0) == 8 and c.resolution(15) == 2048
    assert c.growth == pytest.approx(math.exp(math.log(256) / 15))
