"""SHINOBI's losses (§3.1, §3.2, App. A.4), each as the paper (or, where it defers, SAMURAI's code) writes it.

    L_Network = lambda_b L_Image(C, c~) + (1 - lambda_b) L_Image(C, c^) + L_Mask + lambda_a L_Init
              + lambda_ndir L_ndir + lambda_DecSmooth L_DecSmooth + lambda_DecSparsity L_DecSparsity
              (+ 0.1 L_multiplex while the multiplex has more than one camera)
    L_Mask = 50 L_silhouette + L_BCE + L_Background
    L_Grid = 0.02 sum_l mean(V_l^2)            (the hash-grid optimiser's extra term)

- L_Image is the Charbonnier loss sqrt((g - p)^2 + 0.001^2), averaged;
- on patches it is computed at four scales (bilinear resampling), each level weighed so that levels count
  equally whatever their pixel count (a mean per level), and the coarse levels first: level l (l = 0 the
  full patch) gets weight (1 + l * (1 - progress)) before normalising, so early on the low-resolution
  versions "align first" (§3.2; the paper gives the rule, not the numbers);
- L_silhouette: the soft XOR area of the Gaussian-blurred rendered and reference masks, divided by the
  reference mask's number of elements (App. A.4), on patches only;
- L_BCE: rendered opacity against the mask; L_Background: the sum of the alphas along rays whose mask is 0
  (NeRD; SAMURAI's batch_cam_mask_loss);
- L_Init: MSE between the rendered basecolour (over white) and the image, early in training;
- L_ndir (Ref-NeRF's orientation loss, as SAMURAI sums it): sum_k w_k max(n_k . d, 0) per ray;
- L_DecSmooth: |dec(e) - dec(e + N(0, 0.01^2))| of the rendered BRDF embedding; L_DecSparsity: |mean_rays(e)|
  per channel (SAMURAI's BRDF decoder regularisers; weights 0.1 and 0.01).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

CHARBONNIER_EPS = 1e-3


def charbonnier(prediction: Tensor, target: Tensor) -> Tensor:
    return torch.sqrt((prediction - target) ** 2 + CHARBONNIER_EPS**2).mean()


def patch_pyramid(patch: Tensor, levels: int) -> list[Tensor]:
    """(B, 3, P, P) -> [full, 1/2, 1/4, ...] by bilinear resampling (antialiased)."""
    out = [patch]
    for level in range(1, levels):
        size = max(patch.shape[-1] // 2**level, 1)
        out.append(F.interpolate(patch, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return out


def multiscale_charbonnier(prediction: Tensor, target: Tensor, levels: int = 4, progress: float = 1.0) -> Tensor:
    """The multiscale patch loss: prediction, target (B, 3, P, P); progress in [0, 1] (0: coarse first)."""
    weights = torch.tensor([1 + level * (1 - progress) for level in range(levels)])
    weights = weights / weights.sum()
    pairs = zip(patch_pyramid(prediction, levels), patch_pyramid(target, levels))
    return sum(w * charbonnier(p, t) for w, (p, t) in zip(weights, pairs))


def gaussian_blur(mask: Tensor, sigma: float) -> Tensor:
    """(B, 1, P, P) blurred with a separable Gaussian of std `sigma` pixels (radius 2 sigma), zero padded."""
    radius = max(int(math.ceil(2 * sigma)), 1)
    x = torch.arange(-radius, radius + 1, dtype=mask.dtype)
    k = torch.exp(-x**2 / (2 * sigma**2))
    k = k / k.sum()
    mask = F.conv2d(mask, k.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(mask, k.view(1, 1, -1, 1), padding=(radius, 0))


def silhouette_loss(rendered: Tensor, reference: Tensor, sigma: float) -> Tensor:
    """Soft XOR area of the blurred masks (B, 1, P, P): sum(a (1 - b) + b (1 - a)) / numel(reference), "normalized
    by the number of elements in the reference mask" (App. A.4) read literally: its pixel count (dividing by
    its foreground area instead blows up on patches that barely touch the object)."""
    a, b = gaussian_blur(rendered, sigma), gaussian_blur(reference, sigma)
    xor = a * (1 - b) + b * (1 - a)
    return xor.sum() / reference.numel()


def mask_bce(acc: Tensor, mask: Tensor) -> Tensor:
    return F.binary_cross_entropy(acc.clamp(1e-5, 1 - 1e-5), mask.clamp(0, 1))


def background_loss(alpha: Tensor, mask: Tensor) -> Tensor:
    """Rays on the background (mask < 0.1) must stay empty: the sum of their samples' alphas, per ray."""
    off = (mask < 0.1).float()
    return (alpha.sum(-1) * off).sum() / max(len(mask), 1)


def init_loss(basecolour: Tensor, acc: Tensor, target: Tensor) -> Tensor:
    """MSE between the rendered basecolour composited on white and the image (composited on white)."""
    over_white = acc[:, None] * basecolour + (1 - acc[:, None])
    return ((over_white - target) ** 2).mean()


def orientation_loss(weights: Tensor, sample_normals: Tensor, dirs: Tensor) -> Tensor:
    """Normals seen from the camera must face it: sum_k w_k max(n_k . d, 0), averaged over rays."""
    return (weights * (sample_normals * dirs[:, None]).sum(-1).clamp_min(0)).sum(-1).mean()


def decoder_smoothness(decode, embedding: Tensor, image: Tensor, std: float = 0.01) -> Tensor:
    """|dec(e) - dec(e + noise)|, summed over BRDF channels, averaged over rays; decode(e, image) -> tuple."""
    a = torch.cat([v.reshape(len(embedding), -1) for v in decode(embedding, image)], -1)
    b = torch.cat([v.reshape(len(embedding), -1) for v in decode(embedding + std * torch.randn_like(embedding),
                                                                   image)], -1)
    return (a - b).abs().sum(-1).mean()


def decoder_sparsity(embedding: Tensor) -> Tensor:
    return embedding.mean(0).abs().mean()


def grid_decay(level_tables: list[Tensor]) -> Tensor:
    """sum_l mean(V_l^2) (Zip-NeRF's normalised weight decay; App. A.4, the square restored)."""
    return sum((t**2).mean() for t in level_tables)
