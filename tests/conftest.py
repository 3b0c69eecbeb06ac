"""Shared test set-up: every test gets its own empty PAPERZOO_CACHE unless it asks for the
session cache (`shared_cache`), so tests never read a user's cache."""

import os

import pytest
import torch

# PAPERZOO_TEST_THREADS lets several test runs share the cores without oversubscribing them.
torch.set_num_threads(int(os.environ.get("PAPERZOO_TEST_THREADS") or min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch, request):
    if "shared_cache" in request.fixturenames:
        return
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """One cache folder for the whole session (trained tiny models are reused across tests),
    inside CI's PAPERZOO_CACHE when it is set, so CI still starts from empty."""
    root = os.environ.get("PAPERZOO_CACHE")
    return root if root else str(tmp_path_factory.mktemp("session-cache"))


@pytest.fixture
def shared_cache(session_cache, monkeypatch):
    monkeypatch.setenv("PAPERZOO_CACHE", session_cache)
    return session_cache


@pytest.fixture
def pooled_pixels():
    """A stand-in CMMD image embedder (`paperzoo.cmmd.embedders.Embedder`): a fixed random
    projection of 6x6-pooled pixels, D = 16, 48 px input, instant. For tests of pipelines
    that score images, not of the tiny SPARC encoder."""
    from paperzoo.cmmd.embedders import Embedder

    class PooledPixels(Embedder):
        name, fingerprint, input_size, dim = "pooled pixels (test)", "pooled-pixels-seed0", 48, 16

        def _forward(self, pixels):
            return self.model(pixels)

    torch.manual_seed(0)
    return PooledPixels(torch.nn.Sequential(torch.nn.AvgPool2d(6), torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 16)))
