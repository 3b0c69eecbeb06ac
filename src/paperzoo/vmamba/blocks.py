"""The VSS block, the stems and the downsampling layers (§4.1, Fig. 3 and App. E),
channels-last (B, H, W, C) throughout; module names follow the official code so that
released checkpoints load unchanged.

    VSS block (v2):  x = x + DropPath(SS2D(LN(x)));  x = x + DropPath(MLP(LN(x)))
    VSS block (v0):  x = x + DropPath(SS2D(LN(x)))                     (no MLP)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from paperzoo.vmamba.config import VMambaConfig
from paperzoo.vmamba.ss2d import SS2D


class Permute(nn.Module):
    def __init__(self, *dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(*self.dims)


TO_LAST, TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)


class BatchNormLast(nn.BatchNorm2d):
    """BatchNorm2d on a channels-last map (B, H, W, C): the official code's norm_layer="bn"."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(*TO_FIRST)).permute(*TO_LAST)


def norm(width: int, config: VMambaConfig) -> nn.Module:
    """The macro design's norm layer (config.norm): LayerNorm over C, or BatchNorm."""
    return nn.LayerNorm(width) if config.norm == "ln" else BatchNormLast(width)


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch per sample with probability p (training only)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ConvMixer(nn.Module):
    """The Conv baseline's token mixer: SS2D with its scan replaced by a 7x7 depthwise conv
    (in_proj, DWConv 7x7, SiLU, LN, out_proj): the same macro design with a local mixer."""

    def __init__(self, width: int, config: VMambaConfig):
        super().__init__()
        inner = int(config.ssm_ratio * width)
        self.in_proj = nn.Linear(width, inner, bias=False)
        self.conv2d = nn.Conv2d(inner, inner, 7, padding=3, groups=inner)
        self.out_norm = nn.LayerNorm(inner)
        self.out_proj = nn.Linear(inner, width, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv2d(self.in_proj(x).permute(*TO_FIRST))
        return self.out_proj(self.out_norm(nn.functional.silu(x).permute(*TO_LAST)))


class VSSBlock(nn.Module):
    def __init__(self, width: int, config: VMambaConfig, drop_path: float = 0.0):
        super().__init__()
        self.norm = norm(width, config)
        self.op = SS2D(width, config) if config.mixer == "ss2d" else ConvMixer(width, config)
        self.drop_path = DropPath(drop_path)
        self.mlp = None
        if config.mlp_ratio > 0:
            self.norm2 = norm(width, config)
            self.mlp = Mlp(width, int(width * config.mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.op(self.norm(x)))
        if self.mlp is not None:
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


def patch_embed(config: VMambaConfig) -> nn.Sequential:
    """(B, 3, H, W) -> (B, H/4, W/4, C). Indices match the official Sequential's."""
    c, cin = config.dims, config.in_chans
    if config.patch_embed == "v1":
        return nn.Sequential(nn.Conv2d(cin, c, 4, stride=4), Permute(*TO_LAST), norm(c, config))
    return nn.Sequential(
        nn.Conv2d(cin, c // 2, 3, stride=2, padding=1), Permute(*TO_LAST), norm(c // 2, config), Permute(*TO_FIRST),
        nn.GELU(), nn.Conv2d(c // 2, c, 3, stride=2, padding=1), Permute(*TO_LAST), norm(c, config),
    )


class PatchMerging2D(nn.Module):
    """The v1 downsampler: 2x2 neighbours concatenated (4C), LN, Linear 4C -> 2C (no bias)."""

    def __init__(self, width: int, config: VMambaConfig):
        super().__init__()
        self.norm = norm(4 * width, config)
        self.reduction = nn.Linear(4 * width, 2 * width, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[1:3]
        if h % 2 or w % 2:
            x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


def downsample(width: int, config: VMambaConfig) -> nn.Module:
    if config.downsample == "v1":
        return PatchMerging2D(width, config)
    return nn.Sequential(Permute(*TO_FIRST), nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), Permute(*TO_LAST),
                         norm(2 * width, config))
