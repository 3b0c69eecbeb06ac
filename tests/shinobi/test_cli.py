"""The CLI end to end on the world: fit (with its summary and renders), relight, export-mesh; bad input."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from paperzoo.shinobi.cli import cli
from paperzoo.shinobi.envmap import render_envmap, write_hdr
from paperzoo.world.objects3d import random_light


@pytest.mark.slow
def test_fit_relight_export(tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, ["fit", "--world", "0", "--steps", "12", "--size", "12", "--test-steps", "3",
                                 "--out", str(run)])
    assert r.exit_code == 0, r.output
    summary = json.loads((run / "summary.json").read_text())
    assert {"rotation_deg", "translation", "test_psnr", "test_ssim", "albedo_psnr", "relight_psnr"} <= set(summary)
    assert len(list((run / "renders").glob("*.png"))) == 4
    write_hdr(tmp_path / "env.hdr", render_envmap(random_light(np.random.default_rng(0), 6), 8))
    r = CliRunner().invoke(cli, ["relight", str(run), "--envmap", str(tmp_path / "env.hdr"), "--out",
                                 str(tmp_path / "relit.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "relit.png").is_file()
    r = CliRunner().invoke(cli, ["relight", str(run), "--envmap", str(tmp_path / "env.hdr"), "--view", "99"])
    assert r.exit_code != 0 and "--view 99" in r.output
    r = CliRunner().invoke(cli, ["export-mesh", str(run), "--out", str(tmp_path / "m.obj"), "--level", "1e9"])
    assert r.exit_code != 0 and "has no surface" in r.output and not (tmp_path / "m.obj").exists()


def test_bad_runs_and_folders(tmp_path):
    r = CliRunner().invoke(cli, ["export-mesh", str(tmp_path)])
    assert r.exit_code != 0 and "not a SHINOBI run folder" in r.output
    r = CliRunner().invoke(cli, ["fit", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no images/ folder" in r.output
    r = CliRunner().invoke(cli, ["configs"])
    assert r.exit_code == 0 and "tiny" in r.output and "shinobi" in r.output
