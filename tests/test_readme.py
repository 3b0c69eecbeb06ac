"""The README tables are computed (`paperzoo table [SYSTEM]`), never hand-edited: the top
README's systems table, and the claims table of every system with a recorded reproduction."""

from pathlib import Path

import pytest

from paperzoo.systems import CLAIMS_END, CLAIMS_START, SYSTEMS, markdown_table, recorded_claims_table

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- systems table: start -->", "<!-- systems table: end -->"


def test_readme_systems_table_is_the_computed_one():
    text = README.read_text()
    assert START in text and END in text, "README.md lost its systems-table markers"
    block = text[text.index(START) + len(START):text.index(END)].strip()
    assert block == markdown_table(), "README.md's systems table is stale: paste the output of `paperzoo table`"


def block(text: str, start: str, end: str) -> str:
    return text[text.index(start) + len(start):text.index(end)].strip()


@pytest.mark.parametrize("system", [s.name for s in SYSTEMS if s.implemented])
def test_recorded_claims_tables_are_the_computed_ones(system):
    table = recorded_claims_table(system)
    if table is None:
        pytest.skip(f"{system} has no recorded reproduction yet (its README says so in its own words)")
    text = (README.parent / "src" / "paperzoo" / system / "README.md").read_text()
    assert CLAIMS_START in text and CLAIMS_END in text, f"{system}/README.md needs the claims-table markers"
    assert block(text, CLAIMS_START, CLAIMS_END) == table, f"stale: paste `paperzoo table {system}` into {system}/README.md"
