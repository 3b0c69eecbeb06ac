"""Training on the world tasks: the tasks are balanced and deterministic, the baselines
have the card's sizes, and a short run learns the local task."""

import pytest
import torch
from click.testing import CliRunner

from paperzoo.cli import main
from paperzoo.vmamba.tasks import task_batch
from paperzoo.vmamba.train import TrainConfig, accuracy, build, train


def test_tasks_are_deterministic_balanced_and_split():
    a = task_batch("same-colour", 0, 400)
    assert torch.equal(a.images, task_batch("same-colour", 0, 400).images)
    assert 0.4 < a.labels.float().mean() < 0.6
    assert not torch.equal(a.images[:10], task_batch("same-colour", 0, 10, split="eval").images)
    s = task_batch("shape", 0, 500)
    assert s.labels.bincount().min() > 70 and s.images.shape == (500, 3, 64, 64)


def test_baseline_sizes_of_the_card():
    sizes = {m: sum(p.numel() for p in build(m, 10).parameters()) for m in ("vmamba-nano", "conv-nano", "vit-nano")}
    assert abs(sizes["vmamba-nano"] - 0.95e6) < 0.01e6  # card §5: 0.95M
    assert abs(sizes["vit-nano"] - 1.03e6) < 0.01e6  # card §5: ~1.03M
    assert abs(sizes["conv-nano"] / sizes["vmamba-nano"] - 1) < 0.1  # within 10%


@pytest.mark.slow
def test_short_run_learns_the_local_task(tmp_path):
    net, history = train("conv-nano", "shape", tmp_path / "run", seed=0,
                         train_config=TrainConfig(steps=200, batch_size=64, warmup_steps=20), progress=False)
    assert history[-1]["loss"] < history[0]["loss"]
    assert accuracy(net, "shape", n=300) > 0.35  # chance 0.2
    assert (tmp_path / "run" / "model" / "config.json").is_file()


def test_cli_train(tmp_path):
    res = CliRunner().invoke(main, ["vmamba", "train", "--model", "vmamba-nano", "--task", "shape", "--steps", "3",
                                    "--batch-size", "8", "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "held-out accuracy" in res.output and (tmp_path / "r" / "model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_quick_reproduce_writes_the_report(tmp_path):
    res = CliRunner().invoke(main, ["vmamba", "reproduce", "--quick", "--out", str(tmp_path), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "REPORT.md").read_text()
    assert "global task: VMamba > ViT" in report and "QUICK run" in report
    for png in ("accuracy.png", "losses.png", "erf_trained.png", "erf_init.png"):
        assert (tmp_path / "vmamba" / png).stat().st_size > 1000
