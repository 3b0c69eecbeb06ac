"""`paperzoo reproduce`: the plan with expected times, reports saved, --record, --quick marking."""

import sys
import types

import pytest
from click.testing import CliRunner

import paperzoo.reproducing as reproducing
from paperzoo.cli import main
from paperzoo.core.report import Claim, SystemReport
from paperzoo.core.verdict import better
from paperzoo.systems import SYSTEMS, System


@pytest.fixture
def fake_system(monkeypatch, tmp_path):
    """One implemented system 'fake' (expected 42 min, quick 2) and one not implemented."""
    calls = []

    def run(out_dir, quick, device, seed):
        calls.append((quick, device, seed))
        return SystemReport("fake", "Fake paper", "0000.0", "paperzoo reproduce fake", quick=quick,
                            claims=[Claim("a beats b", "+1", "+0.5", better([0.6, 0.7, 0.65], [0.1, 0.2, 0.15]))])

    module = types.ModuleType("paperzoo.fake.reproduce")
    module.run, module.EXPECTED_MINUTES = run, {"full": 42, "quick": 2}
    monkeypatch.setitem(sys.modules, "paperzoo.fake.reproduce", module)
    systems = (System("fake", "Fake paper", "0000.0", "works", True), System("later", "Later paper", "1111.1", "not yet implemented", False))
    monkeypatch.setattr(reproducing, "SYSTEMS", systems)
    monkeypatch.setattr(reproducing, "BY_NAME", {s.name: s for s in systems})
    monkeypatch.setattr(reproducing, "recorded_path", lambda name: tmp_path / f"{name}-reproduced.json")
    return calls


def test_plan_prints_expected_times_before_running(fake_system, tmp_path):
    result = CliRunner().invoke(main, ["reproduce", "all", "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "full reproduction: 1 system(s), expected about 42 min" in out
    assert out.index("fake            ~42 min") < out.index("fake: reproducing")
    assert "later: not yet implemented" in out
    assert fake_system == [(False, "cpu", 0)]
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "| fake | Fake paper | 1 of 1 hold |" in report and "| later | Later paper | not yet reproduced |" in report


def test_quick_is_marked_as_a_smoke_run(fake_system, tmp_path):
    result = CliRunner().invoke(main, ["reproduce", "fake", "--quick", "--out", str(tmp_path), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "QUICK smoke run (numbers mean nothing): 1 system(s), expected about 2 min" in result.output
    assert fake_system == [(True, "cpu", 3)]
    assert "(QUICK smoke run)" in (tmp_path / "REPORT.md").read_text()


def test_record_keeps_the_full_report_and_refuses_quick(fake_system, tmp_path):
    result = CliRunner().invoke(main, ["reproduce", "fake", "--record", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert SystemReport.load(tmp_path / "fake-reproduced.json").claims[0].holds == "yes"
    result = CliRunner().invoke(main, ["reproduce", "fake", "--record", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "cannot be combined with --quick" in result.output


def test_unknown_system_and_unavailable_device_are_one_line_errors(tmp_path):
    for args, message in ((["reproduce", "nosuch"], "unknown system 'nosuch'"),
                          (["reproduce", "sparc", "--device", "cuda:1"], "no CUDA GPU"),
                          (["reproduce", "sparc", "--device", "mps"], "MPS")):
        result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output


def test_every_implemented_system_states_its_expected_time():
    for s in SYSTEMS:
        if s.implemented:
            full, quick = reproducing.expected_minutes(s, False), reproducing.expected_minutes(s, True)
            assert full is not None and quick is not None, s.name
            assert 0 < quick <= 5 < full, (s.name, quick, full)
