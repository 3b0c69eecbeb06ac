"""The command line: --help everywhere, list, errors as one line, world show."""

import pytest
from click.testing import CliRunner

from paperzoo.cli import main
from paperzoo.systems import SYSTEMS


def all_commands(group, prefix=()):
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


def test_every_command_has_help():
    runner = CliRunner()
    commands = list(all_commands(main))
    assert ("sparc", "train") in commands and ("world", "show", "scenes") in commands and ("reproduce",) in commands
    for path in [()] + commands:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_python_dash_m_runs_the_cli():
    """`accelerate launch -m paperzoo ...` needs `python -m paperzoo` to be the CLI."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "paperzoo", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: paperzoo")


def test_list_names_all_ten_systems():
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0
    assert len(SYSTEMS) == 10
    for s in SYSTEMS:
        assert s.name in result.output
    assert "not yet implemented" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["reproduce", "nosuch"], "unknown system 'nosuch'"),
        (["sparc", "train", "--config", "vit-z"], "unknown sparc config 'vit-z'"),
        (["sparc", "evaluate", "--model", "missing_folder"], "--model 'missing_folder': no such checkpoint folder"),
        (["sparc", "train", "--device", "cuda:0"], "no CUDA GPU"),
        (["sparc", "train", "--device", "mps"], "MPS backend is not available"),
        (["sparc", "train", "--device", "tpu:0"], "is not a device"),
        (["sparc", "train", "--data", "nowhere", "--tokenizer", "nowhere"], "tokenizer 'nowhere'"),
    ],
)
def test_bad_input_is_one_line_error(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_world_show_scenes(tmp_path):
    out = tmp_path / "grid.png"
    result = CliRunner().invoke(main, ["world", "show", "scenes", "--out", str(out), "-n", "4"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sparc_configs_lists_paper_sizes():
    result = CliRunner().invoke(main, ["sparc", "configs"])
    assert result.exit_code == 0
    assert "85.80M" in result.output and "303.18M" in result.output and "109.67M" in result.output


def test_sparc_train_resume_evaluate_demo_end_to_end(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    args = ["sparc", "train", "--steps", "4", "--batch-size", "8", "--checkpoint-every", "2", "--out", str(run), "--device", "cpu"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (run / "model" / "model.safetensors").is_file() and (run / "checkpoint" / "trainer_state.pt").is_file()
    result = runner.invoke(main, [*args[:3], "6", *args[4:], "--resume"])
    assert result.exit_code == 0, result.output
    import json

    history = json.loads((run / "history.json").read_text())
    assert history[-1]["step"] == 6
    result = runner.invoke(main, ["sparc", "evaluate", "--model", str(run / "model"), "--count", "40", "--json",
                                  "--out", str(tmp_path / "metrics.json")])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    # the same folder through the Python API gives the same numbers (the CLI adds nothing of its own)
    from paperzoo.sparc.evaluate import EVAL_SEED, evaluate
    from paperzoo.sparc.model import SparcModel
    from paperzoo.sparc.train import world_scene_config
    from paperzoo.world.scenes import load_scenes

    net = SparcModel.from_pretrained(run / "model")
    cfg = world_scene_config(net.config)
    direct = evaluate(net, load_scenes(cfg, EVAL_SEED, 40, split="eval"), cfg, seed=0)
    assert direct["loc_pointing"] == pytest.approx(metrics["loc_pointing"]) and direct["seg_miou"] == pytest.approx(metrics["seg_miou"])
    out = tmp_path / "demo.png"
    result = runner.invoke(main, ["sparc", "demo", "--model", str(run / "model"), "--index", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(out) as im:
        assert im.format == "PNG" and min(im.size) >= 100
