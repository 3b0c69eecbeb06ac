"""Mesh export: marching cubes finds a known density's surface; OBJ and PLY files are well formed."""

import numpy as np
import pytest

from paperzoo.core.errors import InputError
from paperzoo.shinobi.field import Field
from paperzoo.shinobi.mesh import extract, write_mesh

from .conftest import MICRO


def _sphere_field(radius=0.5):
    field = Field(MICRO.field, images=1)
    real = field.geometry

    def geometry(x):
        h, _ = real(x)
        return h, 200 * (radius - x.norm(dim=-1))  # softplus(raw) = 10 near |x| = radius - 0.05 ... a sharp wall
    field.geometry = geometry
    return field


def test_marching_cubes_finds_the_sphere(tmp_path):
    mesh = extract(_sphere_field(0.5), resolution=40, level=10.0)
    r = np.linalg.norm(mesh["vertices"], axis=1)
    assert abs(r.mean() - 0.45) < 0.02 and r.std() < 0.01  # softplus(200 (0.5 - r)) = 10 at r ~ 0.45
    assert mesh["faces"].max() < len(mesh["vertices"]) and mesh["basecolour"].shape == (len(r), 3)
    obj = write_mesh(mesh, tmp_path / "m.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in obj) == len(r)
    assert sum(line.startswith("f ") for line in obj) == len(mesh["faces"])
    ply = write_mesh(mesh, tmp_path / "m.ply").read_text().splitlines()
    assert ply[0] == "ply" and f"element vertex {len(r)}" in ply
    assert len(ply) == ply.index("end_header") + 1 + len(r) + len(mesh["faces"])


def test_bad_level_and_suffix(tmp_path):
    with pytest.raises(InputError, match="has no surface"):
        extract(_sphere_field(0.5), resolution=16, level=1e6)
    with pytest.raises(InputError, match="suffix"):
        write_mesh({"vertices": np.zeros((0, 3)), "faces": np.zeros((0, 3), int), "basecolour": np.zeros((0, 3))},
                   tmp_path / "m.stl")
    assert not (tmp_path / "m.stl").exists()
