"""Effective receptive fields (§5.3, Fig. 1 / App. F; after Luo et al. 2016).

For a batch of images, take the feature map before pooling, sum the positive part of the
channels at its central position, and back-propagate to the input: the positive part of
d centre / d input, summed over the colour channels and averaged over the images, is the ERF
map (as the official `analyze/utils.py` computes it: relu(outputs[:, :, h // 2, w // 2]).sum(),
then relu(grad)). The relu on the centre matters where the features end in a LayerNorm (the
ViT): the plain channel sum of a LayerNorm output with unit weight is zero for every input. Its size is reported two ways:
- `erf_area`, the card's measure: the share of input pixels above 1% of the map's maximum.
  At 64 px every model's map clears 1% almost everywhere, so it separates little.
- `erf_radius`, a sharper one: the radius (as a share of the image side) of the disc around
  the centre that holds half of the map's mass (the map summed). A local mixer keeps its
  mass near the centre; a global one spreads it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from paperzoo.core.report import save_figure  # noqa: E402


def erf_map(net: nn.Module, images: torch.Tensor) -> np.ndarray:
    """(H, W) map: relu(d sum relu(centre features) / d input), summed over colours, averaged over images."""
    net.eval()
    images = images.clone().requires_grad_(True)
    feats = net.forward_features(images)  # (B, h, w, C), channels-last
    h, w = feats.shape[1:3]
    centre = torch.relu(feats[:, h // 2, w // 2, :]).sum()
    (grad,) = torch.autograd.grad(centre, images)
    return torch.relu(grad).sum(1).mean(0).cpu().numpy()


def erf_area(erf: np.ndarray, threshold: float = 0.01) -> float:
    """Share of pixels above `threshold` of the maximum."""
    return float((erf > threshold * erf.max()).mean())


def erf_radius(erf: np.ndarray, mass: float = 0.5) -> float:
    """Radius of the smallest centred disc holding `mass` of the map's total, over the image side."""
    h, w = erf.shape
    yy, xx = np.mgrid[:h, :w]
    dist = np.hypot(yy - h // 2, xx - w // 2).ravel()
    order = np.argsort(dist, kind="stable")
    held = np.cumsum(erf.ravel()[order])
    return float(dist[order][np.searchsorted(held, mass * held[-1])] / max(h, w))


def erf_figure(maps: dict[str, np.ndarray], path, title: str = "Effective receptive fields") -> object:
    """One panel per model: log-scaled ERF maps (brighter = more influence on the centre)."""
    fig, axes = plt.subplots(1, len(maps), figsize=(3 * len(maps), 3.3), squeeze=False)
    for ax, (name, erf) in zip(axes[0], maps.items()):
        ax.imshow(np.log10(erf / erf.max() + 1e-4), cmap="viridis", vmin=-4, vmax=0)
        ax.set_title(f"{name}\narea > 1% of max: {erf_area(erf):.2f}, half-mass radius: {erf_radius(erf):.3f}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title + " (log10 of relu(d centre / d input), normalised)")
    return save_figure(fig, path)
