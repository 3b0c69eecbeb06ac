"""`paperzoo chatqa train | retrieve | chat | reproduce` end to end on tiny budgets."""

import pytest
from click.testing import CliRunner

from paperzoo.chatqa.cli import cli
from paperzoo.chatqa.generator import Generator
from paperzoo.chatqa.retriever import DualEncoder


@pytest.mark.slow
def test_train_generator_then_retriever_then_retrieve_and_chat(tmp_path):
    runner = CliRunner()
    gen_out, ret_out = tmp_path / "gen", tmp_path / "ret"
    result = runner.invoke(cli, ["train", "--model", "tiny-ci", "--steps", "2", "--out", str(gen_out)])
    assert result.exit_code == 0, result.output
    gen = Generator.from_pretrained(gen_out / "stage2" / "model")
    assert gen.kind == "world" and (gen_out / "stage1" / "model" / "config.json").is_file()
    result = runner.invoke(cli, ["train", "--part", "retriever", "--steps", "2", "--out", str(ret_out)])
    assert result.exit_code == 0, result.output
    DualEncoder.from_pretrained(ret_out / "multi" / "model")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("the ulmar flows through vesk . it was founded in 1740 .\n\nthe band plays jazz .")
    (docs / "b.txt").write_text("kestrel island has 12 towns . its capital is morun .")
    result = runner.invoke(cli, ["retrieve", "--docs", str(docs), "--retriever", str(ret_out / "multi" / "model"),
                                 "-q", "how many towns does kestrel island have ?", "--top-k", "2", "--chunk-words", "8"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1. [") and "\n2. [" in result.output and "3. [" not in result.output
    result = runner.invoke(cli, ["chat", "--docs", str(docs), "--retriever", str(ret_out / "multi" / "model"),
                                 "--model", str(gen_out / "stage2" / "model"), "-q", "what is its capital ?",
                                 "--top-k", "1", "--max-new-tokens", "3", "--chunk-words", "8"])
    assert result.exit_code == 0, result.output
    assert "Q: what is its capital ?" in result.output and "\nA: " in result.output


def test_bad_inputs_are_one_line_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--stages", "3", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--stages" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(cli, ["retrieve", "--docs", str(empty), "-q", "anything", "--retriever", "tiny"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    result = runner.invoke(cli, ["chat", "--docs", str(tmp_path / "missing"), "-q", "x"])
    assert result.exit_code != 0 and "Traceback" not in result.output
