"""Volume rendering with deferred BRDF shading (App. A.1, §3).

One sampling stage, uniform along each ray inside the bounding sphere (App. A.1: "we only use one sampling
stage with uniform samples"), stratified while training. Weights are the usual quadrature of
c = int T(t) sigma(t) c(t) dt:

    alpha_k = 1 - exp(-sigma_k delta_k),   w_k = alpha_k prod_{j<k} (1 - alpha_j),   acc = sum_k w_k

and every per-sample quantity (c~, normal, BRDF, the 16-d BRDF embedding) is accumulated with w. The
normal at a sample is n = -grad sigma / |grad sigma| (autograd; kept in the graph while training so the
losses on normals and the shading train the density through its second derivative). The accumulated
normal and BRDF (divided by acc) are shaded once per ray with the image's SG illumination
(`illumination.shade`): c^. Both c~ and c^ are composited over the background with acc.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from paperzoo.shinobi.field import Field
from paperzoo.shinobi.illumination import SGIllumination, shade


@dataclass
class Rendered:
    rgb: Tensor  # (R, 3) c^, the BRDF under the image's light, over the background
    radiance: Tensor  # (R, 3) c~ over the background
    acc: Tensor  # (R,) opacity
    depth: Tensor  # (R,) expected distance along the (unit) ray
    normal: Tensor  # (R, 3) accumulated, unit
    basecolour: Tensor  # (R, 3) accumulated / acc
    metallic: Tensor
    roughness: Tensor
    embedding: Tensor  # (R, 16) accumulated BRDF embedding
    weights: Tensor  # (R, S)
    alpha: Tensor  # (R, S)
    sample_normals: Tensor  # (R, S, 3)


def sphere_interval(origins: Tensor, dirs: Tensor, bound: float) -> tuple[Tensor, Tensor]:
    """Near and far distances of unit rays through the sphere of radius `bound` (near = far where they miss)."""
    b = (origins * dirs).sum(-1)
    c = (origins * origins).sum(-1) - bound**2
    root = (b * b - c).clamp_min(0).sqrt()
    return (-b - root).clamp_min(1e-4), (-b + root).clamp_min(1e-4)


def sample_distances(near: Tensor, far: Tensor, samples: int, perturb: bool, generator=None) -> Tensor:
    """(R, S) distances: bin centres, or one uniform draw per bin when `perturb`."""
    u = torch.arange(samples, dtype=near.dtype, device=near.device)
    if perturb:
        u = u + torch.rand(near.shape[0], samples, generator=generator, dtype=near.dtype)
    else:
        u = (u + 0.5).expand(near.shape[0], samples)
    return near[:, None] + (far - near)[:, None] * u / samples


def composite_weights(sigma: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """w_k and alpha_k from densities (R, S) at distances (R, S); the last interval is as long as the one before."""
    delta = t[:, 1:] - t[:, :-1]
    delta = torch.cat([delta, delta[:, -1:]], -1)
    alpha = 1 - torch.exp(-sigma * delta)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha + 1e-10], -1), -1)[:, :-1]
    return alpha * trans, alpha


def render_rays(field: Field, illumination: SGIllumination, origins: Tensor, dirs: Tensor, image: Tensor,
                samples: int, bound: float, background: Tensor | None = None, perturb: bool = False,
                train: bool = True, generator=None) -> Rendered:
    """Render unit rays (R, 3) of images `image` (R,); background (R, 3) (white when None)."""
    # the sampling interval is a constant of each ray (no gradient: sqrt at a grazing ray's zero discriminant
    # gave NaN camera gradients); the samples x = o + t d still carry the cameras' gradients
    near, far = sphere_interval(origins.detach(), dirs.detach(), bound)
    t = sample_distances(near, far, samples, perturb, generator)
    with torch.enable_grad():
        x = origins[:, None] + t[..., None] * dirs[:, None]
        if not x.requires_grad:
            x.requires_grad_(True)
        out = field(x, dirs, image)
        grad = torch.autograd.grad(out.raw.sum(), x, create_graph=train)[0]
    if not train:
        out = type(out)(*(v.detach() for v in vars(out).values()))
        grad = grad.detach()
    sample_normals = -F.normalize(grad, dim=-1, eps=1e-9)
    weights, alpha = composite_weights(out.sigma, t)
    acc = weights.sum(-1)
    accumulate = lambda v: (weights[..., None] * v).sum(1)  # noqa: E731
    safe = acc.clamp_min(1e-6)[:, None]
    normal = F.normalize(accumulate(sample_normals), dim=-1, eps=1e-9)
    base = accumulate(out.basecolour) / safe
    metal = accumulate(out.metallic[..., None]).squeeze(-1) / safe[:, 0]
    rough = accumulate(out.roughness[..., None]).squeeze(-1) / safe[:, 0]
    view = -dirs
    # a normal facing away from the camera (empty rays, fog) is shaded as if it faced it
    facing = (normal * view).sum(-1, keepdim=True) > 0
    normal_s = torch.where(facing, normal, view)
    axis, sharp, amp = illumination.lobes(image)
    shaded = shade(normal_s, view, base.clamp(0, 1), metal.clamp(0, 1), rough.clamp(0, 1), axis, sharp, amp)
    bg = torch.ones_like(origins) if background is None else background
    rgb = acc[:, None] * shaded + (1 - acc[:, None]) * bg
    radiance = accumulate(out.radiance) + (1 - acc[:, None]) * bg
    return Rendered(rgb, radiance, acc, (weights * t).sum(-1), normal, base, metal, rough, accumulate(out.embedding),
                    weights, alpha, sample_normals)
