"""The shared run cache: hits, reruns on any change of settings or code, resumes, atomic results."""

import json

import pytest

from paperzoo.core import runcache
from paperzoo.core.runcache import KEY_FILE, RESULT_FILE, cached_run, code_hash, is_cached


def counting(log):
    def fn(folder):
        log.append(folder)
        (folder / "model.bin").write_text("weights")
        return {"accuracy": 0.5 + 0.1 * len(log)}

    return fn


def test_second_call_is_served_from_disk(tmp_path):
    log = []
    first = cached_run(tmp_path / "run", "sparc", {"steps": 10, "seed": 0}, counting(log))
    second = cached_run(tmp_path / "run", "sparc", {"steps": 10, "seed": 0}, counting(log))
    assert len(log) == 1 and first == second and first["accuracy"] == pytest.approx(0.6)
    assert first["run_key"]["settings"] == {"steps": 10, "seed": 0}
    assert is_cached(tmp_path / "run", "sparc", {"steps": 10, "seed": 0})


def test_tuples_in_settings_still_hit(tmp_path):
    log = []
    cached_run(tmp_path / "run", "sparc", {"sizes": (64, 96)}, counting(log))
    cached_run(tmp_path / "run", "sparc", {"sizes": (64, 96)}, counting(log))
    assert len(log) == 1


def test_other_settings_wipe_the_stale_folder_and_rerun(tmp_path):
    log = []
    cached_run(tmp_path / "run", "sparc", {"steps": 10}, counting(log))
    (tmp_path / "run" / "stale-checkpoint").write_text("old")
    result = cached_run(tmp_path / "run", "sparc", {"steps": 20}, counting(log))
    assert len(log) == 2 and result["accuracy"] == pytest.approx(0.7)
    assert not (tmp_path / "run" / "stale-checkpoint").exists()


def test_a_code_change_reruns(tmp_path, monkeypatch):
    log = []
    cached_run(tmp_path / "run", "sparc", {"steps": 10}, counting(log))
    monkeypatch.setattr(runcache, "code_hash", lambda system: "0" * 16)
    cached_run(tmp_path / "run", "sparc", {"steps": 10}, counting(log))
    assert len(log) == 2


def test_code_hash_covers_the_system_core_and_world():
    assert code_hash("sparc") != code_hash("cmmd")
    assert len(code_hash("sparc")) == 16
    with pytest.raises(ValueError, match="no package folder"):
        code_hash("nosuch")


def test_code_hash_covers_the_shared_packages_a_system_uses(tmp_path, monkeypatch):
    """A change inside paperzoo.diffusion reruns DiffusionGPT's runs, not SPARC's."""
    from paperzoo.core import runcache

    root = tmp_path / "paperzoo"
    for part in ("sparc", "diffusiongpt", "core", "world", "diffusion"):
        (root / part).mkdir(parents=True)
        (root / part / "a.py").write_text(f"# {part}\n")
    monkeypatch.setattr(runcache, "PACKAGE_ROOT", root)
    code_hash.cache_clear()
    before = {s: code_hash(s) for s in ("sparc", "diffusiongpt")}
    (root / "diffusion" / "a.py").write_text("# changed\n")
    code_hash.cache_clear()
    after = {s: code_hash(s) for s in ("sparc", "diffusiongpt")}
    code_hash.cache_clear()
    assert after["sparc"] == before["sparc"] and after["diffusiongpt"] != before["diffusiongpt"]


def test_an_interrupted_run_keeps_its_folder_for_resume(tmp_path):
    def crash(folder):
        (folder / "checkpoint").write_text("step 5")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_run(tmp_path / "run", "sparc", {"steps": 10}, crash)
    assert not (tmp_path / "run" / RESULT_FILE).exists()  # nothing half-written
    seen = []

    def resume(folder):
        seen.append((folder / "checkpoint").read_text())
        return {"ok": True}

    assert cached_run(tmp_path / "run", "sparc", {"steps": 10}, resume)["ok"] and seen == ["step 5"]


def test_a_corrupt_result_reruns(tmp_path):
    log = []
    cached_run(tmp_path / "run", "sparc", {"steps": 10}, counting(log))
    (tmp_path / "run" / RESULT_FILE).write_text("{not json")
    cached_run(tmp_path / "run", "sparc", {"steps": 10}, counting(log))
    assert len(log) == 2
    assert json.loads((tmp_path / "run" / KEY_FILE).read_text())["settings"] == {"steps": 10}


def test_settings_must_be_json(tmp_path):
    with pytest.raises(ValueError, match="JSON-serialisable"):
        cached_run(tmp_path / "run", "sparc", {"fn": object()}, lambda folder: {})
