"""Named configs: parameter counts on the meta device, exactly the official code's (recorded
from its named constructors in tests/fixtures/vmamba/official.json) and the paper's rounded ones."""

import json
from pathlib import Path

import pytest
import torch

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.vmamba import VMamba, create_model, registry
from paperzoo.vmamba.config import OFFICIAL_PARAMS, PAPER_PARAMS_M

OFFICIAL = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "vmamba" / "official.json").read_text())


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAMS))
def test_parameter_counts_equal_the_official_code_and_round_to_the_paper(name):
    with torch.device("meta"):
        count = sum(p.numel() for p in VMamba(name).parameters())
    assert count == OFFICIAL["named_counts"][name]["parameters"] == OFFICIAL_PARAMS[name]  # exact: the official modules
    paper = PAPER_PARAMS_M[name]  # the paper's, in millions, to 0 or 1 decimal
    assert round(count / 1e6, 0 if paper == int(paper) else 1) == paper


def test_nano_and_bad_configs():
    with torch.device("meta"):
        nano = VMamba("vmamba-nano")
    assert 0.9e6 < sum(p.numel() for p in nano.parameters()) < 1.0e6  # card §5: 0.95M with 10 classes
    with pytest.raises(ConfigError, match="unknown"):
        registry.get("vmamba-xl")
    with pytest.raises(ConfigError, match="scan"):
        create_model("vmamba-nano", scan="spiral")


def test_forward_shapes_and_input_errors():
    torch.manual_seed(0)
    model = create_model("vmamba-nano", num_classes=7).eval()
    x = torch.randn(2, 3, 64, 64)
    assert model(x).shape == (2, 7)
    assert model.forward_features(x).shape == (2, 2, 2, 192)
    assert [m.shape[1] for m in model.forward_intermediates(x)] == [24, 48, 96, 192]
    assert model(torch.randn(1, 3, 96, 64)).shape == (1, 7)  # any multiple of 32
    with pytest.raises(InputError, match="expected 3 channels, got 1"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(InputError, match="multiples of 32"):
        model(torch.randn(1, 3, 60, 64))
    with pytest.raises(InputError, match="float tensor"):
        model(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
