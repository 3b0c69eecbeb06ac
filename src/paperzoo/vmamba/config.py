"""Named VMamba configs (card §2 table; paper Tables 1, 3 and App. E) and the world-scale nano.

A config is a dataclass value; `registry.get(name)` returns one, and
`dataclasses.replace(config, ...)` makes variants (e.g. `scan="unidi"` for App. H.1).

    variant      "v0": the vanilla VMamba (in_proj to 2 D_i, SiLU z-gate, no MLP)
                 "v2": the released VMamba (no z-gate, d_state 1, DWConv without bias, MLP 4)
    patch_embed  "v1": conv 4x4 stride 4 + LN;  "v2": two conv 3x3 stride 2 with LN, GELU
    downsample   "v1": PatchMerging (LN 4C, Linear 4C -> 2C);  "v3": conv 3x3 stride 2 + LN
                 (names as in the official code, whose v3 downsampler goes with v2 blocks)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from paperzoo.core.errors import ConfigError
from paperzoo.core.registry import ConfigRegistry
from paperzoo.vmamba.scan import BACKENDS


@dataclass(frozen=True)
class VMambaConfig:
    dims: int = 96  # C of stage 1; stages have C, 2C, 4C, 8C
    depths: tuple[int, ...] = (2, 2, 9, 2)
    variant: str = "v2"
    d_state: int = 1  # N
    ssm_ratio: float = 1.0  # D_i = ssm_ratio * C
    dt_rank: int | None = None  # R; None: ceil(C / 16) of the block width
    mlp_ratio: float = 4.0  # 0: no MLP
    conv_bias: bool = False  # the 3x3 depthwise conv of SS2D
    patch_embed: str = "v2"
    downsample: str = "v3"
    num_classes: int = 1000
    in_chans: int = 3
    drop_path_rate: float = 0.2
    scan: str = "cross"  # "cross" (K = 4), "bidi" (K = 2), "unidi" (K = 1): App. H.1
    mixer: str = "ss2d"  # "dwconv": the Conv baseline of card §5 (SS2D's scan replaced by a 7x7 depthwise conv)
    scan_backend: str = "auto"  # "auto" (fused C++ kernel on CPU where it builds, else chunked), "fused",
    # "chunked" (recurrent within chunks), "kernel" (Eq. 5 within chunks), "ref" (scan.py)
    chunk: int | None = None  # scan chunk length; None: sqrt(L) for "chunked", 64 for "kernel"
    dt_range: tuple[float, float] = (1e-3, 0.1)  # SS2D's dt at initialisation, log-uniform (Mamba's dt_min, dt_max)
    norm: str = "ln"  # the stem's, downsamplers', blocks' and head's norm: "ln" (the paper's LayerNorm) or "bn"
    # (BatchNorm2d, the official code's norm_layer="bn"); SS2D's out_norm stays a LayerNorm, as there
    head_hidden: int = 0  # 0: the paper's head (LN, pool, linear); > 0: a GELU hidden layer after pooling (a
    # diagnostic of the plateau study, plateau.py; not the paper's)

    def __post_init__(self):
        object.__setattr__(self, "depths", tuple(self.depths))
        object.__setattr__(self, "dt_range", tuple(self.dt_range))
        choices = {"variant": ("v0", "v2"), "patch_embed": ("v1", "v2"), "downsample": ("v1", "v3"),
                   "scan": ("cross", "bidi", "unidi"), "scan_backend": BACKENDS,
                   "mixer": ("ss2d", "dwconv"), "norm": ("ln", "bn")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"VMambaConfig.{name}: {getattr(self, name)!r}; allowed: {', '.join(allowed)}")
        if self.dims < 2 or self.dims % 2 or not self.depths or min(self.depths) < 1:
            raise ConfigError(f"VMambaConfig: need an even dims >= 2 and depths >= 1, got {self.dims} and {self.depths}")
        if self.d_state < 1 or self.ssm_ratio <= 0 or (self.chunk is not None and self.chunk < 1):
            raise ConfigError("VMambaConfig: d_state, ssm_ratio and chunk must be positive")
        if len(self.dt_range) != 2 or not 0 < self.dt_range[0] <= self.dt_range[1] or self.head_hidden < 0:
            raise ConfigError(f"VMambaConfig: need 0 < dt_range[0] <= dt_range[1] and head_hidden >= 0, got "
                              f"{self.dt_range} and {self.head_hidden}")

    @property
    def stage_dims(self) -> list[int]:
        return [self.dims * 2**i for i in range(len(self.depths))]

    def rank(self, width: int) -> int:
        return self.dt_rank or math.ceil(width / 16)

    @property
    def routes(self) -> int:
        return {"cross": 4, "bidi": 2, "unidi": 1}[self.scan]

    @property
    def min_image_size(self) -> int:
        """Total stride: 4 from the stem, then 2 per downsampling."""
        return 4 * 2 ** (len(self.depths) - 1)


registry = ConfigRegistry("VMamba config")
VANILLA = dict(variant="v0", d_state=16, ssm_ratio=2.0, mlp_ratio=0.0, conv_bias=True, patch_embed="v1", downsample="v1")
# (name, kwargs, exact parameter count with the 1000-class head of the official code's named constructor (card §2;
# recorded from the official classes in tests/fixtures/vmamba/official.json), FLOPs at 224 (fvcore convention), and the
# paper's rounded count in millions (card §2's "paper" column))
NAMED = {
    "vanilla-t": (dict(dims=96, depths=(2, 2, 9, 2), drop_path_rate=0.2, **VANILLA), 22_893_448, 5.63, 22.9),
    "vanilla-s": (dict(dims=96, depths=(2, 2, 27, 2), drop_path_rate=0.3, **VANILLA), 44_417_416, 11.23, 44.4),
    "vanilla-b": (dict(dims=128, depths=(2, 2, 27, 2), drop_path_rate=0.6, **VANILLA), 76_254_056, 18.02, 76.3),
    "vmamba-t": (dict(dims=96, depths=(2, 2, 8, 2), ssm_ratio=1.0, drop_path_rate=0.2), 30_249_064, 4.91, 30.2),
    "vmamba-t-s2l5": (dict(dims=96, depths=(2, 2, 5, 2), ssm_ratio=2.0, drop_path_rate=0.2), 30_705_832, 4.86, 30.7),
    "vmamba-s": (dict(dims=96, depths=(2, 2, 15, 2), ssm_ratio=2.0, drop_path_rate=0.3), 50_147_752, 8.72, 50.1),
    "vmamba-b": (dict(dims=128, depths=(2, 2, 15, 2), ssm_ratio=2.0, drop_path_rate=0.6), 88_557_800, 15.36, 88.6),
    "vmamba-s-s1l20": (dict(dims=96, depths=(2, 2, 20, 2), ssm_ratio=1.0, drop_path_rate=0.3), 49_012_840, 8.6, 49),
    "vmamba-b-s1l20": (dict(dims=128, depths=(2, 2, 20, 2), ssm_ratio=1.0, drop_path_rate=0.5), 86_614_504, 15.2, 87),
}
OFFICIAL_PARAMS = {name: count for name, (_, count, _, _) in NAMED.items()}  # exact, official modules
PAPER_GFLOPS = {name: gflops for name, (_, _, gflops, _) in NAMED.items()}
PAPER_PARAMS_M = {name: millions for name, (_, _, _, millions) in NAMED.items()}  # the paper's, rounded
for _name, (_kwargs, _, _, _) in NAMED.items():
    registry.register(_name, VMambaConfig(**_kwargs))
# The world-scale model of card §5: C 24, depths 1,1,3,1, N 1, ratio 1, MLP 4, v2 stem (~0.95M with 10 classes).
registry.register("vmamba-nano", VMambaConfig(dims=24, depths=(1, 1, 3, 1), ssm_ratio=1.0, num_classes=10, drop_path_rate=0.0))
# Its Conv baseline: the same macro design with SS2D's scan replaced by a 7x7 depthwise conv.
registry.register("conv-nano", VMambaConfig(dims=24, depths=(1, 1, 3, 1), ssm_ratio=1.0, num_classes=10, drop_path_rate=0.0,
                                            mixer="dwconv"))
# The scan ablation of App. H.1 at nano scale: two routes (row-major, both ways) and one.
for _scan in ("bidi", "unidi"):
    registry.register(f"vmamba-nano-{_scan}", replace(registry.get("vmamba-nano"), scan=_scan))


def config(name: str) -> VMambaConfig:
    return registry.get(name)
