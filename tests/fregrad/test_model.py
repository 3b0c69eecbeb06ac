"""The vocoder network: the named configs' parameter counts (§4.1, Table 1, card §2),
Freq-DConv's shapes and its folded fast path against the literal DWT -> conv -> iDWT,
the step embedding, the upsampler's length, and save / load."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from paperzoo.core.errors import CheckpointError, ConfigError, InputError
from paperzoo.fregrad.config import PAPER_PARAMS, config, configs
from paperzoo.fregrad.freq_dconv import FreqDConv
from paperzoo.fregrad.model import Vocoder, parameter_count
from paperzoo.fregrad.prior import EnergyStats


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_parameter_counts_equal_the_paper(name):
    assert parameter_count(name) == PAPER_PARAMS[name]


def test_parameter_ratios():
    assert parameter_count("fregrad") / parameter_count("priorgrad") == pytest.approx(0.680, abs=5e-4)
    assert parameter_count("tiny-fregrad") / parameter_count("tiny-priorgrad") == pytest.approx(0.723, abs=5e-4)
    for name in configs():
        assert parameter_count(name) > 0


def test_freq_dconv_shapes_and_weight_layout():
    conv = FreqDConv(32, 64, 3, dilation=4)
    assert tuple(conv.weight.shape) == (128, 64, 3)  # the official dilated_conv.weight
    x = torch.randn(2, 32, 100)
    assert conv(x).shape == (2, 64, 100)  # [B, C, L/2] -> [B, 2C, L/2] around the sub-bands


@pytest.mark.parametrize("dilation", [1, 2, 32])
def test_folded_freq_dconv_equals_dwt_conv_idwt(dilation):
    torch.manual_seed(dilation)
    conv = FreqDConv(5, 10, 3, dilation=dilation).double()
    x = torch.randn(3, 5, 96, dtype=torch.float64, requires_grad=True)
    fast, ref = conv.forward_folded(x), conv.forward_reference(x)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)
    g = torch.randn_like(fast)
    for a, b in zip(torch.autograd.grad(fast, (x, conv.weight, conv.bias), g),
                    torch.autograd.grad(ref, (x, conv.weight, conv.bias), g)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)


def test_freq_dconv_sees_both_bands():
    """A kernel tap on the high band only responds to the odd-even difference of the input."""
    conv = FreqDConv(1, 1, 1).double()
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 1, 0] = 1.0  # low output <- high input
    smooth = torch.ones(1, 1, 8, dtype=torch.float64)
    assert conv(smooth).abs().max() < 1e-12  # a constant has no high band
    alternating = torch.tensor([[[1.0, -1.0] * 4]], dtype=torch.float64)
    assert conv(alternating).abs().max() > 0.5


@pytest.mark.parametrize("name", ["tiny-fregrad", "tiny-priorgrad", "tiny-fregrad-no-dconv"])
def test_forward_shapes_and_zero_init_output(name):
    model = Vocoder(name)
    cfg = model.config
    frames = 5
    x = torch.randn(2, cfg.bands, frames * cfg.hop // cfg.bands)
    out = model(x, torch.randn(2, cfg.n_mels, frames), torch.tensor([3, 49]))
    assert out.shape == x.shape
    # the output conv starts at zero weight: the prediction is its bias, constant over time
    assert torch.allclose(out, out[..., :1].expand_as(out))
    assert model.spectrogram_upsampler(torch.randn(2, cfg.n_mels, frames)).shape[-1] == x.shape[-1]


def test_step_embedding_table_and_fractional_steps():
    emb = Vocoder("tiny-fregrad").diffusion_embedding
    table = emb.embedding
    j = torch.arange(64, dtype=torch.float32)
    torch.testing.assert_close(table[5], torch.cat([torch.sin(5 * 10 ** (4 * j / 63)), torch.cos(5 * 10 ** (4 * j / 63))]))

    def mlp(row):
        return F.silu(emb.projection2(F.silu(emb.projection1(row))))

    torch.testing.assert_close(emb(torch.tensor([3]))[0], mlp(table[3]))
    torch.testing.assert_close(emb(torch.tensor([3.25]))[0], mlp(table[3] + 0.25 * (table[4] - table[3])))


def test_bad_inputs_and_configs():
    model = Vocoder("tiny-fregrad")
    with pytest.raises(InputError, match="80"):
        model(torch.randn(1, 2, 256), torch.randn(1, 60, 2), torch.tensor([0]))
    with pytest.raises(InputError, match="samples per band"):
        model(torch.randn(1, 2, 100), torch.randn(1, 80, 2), torch.tensor([0]))
    with pytest.raises(ConfigError, match="known"):
        Vocoder("fregrad-xl")
    with pytest.raises(ConfigError, match="bands=2"):
        dataclasses.replace(config("priorgrad"), prior="separate")
    with pytest.raises(ConfigError, match="hop"):
        dataclasses.replace(config("fregrad"), upsample_strides=(16, 16))


def test_save_and_load_with_prior_stats(tmp_path):
    torch.manual_seed(0)
    model = Vocoder("tiny-fregrad")
    model.prior_stats = EnergyStats(0.02, 4.0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.save_pretrained(tmp_path / "m")
    back = Vocoder.from_pretrained(tmp_path / "m")
    assert back.config == model.config and back.prior_stats == model.prior_stats
    for (k, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    (tmp_path / "m" / "prior_stats.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="prior_stats"):
        Vocoder.from_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match="does not exist"):
        Vocoder.from_pretrained(tmp_path / "missing")
