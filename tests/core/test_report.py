import pytest

from paperzoo.core.report import Claim, SystemReport, claims_table, summary, write_report
from paperzoo.core.verdict import better, deterministic, unmeasured


def claims():
    return [
        Claim("x beats y", "+1.0", "+0.3", better([0.5, 0.6, 0.55], [0.2, 0.3, 0.25])),
        Claim("z holds", "yes", "no", better([0.2, 0.25, 0.22], [0.5, 0.5, 0.5]), note="too small"),
        Claim("w beats v", "+2", "+0.1", better([0.6, 0.3, 0.5], [0.4, 0.4, 0.4])),
        Claim("flops equal", "1.005", "1.002", deterministic(True)),
        Claim("skipped", "-", "-", unmeasured("quick run")),
    ]


def test_report_rebuilds_from_saved_systems(tmp_path):
    systems = [("alpha", "Alpha paper", "1.1"), ("beta", "Beta paper", "2.2")]
    report = SystemReport("alpha", "Alpha paper", "1.1", "paperzoo reproduce alpha", claims=claims(),
                          plots=["alpha/plot.png"], setup="tiny run")
    report.save(tmp_path)
    assert SystemReport.load(tmp_path / "alpha" / "report.json") == report
    text = write_report(tmp_path, systems).read_text()
    assert "| alpha | Alpha paper | 2 of 4 hold, 1 not significant, 1 no |" in text
    assert "| beta | Beta paper | not yet reproduced |" in text
    assert "| z holds | yes | no | **no** (diff -0.277 ± 0.0145 SE, 3 seeds; the mean points the other way); too small |" in text
    assert "not significant (diff +0.0667" in text
    assert "![plot](alpha/plot.png)" in text
    assert "QUICK" not in text


def test_quick_reports_say_so(tmp_path):
    SystemReport("alpha", "A", "1", "c", claims=claims(), quick=True).save(tmp_path)
    text = write_report(tmp_path, [("alpha", "A", "1")]).read_text()
    assert "| alpha | A | 2 of 4 hold, 1 not significant, 1 no (QUICK smoke run) |" in text
    assert "**QUICK smoke run**" in text


def test_claims_need_a_verdict_not_a_bool():
    with pytest.raises(TypeError, match="paperzoo.core.verdict"):
        Claim("x", "y", "z", True)


def test_summary_and_table_agree():
    assert summary(claims()) == "2 of 4 hold, 1 not significant, 1 no"
    assert claims_table(claims()).count("\n") == 1 + len(claims())


def test_a_report_saved_by_an_older_paperzoo_is_listed_as_stale(tmp_path):
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / "report.json").write_text(
        '{"system": "alpha", "title": "A", "arxiv": "1", "command": "c", '
        '"claims": [{"claim": "x", "paper": "y", "ours": "z", "holds": true, "note": ""}]}')
    text = write_report(tmp_path, [("alpha", "A", "1")]).read_text()
    assert "| alpha | A | saved by an older paperzoo: rerun `paperzoo reproduce alpha` |" in text
