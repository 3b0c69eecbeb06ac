"""Official checkpoints: strict load through the key map, legacy names, errors."""

import pickle

import pytest
import torch

from paperzoo.core.errors import CheckpointError
from paperzoo.vmamba import VMamba, create_model
from paperzoo.vmamba.checkpoint import load_official, map_official_keys


class TrainingConfig:
    """Stands in for the yacs config that release files pickle next to the weights."""


def official_layout(state: dict, legacy: bool) -> dict:
    """Write our weights as an official release would name them (legacy: pre-rename names)."""
    if not legacy:
        return dict(state)
    out = {}
    for k, v in state.items():
        k = k.replace("patch_embed.0.", "patch_embed.proj.").replace("patch_embed.2.", "patch_embed.norm.")
        k = k.replace("classifier.norm.", "norm.").replace("classifier.head.", "head.")
        k = k.replace(".op.", ".self_attention.")
        if ".blocks." in k and ".norm." in k and ".norm2." not in k:
            k = k.replace(".norm.", ".ln_1.")
        out[k] = v
    return out


@pytest.mark.parametrize("name,legacy", [("vmamba-nano", False), ("vmamba-nano", True)])
def test_release_checkpoint_loads_strictly(tmp_path, name, legacy):
    torch.manual_seed(0)
    source = create_model(name).eval()
    blob = {"model": official_layout(source.state_dict(), legacy), "epoch": 264, "max_accuracy": 82.6}
    torch.save(blob, tmp_path / "ckpt_epoch_264.pth")
    loaded = load_official(tmp_path / "ckpt_epoch_264.pth", name).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), source(x))
    assert create_model(name, pretrained=str(tmp_path / "ckpt_epoch_264.pth")).state_dict().keys() == source.state_dict().keys()


def test_create_model_loads_a_pickled_release_file_with_its_ema(tmp_path):
    """Release files pickle their training config and hold "model_ema": create_model passes
    trust_pickle and ema through to the loader."""
    torch.manual_seed(0)
    raw, avg = create_model("vmamba-nano").state_dict(), create_model("vmamba-nano").state_dict()
    torch.save({"model": raw, "model_ema": avg, "config": TrainingConfig()}, tmp_path / "release.pth", pickle_module=pickle)
    model = create_model("vmamba-nano", pretrained=str(tmp_path / "release.pth"), trust_pickle=True, ema=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in avg.items())
    assert not all(torch.equal(model.state_dict()[k], v) for k, v in raw.items())


def test_vanilla_layout_and_key_map():
    state = {"patch_embed.proj.weight": 1, "layers.0.blocks.3.ln_1.bias": 2, "layers.2.blocks.0.self_attention.Ds": 3,
             "norm.weight": 4, "head.bias": 5, "layers.0.downsample.norm.weight": 6}
    assert list(map_official_keys(state)) == ["patch_embed.0.weight", "layers.0.blocks.3.norm.bias", "layers.2.blocks.0.op.Ds",
                                              "classifier.norm.weight", "classifier.head.bias", "layers.0.downsample.norm.weight"]
    with torch.device("meta"):
        keys = VMamba("vanilla-t").state_dict().keys()
    assert "layers.0.downsample.reduction.weight" in keys and "layers.0.blocks.0.op.in_proj.weight" in keys


def test_checkpoint_errors(tmp_path):
    torch.manual_seed(0)
    state = create_model("vmamba-nano").state_dict()
    broken = dict(state)
    del broken["layers.1.blocks.0.op.A_logs"]
    torch.save({"model": broken}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match=r"1 missing \(e.g. layers.1.blocks.0.op.A_logs\)"):
        load_official(tmp_path / "missing.pth", "vmamba-nano")
    torch.save({"model": state}, tmp_path / "nano.pth")
    with pytest.raises(CheckpointError, match="another shape"):
        load_official(tmp_path / "nano.pth", create_model("vmamba-nano", num_classes=5).config)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_official(tmp_path / "absent.pth", "vmamba-nano")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_official(tmp_path / "junk.pth", "vmamba-nano")
    torch.save({"model": state, "config": TrainingConfig()}, tmp_path / "pickled.pth", pickle_module=pickle)
    with pytest.raises(CheckpointError, match="trust_pickle=True"):
        load_official(tmp_path / "pickled.pth", "vmamba-nano")
    with pytest.raises(CheckpointError, match="model_ema"):
        load_official(tmp_path / "nano.pth", "vmamba-nano", ema=True)


def test_cli_configs_and_check(tmp_path):
    from click.testing import CliRunner

    from paperzoo.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["vmamba", "configs"])
    assert res.exit_code == 0 and "vmamba-t            30,249,064    30,249,064   30.2M  4.91" in res.output
    torch.manual_seed(0)
    torch.save({"model": create_model("vmamba-nano").state_dict()}, tmp_path / "nano.pth")
    res = runner.invoke(main, ["vmamba", "check", str(tmp_path / "nano.pth"), "--config", "vmamba-nano"])
    assert res.exit_code == 0 and "loads into vmamba-nano strictly (953,866 parameters)" in res.output
    res = runner.invoke(main, ["vmamba", "check", str(tmp_path / "nano.pth"), "--config", "vmamba-t"])
    assert res.exit_code == 1 and "does not fit the config" in res.output
