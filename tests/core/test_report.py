from paperzoo.core.report import Claim, SystemReport, write_report


def test_report_rebuilds_from_saved_systems(tmp_path):
    systems = [("alpha", "Alpha paper", "1.1"), ("beta", "Beta paper", "2.2")]
    report = SystemReport(
        "alpha", "Alpha paper", "1.1", "paperzoo reproduce alpha",
        claims=[Claim("x beats y", "+1.0", "+0.3", True), Claim("z holds", "yes", "no", False, note="too small")],
        plots=["alpha/plot.png"], setup="tiny run",
    )
    report.save(tmp_path)
    assert SystemReport.load(tmp_path / "alpha" / "report.json") == report
    text = write_report(tmp_path, systems).read_text()
    assert "| alpha | Alpha paper | 1 / 2 |" in text
    assert "| beta | Beta paper | not yet reproduced |" in text
    assert "| z holds | yes | no | **no** (too small) |" in text
    assert "![plot](alpha/plot.png)" in text
