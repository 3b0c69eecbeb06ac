"""The neural volume (§3.1, App. A.2): density, the early radiance c~ and the BRDF at a point.

    e = HybridEncoding(x)                          35 = 16 * 2 + 3 channels at the paper's size
    h = trunk(e)                                   3 ReLU layers of 64
    sigma = softplus(Linear(h))                    the density
    c~ = MLP_32([h, appearance_j, gamma_4(d)])     view- and appearance-conditioned radiance, sigmoid
    b = Linear_16(h) -> 2 x 64 ReLU -> sigmoid heads: basecolour (with the per-image diffuse embedding
        concatenated), metallic, roughness

gamma_4 is a plain (not annealed) 4-band Fourier encoding of the viewing direction with the direction
itself; the per-image appearance (32) and diffuse (24, zero at the start) embeddings are SAMURAI's sizes
(the paper gives none). Normals are n = -grad sigma / |grad sigma|, taken with autograd in `render`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo.shinobi.encoding import HybridEncoding
from paperzoo.shinobi.hashgrid import HashGridConfig


@dataclass(frozen=True)
class FieldConfig:
    grid: HashGridConfig = HashGridConfig()
    bands: int = 10  # Fourier bands of the position branch
    fourier_hidden: int = 64
    width: int = 64
    depth: int = 3
    radiance_hidden: int = 32
    direction_bands: int = 4
    brdf_embedding: int = 16
    brdf_width: int = 64
    appearance_dim: int = 32
    diffuse_dim: int = 24
    encoding: str = "hybrid"  # "hybrid" (SHINOBI) | "hash" | "fourier" (SAMURAI); see encoding.py
    anneal: bool = True
    bound: float = 1.0  # the object lies in [-bound, bound]^3


def direction_encoding(d: Tensor, bands: int) -> Tensor:
    """[d, sin(2^k d), cos(2^k d)] for k < bands: (..., 3 + 6 bands)."""
    scales = 2.0 ** torch.arange(bands, dtype=d.dtype, device=d.device)
    xb = d[..., None, :] * scales[:, None]
    return torch.cat([d, torch.sin(xb).flatten(-2), torch.cos(xb).flatten(-2)], -1)


@dataclass
class FieldOutput:
    sigma: Tensor  # (..., ) density after softplus
    raw: Tensor  # (..., ) density before it (its gradient gives the normal)
    radiance: Tensor  # (..., 3) c~
    embedding: Tensor  # (..., 16) BRDF embedding
    basecolour: Tensor  # (..., 3)
    metallic: Tensor  # (..., )
    roughness: Tensor  # (..., )


class Field(nn.Module):
    def __init__(self, config: FieldConfig, images: int):
        super().__init__()
        c = self.config = config
        self.encoding = HybridEncoding(c.grid, c.bands, c.fourier_hidden, c.bound, c.encoding, c.anneal)
        layers, width = [], self.encoding.output_dim
        for _ in range(c.depth):
            layers += [nn.Linear(width, c.width), nn.ReLU()]
            width = c.width
        self.trunk = nn.Sequential(*layers)
        self.density = nn.Linear(c.width, 1)
        direction_dim = 3 + 6 * c.direction_bands
        self.radiance = nn.Sequential(nn.Linear(c.width + c.appearance_dim + direction_dim, c.radiance_hidden),
                                      nn.ReLU(), nn.Linear(c.radiance_hidden, 3))
        self.brdf_embed = nn.Linear(c.width, c.brdf_embedding)
        self.decoder = nn.Sequential(nn.Linear(c.brdf_embedding, c.brdf_width), nn.ReLU(),
                                     nn.Linear(c.brdf_width, c.brdf_width), nn.ReLU())
        self.basecolour = nn.Linear(c.brdf_width + c.diffuse_dim, 3)
        self.metallic = nn.Linear(c.brdf_width, 1)
        self.roughness = nn.Linear(c.brdf_width, 1)
        self.appearance = nn.Embedding(images, c.appearance_dim)
        self.diffuse = nn.Embedding(images, c.diffuse_dim)
        nn.init.normal_(self.appearance.weight, std=0.1)
        nn.init.zeros_(self.diffuse.weight)

    def geometry(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(trunk features, raw density) at points x (..., 3)."""
        h = self.trunk(self.encoding(x))
        return h, self.density(h).squeeze(-1)

    def decode(self, embedding: Tensor, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """BRDF embedding (..., 16) -> basecolour (..., 3), metallic, roughness; image ids broadcast to (...)."""
        h = self.decoder(embedding)
        diffuse = self.diffuse(image).expand(*h.shape[:-1], -1)
        base = torch.sigmoid(self.basecolour(torch.cat([h, diffuse], -1)))
        return base, torch.sigmoid(self.metallic(h)).squeeze(-1), torch.sigmoid(self.roughness(h)).squeeze(-1)

    def forward(self, x: Tensor, dirs: Tensor, image: Tensor) -> FieldOutput:
        """x (R, S, 3) sample points, dirs (R, 3) ray directions, image (R,) image ids."""
        h, raw = self.geometry(x)
        s = x.shape[1]
        app = self.appearance(image)[:, None].expand(-1, s, -1)
        d = direction_encoding(dirs, self.config.direction_bands)[:, None].expand(-1, s, -1)
        radiance = torch.sigmoid(self.radiance(torch.cat([h, app, d], -1)))
        embedding = self.brdf_embed(h)
        base, metal, rough = self.decode(embedding, image[:, None])
        return FieldOutput(F.softplus(raw), raw, radiance, embedding, base, metal, rough)
