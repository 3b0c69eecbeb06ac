"""The losses as the paper writes them, and the view importance of Eqs. 3-4."""

import math

import pytest
import torch

from paperzoo.core.errors import ConfigError
from paperzoo.shinobi import losses as L
from paperzoo.shinobi.encoding import hann_window
from paperzoo.shinobi.importance import ViewImportance


def test_charbonnier_is_its_formula():
    a, b = torch.tensor([0.0, 0.5]), torch.tensor([0.0, 0.2])
    expected = (math.sqrt(1e-6) + math.sqrt(0.09 + 1e-6)) / 2
    assert float(L.charbonnier(a, b)) == pytest.approx(expected)


def test_multiscale_patch_loss_weights_levels_coarse_first():
    g = torch.Generator().manual_seed(0)
    p, t = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    assert float(L.multiscale_charbonnier(p, t, levels=1)) == pytest.approx(float(L.charbonnier(p, t)))
    per_level = [float(L.charbonnier(a, b)) for a, b in zip(L.patch_pyramid(p, 3), L.patch_pyramid(t, 3))]
    early = float(L.multiscale_charbonnier(p, t, levels=3, progress=0.0))  # weights 1, 2, 3 (normalised)
    late = float(L.multiscale_charbonnier(p, t, levels=3, progress=1.0))  # equal weights
    assert early == pytest.approx((per_level[0] + 2 * per_level[1] + 3 * per_level[2]) / 6)
    assert late == pytest.approx(sum(per_level) / 3)


def test_silhouette_loss_is_the_blurred_xor_area():
    m = torch.zeros(1, 1, 12, 12)
    m[..., 3:9, 3:9] = 1
    assert float(L.silhouette_loss(m, m, sigma=0.5)) < float(L.silhouette_loss(m.roll(2, -1), m, sigma=0.5))
    shifted = float(L.silhouette_loss(m.roll(2, -1), m, sigma=1e-3))  # no blur: the XOR area over the pixel count
    assert shifted == pytest.approx(24 / 144, rel=1e-3)


def test_background_and_orientation_and_grid_decay():
    alpha = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    assert float(L.background_loss(alpha, torch.tensor([0.0, 1.0]))) == pytest.approx(0.3 / 2)
    w = torch.tensor([[0.5, 0.5]])
    n = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]])
    d = torch.tensor([[0.0, 0.0, 1.0]])  # the first normal faces away from the camera, the second towards it
    assert float(L.orientation_loss(w, n, d)) == pytest.approx(0.5)
    tables = [torch.ones(4, 2), torch.full((8, 2), 2.0)]
    assert float(L.grid_decay(tables)) == pytest.approx(1 + 4)


def test_hann_window():
    w = hann_window(0.0, 4)
    assert w.tolist() == [1.0, 0.0, 0.0, 0.0]  # the coarsest level is on from the start
    assert hann_window(4.0, 4).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert hann_window(1.5, 4, keep_coarsest=False)[1] == pytest.approx(0.5)  # Eq. 6 at alpha - k = 0.5
    assert hann_window(1.5, 4, keep_coarsest=False)[0] == 1.0


def test_view_importance_reads_eqs_3_and_4():
    vi = ViewImportance(views=2, buffer=4)
    assert vi.network_weight(0.3) == 1.0  # no spread yet
    for x in (1.0, 2.0, 3.0, 4.0, 5.0):  # a circular buffer of 4: (5, 2, 3, 4)
        vi.record(x)
    assert sorted(vi.buffer) == [2.0, 3.0, 4.0, 5.0]
    mu, sd = 3.5, math.sqrt(5 / 3)
    assert vi.network_weight(2.0) == pytest.approx(math.tanh((mu - 2.0) / sd) + 1)  # a good view counts more
    assert vi.network_weight(5.0) == 1.0  # a bad one: the printed max(., 1)
    samurai = ViewImportance(views=2, buffer=4, network="samurai")
    for x in (2.0, 3.0, 4.0, 5.0):
        samurai.record(x)
    assert samurai.network_weight(2.0) == 1.0 and samurai.network_weight(5.0) < 1.0
    # cameras: a well-fitting view's weight decays, a badly fitting one keeps 1
    for _ in range(10):
        vi.camera_weight(0, 2.0)
        vi.camera_weight(1, 5.0)
    assert vi.camera[0] < 0.9 and vi.camera[1] == 1.0
    with pytest.raises(ConfigError, match="view importance"):
        ViewImportance(2, network="nope")
