"""Named configs: exact parameter counts (card §2, official classes) on the meta device."""

import pytest
import torch

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.vmamba import VMamba, create_model, registry
from paperzoo.vmamba.config import PAPER_PARAMS


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_parameter_counts_match_the_paper_exactly(name):
    with torch.device("meta"):
        model = VMamba(name)
    assert sum(p.numel() for p in model.parameters()) == PAPER_PARAMS[name]


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
