"""The plateau study's levers reach the runs they name (plateau.py), and each lever's knob
does what it says: dt's initial range, label smoothing, the hidden head layer."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from paperzoo.core.errors import ConfigError
from paperzoo.vmamba import VMamba, create_model
from paperzoo.vmamba.cli import cli
from paperzoo.vmamba.plateau import LEVERS, run, table
from paperzoo.vmamba.train import TrainConfig, classification_step

TINY = TrainConfig(steps=2, batch_size=8, warmup_steps=1)


@pytest.mark.slow
def test_levers_reach_their_runs_and_are_cached(tmp_path):
    rows = run(tmp_path, ("recipe", "mlp-head", "dt-small", "smooth-0.1"), seeds=1, budget=TINY, eval_count=16)
    assert [(r["lever"], r["model"]) for r in rows] == [
        ("recipe", "vmamba-nano"), ("recipe", "conv-nano"), ("mlp-head", "vmamba-nano"), ("mlp-head", "conv-nano"),
        ("dt-small", "vmamba-nano"), ("smooth-0.1", "vmamba-nano"), ("smooth-0.1", "conv-nano")]
    root = tmp_path / "vmamba" / "plateau"
    settings = lambda lever, model: json.loads((root / lever / f"{model}-seed0" / "run-key.json").read_text())["settings"]  # noqa: E731
    assert settings("mlp-head", "conv-nano")["architecture"]["head_hidden"] == 64
    assert settings("recipe", "conv-nano")["architecture"]["head_hidden"] == 0
    assert settings("dt-small", "vmamba-nano")["architecture"]["dt_range"] == [1e-4, 1e-2]
    assert settings("smooth-0.1", "vmamba-nano")["budget"]["label_smoothing"] == 0.1
    assert all(0 <= r["escaped"] <= r["seeds"] == 1 for r in rows)
    assert "| mlp-head |" in table(rows)
    again = run(tmp_path, ("mlp-head",), seeds=1, budget=TINY, eval_count=16)  # served from the run cache
    assert again[0]["accuracy"] == rows[2]["accuracy"]


def test_unknown_lever_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="--lever: unknown nope; allowed: recipe, "):
        run(tmp_path, ("nope",), seeds=1, budget=TINY)


def test_cli_help_lists_every_lever_in_order():
    text = "".join(CliRunner().invoke(cli, ["plateau", "--help"]).output.split())  # help wraps at hyphens
    assert ",".join(LEVERS) in text


@pytest.mark.slow
def test_cli_writes_the_table_and_plot(tmp_path):
    result = CliRunner().invoke(cli, ["plateau", "--lever", "recipe", "--seeds", "1", "--steps", "2", "--eval-count", "16",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "vmamba" / "plateau" / "plateau.md").read_text().startswith("| lever |")
    assert (tmp_path / "vmamba" / "plateau" / "plateau.png").stat().st_size > 0


def test_dt_range_sets_the_initial_dt():
    torch.manual_seed(0)
    model = create_model("vmamba-nano", dt_range=(1e-4, 1e-2))
    dt = F.softplus(torch.cat([m.op.dt_projs_bias.flatten() for m in model.modules() if hasattr(m, "op")]))
    assert dt.min() >= 1e-4 * 0.999 and dt.max() <= 1e-2 * 1.001
    default = F.softplus(create_model("vmamba-nano").layers[0].blocks[0].op.dt_projs_bias)
    assert default.max() > 1e-2  # the default range [1e-3, 0.1] reaches above the small one


def test_hidden_head_keeps_the_official_keys_when_off():
    assert not any("hidden" in k for k in VMamba("vmamba-nano").state_dict())
    with_hidden = create_model("vmamba-nano", head_hidden=16, num_classes=3)
    assert with_hidden(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert with_hidden.classifier.hidden[0].out_features == 16


def test_label_smoothing_changes_the_loss_as_its_formula():
    model = create_model("vmamba-nano", num_classes=2).eval()
    batch = (torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 1, 0]))
    with torch.no_grad():
        logits = model(batch[0])
    logp = logits.log_softmax(1)
    nll = -logp.gather(1, batch[1][:, None]).mean()
    expected = 0.9 * nll + 0.1 * (-logp.mean(1)).mean()
    with torch.no_grad():
        loss = classification_step(model, batch, label_smoothing=0.1)["loss"]
    assert math.isclose(float(loss), float(expected), rel_tol=1e-5)


def test_every_lever_names_a_known_knob():
    from dataclasses import fields

    from paperzoo.vmamba.config import VMambaConfig
    known_train = {f.name for f in fields(TrainConfig)}
    known_model = {f.name for f in fields(VMambaConfig)}
    for lever in LEVERS.values():
        assert set(lever.train) <= known_train and set(lever.model) <= known_model, lever.name


def test_batchnorm_replaces_every_layernorm_of_the_macro_design_but_ss2ds_out_norm():
    from torch import nn

    from paperzoo.vmamba.blocks import BatchNormLast

    ln, bn = create_model("vmamba-nano"), create_model("vmamba-nano", norm="bn")
    kinds = lambda m: {n: type(x) for n, x in m.named_modules() if isinstance(x, (nn.LayerNorm, nn.BatchNorm2d))}  # noqa: E731
    assert kinds(ln).keys() == kinds(bn).keys()  # the same places, so the same module names
    for name, kind in kinds(bn).items():
        assert kind is (nn.LayerNorm if name.endswith("out_norm") else BatchNormLast), name
    x = torch.randn(4, 3, 64, 64)
    bn.train()(x).sum().backward()
    # channels-last BatchNorm: each channel normalised over (B, H, W), as BatchNorm2d on the permuted map
    norm = BatchNormLast(6).train()
    y = torch.randn(3, 5, 5, 6)
    assert torch.allclose(norm(y), F.batch_norm(y.permute(0, 3, 1, 2), None, None, training=True).permute(0, 2, 3, 1),
                          atol=1e-5)
