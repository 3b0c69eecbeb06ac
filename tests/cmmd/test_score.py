"""Scoring folders and .npz files, embedding caches, the CLI, and the sharded path."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from paperzoo.cli import main
from paperzoo.cmmd import cmmd_both, fid
from paperzoo.cmmd.embedders import load_embedder
from paperzoo.cmmd.score import embed_folder, save_embeddings, score
from paperzoo.core.errors import InputError
from paperzoo.world.scenes import SceneConfig, make_scenes


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    from paperzoo.sparc.model import SparcModel

    torch.manual_seed(0)
    SparcModel("tiny").save_pretrained(root / "embedder")
    for name, split in (("ref", "eval"), ("gen", "test")):
        (root / name).mkdir()
        for i, im in enumerate(make_scenes(SceneConfig(), 5, 70, split=split).images):
            Image.fromarray(im).save(root / name / f"{i:03d}.png")
    return root


def test_score_folders_matches_the_functions(setup):
    result = score(setup / "ref", setup / "gen", setup / "embedder", progress=False)
    emb = load_embedder(setup / "embedder")
    x, y = embed_folder(setup / "ref", emb, progress=False), embed_folder(setup / "gen", emb, progress=False)
    both = cmmd_both(x, y)
    assert result["cmmd_unbiased"] == pytest.approx(both["unbiased"]) and result["cmmd_biased"] == pytest.approx(both["biased"])
    assert result["fid"] == pytest.approx(fid(x, y)) and result["n_ref"] == 70 and result["dim"] == 64
    few = score(setup / "ref", setup / "gen", setup / "embedder", max_count=20, progress=False)
    assert few["n_ref"] == 20 and few["fid"] is None and "N > 64" in few["fid_note"]


def test_cache_is_keyed_by_files(setup, tmp_path):
    emb = load_embedder(setup / "embedder")
    first = embed_folder(setup / "ref", emb, cache=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    np.testing.assert_array_equal(embed_folder(setup / "ref", emb, cache=tmp_path, progress=False), first)
    assert len(list(tmp_path.glob("*.npz"))) == 1  # a hit, no new entry
    embed_folder(setup / "ref", emb, max_count=10, cache=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # another file list, another key
    path = setup / "ref" / "000.png"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # "edited"
    embed_folder(setup / "ref", emb, cache=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_npz_inputs_and_errors(setup, tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((30, 8)), rng.standard_normal((40, 8))
    save_embeddings(tmp_path / "a.npz", a)
    save_embeddings(tmp_path / "b.npz", b)
    result = score(tmp_path / "a.npz", tmp_path / "b.npz")
    assert result["cmmd_unbiased"] == pytest.approx(cmmd_both(a.astype(np.float32), b.astype(np.float32))["unbiased"])
    save_embeddings(tmp_path / "c.npz", rng.standard_normal((30, 9)))
    with pytest.raises(InputError, match=r"different dimensions \(8 vs 9\)"):
        score(tmp_path / "a.npz", tmp_path / "c.npz")
    np.savez(tmp_path / "wrong.npz", features=a)
    with pytest.raises(InputError, match="no 'embeddings' array"):
        score(tmp_path / "wrong.npz", tmp_path / "a.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no images"):
        score(tmp_path / "empty", tmp_path / "a.npz")
    with pytest.raises(InputError, match="no such folder"):
        score(tmp_path / "nothing", tmp_path / "a.npz")


def test_cli_score_and_embed(setup, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["cmmd", "score", str(setup / "ref"), str(setup / "gen"), "--embedder", str(setup / "embedder"),
                               "--json", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output[res.output.index("{"):])
    assert data["n_eval"] == 70
    assert data["cmmd_unbiased"] == pytest.approx(score(setup / "ref", setup / "gen", setup / "embedder", progress=False)["cmmd_unbiased"])
    res = runner.invoke(main, ["cmmd", "score", str(setup / "ref"), str(setup / "gen"), "--embedder", str(setup / "embedder"),
                               "--max-count", "40", "--device", "cpu"])
    few = score(setup / "ref", setup / "gen", setup / "embedder", max_count=40, progress=False)
    assert f"CMMD (unbiased, the paper's estimator):        {few['cmmd_unbiased']:.3f}" in res.output
    assert f"CMMD (biased V-statistic, the official code's): {few['cmmd_biased']:.3f}" in res.output
    assert "FID: not computed" in res.output and few["fid"] is None
    res = runner.invoke(main, ["cmmd", "embed", str(setup / "ref"), "--embedder", str(setup / "embedder"), "--out",
                               str(tmp_path / "ref.npz"), "--device", "cpu"])
    assert res.exit_code == 0 and "70 x 64" in res.output
    res = runner.invoke(main, ["cmmd", "score", str(tmp_path / "ref.npz"), str(setup / "gen"), "--embedder",
                               str(setup / "embedder"), "--json", "--device", "cpu"])
    assert json.loads(res.output[res.output.index("{"):])["cmmd_biased"] == pytest.approx(data["cmmd_biased"], rel=1e-5)
    res = runner.invoke(main, ["cmmd", "score", str(tmp_path / "none"), str(setup / "gen")])
    assert res.exit_code == 1 and "no such folder" in res.output


def test_sharded_path_on_one_process(setup):
    from accelerate import Accelerator

    from paperzoo.cmmd.sharded import cmmd_sharded, score_sharded

    acc = Accelerator(cpu=True)
    emb = load_embedder(setup / "embedder")
    result = score_sharded(setup / "ref", setup / "gen", emb, acc, batch_size=16, block=7)
    plain = score(setup / "ref", setup / "gen", emb, progress=False)
    assert result["cmmd_unbiased"] == pytest.approx(plain["cmmd_unbiased"], abs=1e-6)  # float32 sums, other blocks
    assert result["fid"] == pytest.approx(plain["fid"], rel=1e-5)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 6)), rng.standard_normal((31, 6))
    both = cmmd_sharded(x, y, acc, block=8, dtype=torch.float64)
    assert both["unbiased"] == pytest.approx(cmmd_both(x, y)["unbiased"], abs=1e-12)


def test_cli_score_out_writes_the_json_result(setup, tmp_path):
    runner = CliRunner()
    out = tmp_path / "deep" / "result.json"
    res = runner.invoke(main, ["cmmd", "score", str(setup / "ref"), str(setup / "gen"), "--embedder", str(setup / "embedder"),
                               "--out", str(out), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    written = json.loads(out.read_text())
    expected = score(setup / "ref", setup / "gen", setup / "embedder", progress=False)
    assert written["cmmd_unbiased"] == pytest.approx(expected["cmmd_unbiased"]) and written["fid"] == pytest.approx(expected["fid"])
    assert f"wrote {out}" in res.output and [p.name for p in out.parent.iterdir()] == ["result.json"]  # no temporary left


def test_embedder_names_and_folders_as_model_source(setup, tmp_path):
    runner = CliRunner()
    (tmp_path / "notes.txt").write_text("x")
    for bad, why in (("sparc-huge", "no such embedder"), (str(tmp_path / "absent"), "no such embedder"),
                     (str(tmp_path / "notes.txt"), "a file that is not a .pt")):
        res = runner.invoke(main, ["cmmd", "score", str(setup / "ref"), str(setup / "gen"), "--embedder", bad])
        assert res.exit_code == 1, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and f"--embedder {bad}" in lines[0] and why in lines[0], res.output
        assert "(sparc-tiny)" in lines[0]  # names the allowed name
    assert load_embedder(setup / "embedder").dim == 64  # a folder


def test_first_score_with_the_default_embedder_says_it_trains_it(setup, monkeypatch):
    """A fresh cache: `cmmd score` announces the one-off training (where it is cached) before it
    starts, then trains with a progress bar; the second call finds it cached and says nothing.
    The trainer is replaced by one that saves an untrained tiny model (instant)."""
    import importlib

    from paperzoo.cmmd.embedders import TRAIN_MINUTES, default_embedder_folder
    from paperzoo.sparc.model import SparcModel

    calls = []

    def fake_train(config, train_config, out_dir, seed=0, device="cpu", progress=True, **kwargs):
        calls.append({"out_dir": Path(out_dir), "progress": progress, "config": (config, train_config), "seed": seed})
        torch.manual_seed(seed)
        SparcModel("tiny").save_pretrained(Path(out_dir) / "model")

    sparc_train = importlib.import_module("paperzoo.sparc.train")  # the module (the package exports a function of that name)
    monkeypatch.setattr(sparc_train, "train", fake_train)
    runner = CliRunner()
    args = ["cmmd", "score", str(setup / "ref"), str(setup / "gen"), "--device", "cpu"]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    message = f"training the offline SPARC embedder once (~{TRAIN_MINUTES} min on 2 CPU cores), cached in {default_embedder_folder(0)}"
    assert message in res.output
    assert res.output.index(message) < res.output.index("CMMD (unbiased")  # before it starts
    assert calls == [{"out_dir": default_embedder_folder(0), "progress": True, "config": ("tiny", "tiny"), "seed": 0}]
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "training the offline" not in again.output and len(calls) == 1
