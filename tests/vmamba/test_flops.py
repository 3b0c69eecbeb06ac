"""FLOPs: the paper's figures (T1, T3, App. E, T9), a check against torch's counter on the
real modules, and linear growth with the pixel count."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from paperzoo.vmamba import VMamba, registry
from paperzoo.vmamba.config import PAPER_GFLOPS
from paperzoo.vmamba.flops import flops


def test_exact_counts_of_the_card():
    assert flops("vmamba-t") == 4_905_609_984
    assert flops("vanilla-t") == 5_626_902_528


@pytest.mark.parametrize("name", sorted(PAPER_GFLOPS))
def test_gflops_at_224_match_the_paper(name):
    paper = PAPER_GFLOPS[name]
    decimals = len(str(paper).split(".")[1])
    assert round(flops(name) / 1e9, decimals) == paper


def test_resolution_table_t9():
    got = [round(flops("vmamba-t", s) / 1e9, 2) for s in (224, 288, 384, 512, 640, 768)]
    assert got == [4.91, 8.11, 14.41, 25.63, 40.04, 57.66]


@pytest.mark.parametrize("name", ["vmamba-nano", "vanilla-t"])
def test_analytic_macs_match_torch_flop_counter(name):
    """torch counts convs, linears and einsums (2 per MAC); the reference scan has no
    matmuls, so it sees exactly the `macs_only` part of our count."""
    config = replace(registry.get(name), scan_backend="ref", dims=24, depths=(1, 1, 2, 1)) if name == "vanilla-t" \
        else replace(registry.get(name), scan_backend="ref")
    torch.manual_seed(0)
    model = VMamba(config).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    assert counter.get_total_flops() == 2 * flops(config, 64, macs_only=True)


def test_flops_grow_linearly_with_pixels():
    sizes = np.array([64, 128, 256, 512])
    f = np.array([flops("vmamba-nano", int(s)) for s in sizes])
    slope = np.polyfit(np.log(sizes**2), np.log(f), 1)[0]
    assert abs(slope - 1.0) < 0.02, slope
    assert 3.9 < f[1] / f[0] < 4.05  # card §5: x3.99 from 64 to 128


def test_nano_flops_of_the_card():
    assert round(flops("vmamba-nano", 64) / 1e6, 1) == 13.5  # card §5: 13.5 MFLOPs at 64 px


def test_vit_macs_match_torch_counter_without_attention_and_grow_quadratically():
    """The analytic ViT count: its matmul part equals torch's counter with the attention
    term removed (torch's CPU attention kernel is not counted), and it grows faster than
    the pixel count while VMamba's does not."""
    from paperzoo.vmamba.vit import ViT, ViTConfig, vit_macs

    config = ViTConfig(image_size=64, num_classes=2)
    torch.manual_seed(0)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        ViT(config).train()(torch.zeros(1, 3, 64, 64))  # train mode: no fused fast path, which the counter misses
    n, d = 64, config.width
    assert counter.get_total_flops() // 2 == vit_macs(config, 64) - config.depth * 2 * n * n * d
    growth = [vit_macs(config, px * 2) / vit_macs(config, px) for px in (64, 128, 256)]
    assert all(b > a > 4.0 for a, b in zip(growth, growth[1:]))
