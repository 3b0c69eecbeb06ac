"""Token -> patch heatmaps: for every caption word, the sparse alignment weights a_lp
(Eqs. 2-4) over the image's patches, drawn over the image."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from paperzoo.core.errors import InputError  # noqa: E402
from paperzoo.core.report import save_figure  # noqa: E402
from paperzoo.sparc.evaluate import EVAL_SEED  # noqa: E402
from paperzoo.sparc.losses import alignment_weights  # noqa: E402
from paperzoo.sparc.model import SparcModel  # noqa: E402
from paperzoo.sparc.train import load_model, world_scene_config  # noqa: E402
from paperzoo.world.scenes import make_scenes  # noqa: E402


@torch.no_grad()
def heatmap_figure(model: SparcModel, image: np.ndarray, words: list[str], token_ids: np.ndarray, token_mask: np.ndarray,
                   positions: list[int] | None = None) -> plt.Figure:
    """image (H, W, 3) uint8; one panel per real token (or per token at `positions`) showing its a_lp over the patches."""
    c = model.config
    device = next(model.parameters()).device
    model.eval()
    images = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).to(device)
    ids = torch.from_numpy(token_ids[None, : c.text.context_length]).long().to(device)
    mask = torch.from_numpy(token_mask[None, : c.text.context_length]).to(device)
    out = model(images, ids, mask)
    sim = torch.einsum("bld,bpd->blp", out["t_tokens"], out["v_patches"])  # s_lp
    weights = alignment_weights(sim, mask, weighting=c.weighting, sigma=c.sigma)[0].cpu()  # a_lp (L, P)
    grid = c.vision.grid
    positions = list(range(len(words))) if positions is None else positions
    n = len(positions)
    fig, axes = plt.subplots(1, n + 1, figsize=(1.6 * (n + 1), 2.0))
    axes[0].imshow(image)
    axes[0].set_title("image", fontsize=8)
    for k, pos in enumerate(positions):
        ax = axes[k + 1]
        ax.imshow(image)
        heat = weights[pos].reshape(grid, grid).numpy()
        word = words[pos]
        ax.imshow(heat, cmap="inferno", alpha=0.65, extent=(0, image.shape[1], image.shape[0], 0), interpolation="nearest")
        ax.set_title(word, fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(" ".join(words), fontsize=9)
    return fig


def demo(model: str | Path = "tiny", index: int = 0, out: str | Path = "sparc_demo.png", device: str = "cpu", seed: int = 0) -> Path:
    """Draw token -> patch heatmaps for held-out scene `index` and write them to `out` (PNG).

    `model`: a checkpoint folder, or `tiny` for the cached tiny model of `seed` (trained once).
    """
    if index < 0:
        raise InputError(f"--index must be >= 0, got {index}")
    model = load_model(model, seed, device)
    scenes = make_scenes(world_scene_config(model.config), EVAL_SEED, 1, start=index, split="eval")
    words = scenes.captions[0].split()
    fig = heatmap_figure(model, scenes.images[0], words, scenes.token_ids[0], scenes.token_mask[0])
    return save_figure(fig, out)
