"""`chatqa score PRED GOLD`: the table, --json, --out, a whole data folder, and one-line errors."""

import json
from pathlib import Path

from click.testing import CliRunner

from paperzoo.chatqa.cli import cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "chatqa"
OFFICIAL = json.loads((FIXTURE / "official.json").read_text())


def run(*args):
    result = CliRunner().invoke(cli, ["score", *map(str, args)])
    return result.exit_code, result.output


def test_help_names_the_group_and_the_verb():
    code, out = CliRunner().invoke(cli, ["--help"]).exit_code, CliRunner().invoke(cli, ["--help"]).output
    assert code == 0 and "ChatQA:" in out and "score" in out
    out = CliRunner().invoke(cli, ["score", "--help"]).output
    assert "PRED" in out and "GOLD" in out and "--dataset" in out and "--json" in out


def test_one_file_table_and_json(tmp_path):
    code, out = run(FIXTURE / "predictions/quac.txt", FIXTURE / "data/quac/test.json")
    assert code == 0, out
    assert out.splitlines()[0].split()[:4] == ["dataset", "n", "score", "F1"]
    assert out.splitlines()[1].split()[:4] == ["quac", "8", "62.50", "F1"]
    code, out = run(FIXTURE / "predictions/quac.txt", FIXTURE / "data", "--dataset", "quac", "--json", "--out", tmp_path / "m.json")
    assert code == 0, out
    result = json.loads(out)
    assert json.loads((tmp_path / "m.json").read_text()) == result
    quac = result["datasets"]["quac"]
    assert quac["f1"] / 100 == OFFICIAL["files"]["quac"]["f1"]
    assert abs(quac["unanswerable_acc"] / 100 - OFFICIAL["files"]["quac"]["unanswerable_acc_printed"]) < 5e-5


def test_quac_index_list_applies_the_official_rule(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps(OFFICIAL["quac_index_list"]))
    code, out = run(FIXTURE / "predictions/quac.txt", FIXTURE / "data/quac/test.json", "--json",
                    "--quac-index-list", tmp_path / "list.json")
    quac = json.loads(out)["datasets"]["quac"]
    assert code == 0 and quac["n_answerable"] == 3
    assert abs(quac["answerable_acc"] / 100 - OFFICIAL["files"]["quac"]["answerable_acc_printed"]) < 5e-5


def test_a_folder_of_predictions_gives_average_and_avg_both():
    code, out = run(FIXTURE / "predictions", FIXTURE / "data", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert set(result["datasets"]) == {"doc2dial", "quac", "inscit", "doqa_cooking", "convfinqa"}
    summary = result["summary"]
    scores = [s["score"] for s in result["datasets"].values()]
    assert abs(summary["average"] - sum(scores) / len(scores)) < 1e-9
    both = [(d["unanswerable_acc"] + d["answerable_acc"]) / 2 for n, d in result["datasets"].items() if n in ("quac", "doqa_cooking")]
    assert abs(summary["avg_both"] - sum(both) / 2) < 1e-9
    code, table = run(FIXTURE / "predictions", FIXTURE / "data")
    assert "Average over 5 datasets" in table and "Avg-Both over quac, doqa_cooking" in table


def test_errors_are_one_line(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("a\nb\n")
    (tmp_path / "bad.json").write_text("[1, 2]")
    (tmp_path / "list.json").write_text('{"a": 1}')
    cases = [
        ((short, FIXTURE / "data/quac/test.json"), "2 predictions for 8 gold records"),
        ((short, FIXTURE / "data"), "is a folder: name the dataset with --dataset"),
        ((short, FIXTURE / "data", "--dataset", "nope"), "--dataset 'nope': expected one of"),
        ((short, tmp_path / "bad.json", "--dataset", "coqa"), "record 0: expected an object"),
        ((tmp_path / "none.txt", FIXTURE / "data/quac/test.json"), "no such predictions file"),
        ((short, FIXTURE / "data/quac/test.json", "--quac-index-list", tmp_path / "list.json"), "expected a JSON list of integers"),
        ((tmp_path, FIXTURE / "data"), "no NAME.txt or NAME.jsonl here"),
    ]
    for args, message in cases:
        code, out = run(*args)
        assert code == 1 and message in out and "Traceback" not in out, (args, out)
        assert len(out.strip().splitlines()) == 1, out
