"""Effective receptive fields: a local mixer's ERF is bounded by its kernel sizes; the
demo writes a PNG for the three models."""

import numpy as np
import torch
from click.testing import CliRunner

from paperzoo.cli import main
from paperzoo.vmamba.erf import erf_area, erf_map, erf_radius
from paperzoo.vmamba.train import MODELS, build


def test_erf_of_a_convolution_is_its_footprint():
    class OneConv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 5, padding=2)
            with torch.no_grad():  # positive weights: every pixel of the footprint raises the centre
                self.conv.weight.abs_()
                self.conv.bias.fill_(0.1)

        def forward_features(self, x):
            return self.conv(x).permute(0, 2, 3, 1)

    erf = erf_map(OneConv(), torch.rand(4, 3, 16, 16))
    assert np.count_nonzero(erf) == 25 and erf[8, 8] > 0 and erf[0, 0] == 0
    assert erf_area(erf) <= 25 / 256


def test_half_mass_radius():
    point = np.zeros((33, 33))
    point[16, 16] = 1.0
    assert erf_radius(point) == 0.0
    flat = np.ones((64, 64))  # half the mass in a centred disc of area side^2 / 2: r = side * sqrt(1 / (2 pi))
    assert abs(erf_radius(flat) - (1 / (2 * np.pi)) ** 0.5) < 0.02
    ring = np.zeros((64, 64))
    ring[32, 32 + 20] = ring[32, 32 - 20] = 1.0
    assert erf_radius(ring) == 20 / 64


def test_ss2d_sees_the_whole_map_at_initialisation():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 64)
    vm, conv = erf_map(build("vmamba-nano", 2), images), erf_map(build("conv-nano", 2), images)
    assert (vm > 0).mean() > 0.95  # the scan reaches every pixel (relu(grad) zeroes the few with a negative gradient)
    assert erf_area(vm) > 0 and erf_area(conv) > 0
    vit = erf_map(build("vit-nano", 2), images)  # ends in a LayerNorm: the relu on the centre keeps the map non-zero
    assert vit.max() > 0 and erf_area(vit) > 0.5


def test_demo_writes_a_png(tmp_path):
    res = CliRunner().invoke(main, ["vmamba", "demo", "--images", "2", "--out", str(tmp_path / "erf.png"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "erf.png").read_bytes()[:4] == b"\x89PNG"
    assert [line.split(":")[0] for line in res.output.splitlines()[:3]] == [f"{m} (init)" for m in MODELS]


def test_demo_takes_models_by_name_or_folder(tmp_path):
    torch.manual_seed(0)
    build("vmamba-nano", 2).save_pretrained(tmp_path / "run" / "model")  # a `vmamba train --out run` folder
    build("vit-nano", 2).save_pretrained(tmp_path / "vit")  # a model folder
    args = ["vmamba", "demo", "--images", "2", "--device", "cpu", "--out", str(tmp_path / "erf.png")]
    res = CliRunner().invoke(main, args + ["--model", str(tmp_path / "run"), "--model", str(tmp_path / "vit"),
                                           "--model", "conv-nano"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert [line.split(": ERF area")[0] for line in lines[:3]] == [str(tmp_path / "run"), str(tmp_path / "vit"), "conv-nano (init)"]
    res = CliRunner().invoke(main, args + ["--model", "vmamba-xl"])
    assert res.exit_code == 1 and "not a named config" in res.output
