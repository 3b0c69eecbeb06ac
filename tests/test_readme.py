"""The top README's systems table is computed (`paperzoo table`), never hand-edited."""

from pathlib import Path

from paperzoo.systems import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- systems table: start -->", "<!-- systems table: end -->"


def test_readme_systems_table_is_the_computed_one():
    text = README.read_text()
    assert START in text and END in text, "README.md lost its systems-table markers"
    block = text[text.index(START) + len(START):text.index(END)].strip()
    assert block == markdown_table(), "README.md's systems table is stale: paste the output of `paperzoo table`"
