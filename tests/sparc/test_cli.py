"""`paperzoo sparc evaluate` and `demo` name the model one way, `--model NAME|FOLDER`; the old
spellings (`evaluate CHECKPOINT`, `demo --checkpoint`) still work and are hidden."""

import json

from click.testing import CliRunner

from paperzoo.cli import main
from paperzoo.sparc.model import SparcModel


def saved_model(tmp_path):
    folder = tmp_path / "model"
    SparcModel("tiny").save_pretrained(folder)
    return folder


def test_evaluate_takes_model_seed_and_out(tmp_path):
    folder, out = saved_model(tmp_path), tmp_path / "metrics.json"
    runner = CliRunner()
    args = ["sparc", "evaluate", "--model", str(folder), "--count", "40", "--device", "cpu"]
    result = runner.invoke(main, [*args, "--json", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert json.loads(out.read_text()) == metrics
    # The old positional spelling gives the same numbers; --seed only redraws the hard negatives.
    result = runner.invoke(main, ["sparc", "evaluate", str(folder), "--count", "40", "--json", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == metrics
    result = runner.invoke(main, [*args, "--json", "--seed", "4"])
    other = json.loads(result.output)
    assert other["loc_pointing"] == metrics["loc_pointing"] and other["i2t_r1"] == metrics["i2t_r1"]


def test_help_shows_model_and_hides_old_spellings():
    runner = CliRunner()
    evaluate = runner.invoke(main, ["sparc", "evaluate", "--help"]).output
    demo = runner.invoke(main, ["sparc", "demo", "--help"]).output
    for text in (evaluate, demo):
        assert "--model NAME|FOLDER" in text and "--seed" in text and "--device" in text and "--out" in text
    assert "CHECKPOINT" not in evaluate and "--checkpoint" not in demo


def test_model_names_get_one_line_errors(tmp_path):
    runner = CliRunner()
    for args, message in [
        (["sparc", "evaluate", "--model", str(tmp_path / "nowhere")], "no such checkpoint folder"),
        (["sparc", "evaluate", "--model", "vit-b-16"], "SPARC released no weights"),
        (["sparc", "demo", "--model", "vit-l-14", "--out", str(tmp_path / "x.png")], "SPARC released no weights"),
        (["sparc", "evaluate", "--model", "m1", str(tmp_path)], "give the model once"),
        (["sparc", "evaluate", "--count", "0"], "--count must be >= 1"),
    ]:
        result = runner.invoke(main, args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()


def test_demo_with_model_folder_and_old_spelling(tmp_path):
    folder = saved_model(tmp_path)
    runner = CliRunner()
    for flag, name in (("--model", "a.png"), ("--checkpoint", "b.png")):
        result = runner.invoke(main, ["sparc", "demo", flag, str(folder), "--index", "2", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
