"""Environment maps: the .hdr reader, equirectangular checks and the SG fit."""

import numpy as np
import pytest
from PIL import Image

from paperzoo.core.errors import InputError
from paperzoo.shinobi.envmap import equirect_directions, fit_sg, read_envmap, read_hdr, render_envmap, write_hdr
from paperzoo.world.objects3d import random_light


def test_hdr_round_trip(tmp_path):
    image = np.random.default_rng(0).uniform(0, 5, (4, 8, 3)).astype(np.float32)
    write_hdr(tmp_path / "a.hdr", image)
    back = read_hdr(tmp_path / "a.hdr")
    # RGBE shares one exponent per pixel: every channel is exact to 1/128 of the pixel's largest
    assert (np.abs(back - image) <= image.max(-1, keepdims=True) / 128).all()


def test_solid_angles_cover_the_sphere():
    _, solid = equirect_directions(16, 32)
    assert float(solid.sum()) == pytest.approx(4 * np.pi, rel=1e-2)


def test_sg_fit_recovers_an_sg_environment(tmp_path):
    light = random_light(np.random.default_rng(1), 4)
    env = render_envmap(light, 32)
    write_hdr(tmp_path / "env.hdr", env)
    fitted = fit_sg(read_envmap(tmp_path / "env.hdr"), lobes=4, steps=250)
    dirs, solid = equirect_directions(32, 64)
    truth, got = light.radiance(dirs), fitted.radiance(dirs)
    error = float((((got - truth) ** 2).sum(-1) * solid).sum() / ((truth**2).sum(-1) * solid).sum())
    assert error < 0.05  # relative squared error; a constant environment at the mean gets about 0.5


def test_bad_envmaps_are_named(tmp_path):
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(tmp_path / "square.png")
    with pytest.raises(InputError, match="not equirectangular"):
        read_envmap(tmp_path / "square.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read"):
        read_envmap(tmp_path / "junk.png")
    (tmp_path / "bad.hdr").write_bytes(b"P6 not radiance")
    with pytest.raises(InputError, match="not a Radiance"):
        read_envmap(tmp_path / "bad.hdr")
    with pytest.raises(InputError, match="no such file"):
        read_envmap(tmp_path / "missing.hdr")
