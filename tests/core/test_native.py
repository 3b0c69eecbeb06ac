"""core.native: a machine without ninja on PATH uses the ninja wheel's. (A failed build's one
warning and the fallback: tests/vmamba/test_fused_scan.py.)"""

import os
import shutil

import pytest

from paperzoo.core import native


def test_ninja_from_the_wheel_when_none_is_on_path(monkeypatch):
    ninja = pytest.importorskip("ninja")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("PATH", "/nowhere")
    native._ninja_on_path()
    assert os.environ["PATH"].split(os.pathsep)[0] == ninja.BIN_DIR
