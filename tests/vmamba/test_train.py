"""Training on the world tasks: the tasks are balanced and deterministic, the baselines
have the card's sizes, the CLI trains, and the quick reproduction runs end to end.
(The learning test is in test_learning.py.)"""

import json
import math

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from paperzoo.cli import main
from paperzoo.vmamba.tasks import task_batch
from paperzoo.vmamba.train import TrainConfig, build, load_trained


def test_tasks_are_deterministic_balanced_and_split():
    a = task_batch("same-colour", 0, 400)
    assert torch.equal(a.images, task_batch("same-colour", 0, 400).images)
    assert 0.4 < a.labels.float().mean() < 0.6
    assert not torch.equal(a.images[:10], task_batch("same-colour", 0, 10, split="eval").images)
    s = task_batch("shape", 0, 500)
    assert s.labels.bincount().min() > 70 and s.images.shape == (500, 3, 64, 64)
    c = task_batch("colour", 0, 300)
    assert len(c.labels.bincount()) == 6 and c.labels.bincount().min() > 30


def test_baseline_sizes_of_the_card():
    sizes = {m: sum(p.numel() for p in build(m, 10).parameters()) for m in ("vmamba-nano", "conv-nano", "vit-nano")}
    assert abs(sizes["vmamba-nano"] - 0.95e6) < 0.01e6  # card §5: 0.95M
    assert abs(sizes["vit-nano"] - 1.03e6) < 0.01e6  # card §5: ~1.03M
    assert abs(sizes["conv-nano"] / sizes["vmamba-nano"] - 1) < 0.1  # within 10%


def test_cli_train(tmp_path):
    res = CliRunner().invoke(main, ["vmamba", "train", "--model", "vmamba-nano", "--task", "shape", "--steps", "3",
                                    "--batch-size", "8", "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "held-out accuracy" in res.output and (tmp_path / "r" / "model" / "model.safetensors").is_file()
    assert load_trained(tmp_path / "r").config.num_classes == 5  # the run folder loads, with the task's classes


CLAIMS = ("global task: VMamba > ViT", "global task: VMamba > Conv", "local task (shape): VMamba and Conv",
          "local task (shape): VMamba and ViT", "scan ablation: cross > bidi", "scan ablation: bidi > unidi",
          "larger test images", "FLOPs grow linearly", "trained VMamba's ERF is wider", "VMamba's ERF grows")


@pytest.mark.slow
def test_quick_reproduce_writes_the_report(tmp_path, monkeypatch):
    """The whole pipeline at a budget shrunk below --quick's: every run trains, every claim
    is reported with finite numbers, and every plot is a real PNG."""
    from paperzoo.vmamba import reproduce

    monkeypatch.setattr(reproduce, "QUICK", TrainConfig(steps=4, batch_size=8, warmup_steps=1))
    monkeypatch.setattr(reproduce, "QUICK_EVAL_COUNT", 40)
    monkeypatch.setattr(reproduce, "ERF_IMAGES", 4)
    res = CliRunner().invoke(main, ["vmamba", "reproduce", "--quick", "--out", str(tmp_path), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "vmamba" / "report.json").read_text())
    assert report["quick"] and "QUICK smoke run" in (tmp_path / "REPORT.md").read_text()
    assert len(report["claims"]) == len(CLAIMS) and all(c["claim"].startswith(p) for c, p in zip(report["claims"], CLAIMS))
    for claim in report["claims"]:
        assert claim["verdict"]["holds"] in ("yes", "no", "not significant") and "nan" not in claim["ours"]
        if claim["verdict"]["kind"] != "deterministic":
            assert math.isfinite(claim["verdict"]["diff"]) and claim["verdict"]["n"] == 1
    results = sorted((tmp_path / "vmamba" / "runs").glob("*/*/result.json"))
    assert len(results) == 8  # 3 models x 2 tasks + 2 ablation variants, one seed
    for path in results:
        result = json.loads(path.read_text())
        assert (result["accuracy"] * 40).is_integer() and all(math.isfinite(h["loss"]) for h in result["history"])
        assert result["history"][-1]["step"] == 4 and result["run_key"]["settings"]["budget"]["steps"] == 4
    for plot in report["plots"]:
        with Image.open(tmp_path / plot) as image:
            assert image.format == "PNG" and image.width >= 300 and image.height >= 200
            assert len(image.convert("L").getcolors()) > 10  # not a blank canvas
    # a second call is served from the run cache: nothing retrains
    before = {p: p.stat().st_mtime_ns for p in results}
    res = CliRunner().invoke(main, ["vmamba", "reproduce", "--quick", "--out", str(tmp_path), "--device", "cpu"])
    assert res.exit_code == 0 and {p: p.stat().st_mtime_ns for p in results} == before
