"""`paperzoo shinobi reproduce --quick` end to end (four runs, one seed): every claim gets a verdict from
the shared helper or says why it is not measured; tables, plot, turntable, relighting PNGs and the run
cache work. The numbers mean nothing at this budget; test_learning.py checks learning."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from paperzoo.core.verdict import VERDICTS
from paperzoo.shinobi import reproduce
from paperzoo.shinobi.cli import cli
from paperzoo.shinobi.envmap import render_envmap, write_hdr
from paperzoo.world.objects3d import random_light


@pytest.mark.slow
def test_quick_reproduce_report_pictures_and_cache(tmp_path):
    report = reproduce.run(tmp_path, quick=True)
    assert report.quick and report.command == "paperzoo shinobi reproduce --quick"
    assert len(report.claims) == 10
    for c in report.claims:
        assert c.holds in VERDICTS, c
    measured = [c for c in report.claims if c.holds != "not measured"]
    assert len(measured) == 5 and all(c.verdict.n == 1 for c in measured)
    results = json.loads((tmp_path / "shinobi" / "results.json").read_text())
    assert set(results[0]) == set(reproduce.QUICK.runs)
    for name in reproduce.QUICK.runs:
        assert set(results[0][name]) >= {"test_psnr", "rotation_deg", "relight_psnr", "albedo_psnr", "initial"}
    turned = results[0]["S-turned"]["initial"]["rotation_deg"]
    assert 15 < turned < 25 and results[0]["S-gt"]["initial"]["rotation_deg"] < 0.1
    for name in ("shinobi.png", "turntable.png", "relighting.png"):
        assert Image.open(tmp_path / "shinobi" / name).size[0] > 0
    assert Image.open(tmp_path / "shinobi" / "turntable.png").size == (8 * 16, 16)
    again = reproduce.run(tmp_path, quick=True)  # every run served from the cache
    assert [c.ours for c in again.claims] == [c.ours for c in report.claims]

    # the CLI's relight and export-mesh on a run folder the reproduction wrote
    run = tmp_path / "shinobi" / "runs" / "seed-0" / "S-gt"
    write_hdr(tmp_path / "env.hdr", render_envmap(random_light(np.random.default_rng(0), 6), 8))
    r = CliRunner().invoke(cli, ["relight", str(run), "--envmap", str(tmp_path / "env.hdr"), "--view", "1",
                                 "--out", str(tmp_path / "relit.png")])
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "relit.png").size == (16, 16)
    r = CliRunner().invoke(cli, ["relight", str(run), "--envmap", str(tmp_path / "env.hdr"), "--view", "99"])
    assert r.exit_code != 0 and "--view 99" in r.output
    r = CliRunner().invoke(cli, ["export-mesh", str(run), "--out", str(tmp_path / "m.obj"), "--level", "1e9"])
    assert r.exit_code != 0 and "has no surface" in r.output and not (tmp_path / "m.obj").exists()
