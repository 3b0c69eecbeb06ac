"""SS2D, the 2D selective-scan token mixer (§4.1, Fig. 2), on channels-last maps (B, H, W, C).

    v2 (released VMamba):  in_proj C -> D_i, DWConv 3x3, SiLU, cross-scan, S6 per route,
                           cross-merge, LN(D_i), out_proj D_i -> C
    v0 (vanilla):          in_proj C -> 2 D_i split into x and z; ... LN(D_i) * SiLU(z) ...

Per route k (K = 4 for "cross"), from the route's sequence x_k (D_i, L):
    [dt_k; B_k; C_k] = W_x,k x_k                 x_proj, D_i -> R + 2N (no bias)
    delta_k          = W_dt,k dt_k               dt_proj, R -> D_i (its bias b_dt is added
                                                  inside the scan, before the softplus)
and the S6 scan (scan.py) runs on all K D_i channels at once with A = -exp(A_log).

Parameter names and shapes are the official ones (`x_proj_weight` (K, R+2N, D_i),
`dt_projs_weight` (K, D_i, R), `dt_projs_bias` (K, D_i), `A_logs` (K D_i, N), `Ds` (K D_i)),
so released checkpoints load with a strict state-dict load (checkpoint.py).

Initialisation (Mamba's, as VMamba keeps it): A_log = log(1..N) (S4D-real), D = 1,
b_dt = softplus^{-1}(dt) with dt log-uniform in [1e-3, 0.1] (config.dt_range) floored at 1e-4,
W_dt ~ U(+-R^{-1/2}), W_x as a default nn.Linear.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo.vmamba.config import VMambaConfig
from paperzoo.vmamba.cross_scan import cross_merge, cross_scan
from paperzoo.vmamba.scan import selective_scan

DT_FLOOR = 1e-4  # dt's floor at initialisation (Mamba's dt_init_floor); its range is config.dt_range


def _full(t: Tensor) -> Tensor:
    """Half-precision tensors to float32; float32 and float64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class SS2D(nn.Module):
    def __init__(self, width: int, config: VMambaConfig):
        super().__init__()
        self.config = config
        self.inner = d_inner = int(config.ssm_ratio * width)
        self.rank = rank = config.rank(width)
        self.n = n = config.d_state
        k = config.routes
        gated = config.variant == "v0"
        self.in_proj = nn.Linear(width, 2 * d_inner if gated else d_inner, bias=False)
        self.conv2d = nn.Conv2d(d_inner, d_inner, 3, padding=1, groups=d_inner, bias=config.conv_bias)
        self.x_proj_weight = nn.Parameter(torch.stack([nn.Linear(d_inner, rank + 2 * n, bias=False).weight for _ in range(k)]))
        self.dt_projs_weight = nn.Parameter(torch.empty(k, d_inner, rank).uniform_(-rank**-0.5, rank**-0.5))
        lo, hi = config.dt_range
        dt = torch.exp(torch.rand(k, d_inner) * (math.log(hi) - math.log(lo)) + math.log(lo)).clamp(min=DT_FLOOR)
        self.dt_projs_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_logs = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(k * d_inner, 1))
        self.Ds = nn.Parameter(torch.ones(k * d_inner))
        self.out_norm = nn.LayerNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, width, bias=False)
        for p in (self.A_logs, self.Ds):
            p._no_weight_decay = True

    def core(self, x: Tensor) -> Tensor:
        """(B, D_i, H, W) after the conv -> (B, H, W, D_i): cross-scan, S6, cross-merge."""
        b, d, h, w = x.shape
        k, r, n = self.config.routes, self.rank, self.n
        xs = cross_scan(x, self.config.scan)  # (B, K, D_i, L)
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)  # (B, K, R+2N, L)
        dts, Bs, Cs = torch.split(x_dbl, [r, n, n], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)  # (B, K, D_i, L)
        # The scan runs in float32 even under autocast (card §2: fp16 AMP with the scan in fp32).
        with torch.autocast(device_type=x.device.type, enabled=False):
            ys = selective_scan(
                _full(xs.reshape(b, k * d, h * w)), _full(dts.reshape(b, k * d, h * w)), -torch.exp(_full(self.A_logs)),
                _full(Bs.contiguous()), _full(Cs.contiguous()), _full(self.Ds), _full(self.dt_projs_bias.reshape(-1)),
                delta_softplus=True, backend=self.config.scan_backend, chunk=self.config.chunk,
            )
        y = cross_merge(ys.view(b, k, d, h * w), h, w, self.config.scan)  # (B, D_i, L)
        return y.transpose(1, 2).reshape(b, h, w, d).to(x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        x = self.in_proj(x)
        z = None
        if self.config.variant == "v0":
            x, z = x.chunk(2, dim=-1)
        x = F.silu(self.conv2d(x.permute(0, 3, 1, 2).contiguous()))
        y = self.out_norm(self.core(x))
        if z is not None:
            y = y * F.silu(z)
        return self.out_proj(y)
