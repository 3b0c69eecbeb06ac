"""The CLI: `fit` on an images/masks folder (summary and renders written), and one clear error for bad
runs and folders. relight and export-mesh run in test_reproduce.py on a run the reproduction wrote."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from paperzoo.shinobi.cli import cli


@pytest.mark.slow
def test_fit_a_folder(tmp_path, micro_world):
    (tmp_path / "photos" / "images").mkdir(parents=True)
    (tmp_path / "photos" / "masks").mkdir()
    for i, v in enumerate(micro_world.train + micro_world.test):
        Image.fromarray((v.image * 255).round().astype(np.uint8)).save(tmp_path / "photos" / "images" / f"{i}.png")
        Image.fromarray((v.mask * 255).astype(np.uint8)).save(tmp_path / "photos" / "masks" / f"{i}.png")
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, ["fit", str(tmp_path / "photos"), "--steps", "4", "--size", "12", "--test-every", "4",
                                 "--test-steps", "2", "--out", str(run)])
    assert r.exit_code == 0, r.output
    summary = json.loads((run / "summary.json").read_text())
    assert {"test_psnr", "test_ssim", "train_psnr"} <= set(summary) and "rotation_deg" not in summary
    assert len(list((run / "renders").glob("*.png"))) == 4 and (run / "model" / "fit_state.pt").is_file()


def test_bad_runs_and_folders(tmp_path):
    r = CliRunner().invoke(cli, ["export-mesh", str(tmp_path)])
    assert r.exit_code != 0 and "not a SHINOBI run folder" in r.output
    r = CliRunner().invoke(cli, ["fit", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no images/ folder" in r.output
    r = CliRunner().invoke(cli, ["configs"])
    assert r.exit_code == 0 and "tiny" in r.output and "shinobi" in r.output
