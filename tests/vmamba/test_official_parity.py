"""Parity with the official code (MzeroMiko/VMamba), as committed data.

`tests/fixtures/vmamba/` holds two tiny random-initialised (then perturbed) official models
in the official key layout, a fixed non-square input for each and the official model's
logits and stage outputs on it, computed once by the official pure-torch CPU path
(`csms6s.selective_scan_torch`); `make_fixture.py` there says how. Here the state dicts go
through our release-checkpoint loader (`paperzoo.vmamba.checkpoint.load_official`, strict)
into our model, and our outputs must equal the official ones, with every scan backend.
(`official.json` also records the official named constructors' exact parameter counts;
tests/vmamba/test_config.py holds our named configs to them.)
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from paperzoo.vmamba import VMamba
from paperzoo.vmamba.checkpoint import load_official
from paperzoo.vmamba.config import VANILLA, VMambaConfig

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vmamba"
RECORD = json.loads((FIXTURE / "official.json").read_text())
IO = load_file(str(FIXTURE / "io.safetensors"))
# our configs for the two tiny official models (their official arguments are in official.json)
OURS = {
    "tiny_v2": VMambaConfig(dims=4, depths=(1, 1, 2, 1), d_state=2, ssm_ratio=2.0, mlp_ratio=4.0, num_classes=5,
                            drop_path_rate=0.0),
    "tiny_v0": VMambaConfig(dims=4, depths=(1, 1, 1, 1), num_classes=5, drop_path_rate=0.0, **dict(VANILLA, d_state=4)),
}
TOL = dict(atol=2e-5, rtol=1e-5)  # float32; measured: logits max |diff| 2-3e-8 (max |logit| 0.3-0.45), printed with -s


@pytest.mark.parametrize("name", sorted(OURS))
@pytest.mark.parametrize("backend", ["auto", "chunked", "kernel", "ref"])
def test_our_model_on_official_weights_gives_the_official_outputs(name, backend):
    model = load_official(FIXTURE / f"{name}.safetensors", replace(OURS[name], scan_backend=backend)).eval()
    assert sum(p.numel() for p in model.parameters()) == RECORD["models"][name]["parameters"]
    x = IO[f"{name}.input"]
    with torch.no_grad():
        logits = model(x)
        stages = model.forward_intermediates(x)
    expected = IO[f"{name}.logits"]
    print(f"{name} {backend}: logits max|diff| {(logits - expected).abs().max():.2e} (max|logit| {expected.abs().max():.2f})")
    torch.testing.assert_close(logits, expected, **TOL)
    for i, stage in enumerate(stages):
        torch.testing.assert_close(stage, IO[f"{name}.stage{i}"], **TOL)


def test_the_fixture_is_not_trivial():
    """The fixture's logits differ between the models and between the two inputs of a batch,
    and a model with other weights misses them: the comparison above can fail."""
    for name in OURS:
        logits = IO[f"{name}.logits"]
        assert logits.abs().max() > 0.1 and (logits[0] - logits[1]).abs().max() > 1e-3
        torch.manual_seed(0)
        fresh = VMamba(OURS[name]).eval()
        with torch.no_grad():
            assert (fresh(IO[f"{name}.input"]) - logits).abs().max() > 1e-2
