"""Named SHINOBI configs: the paper's (App. A.2-A.5) and the tiny CPU one (card §5).

One dataclass holds the field, the renderer, the schedule and every loss weight, so each ablation of
Table 3 is `dataclasses.replace(config, flag=...)`:

    field.encoding    "hybrid" | "hash" (w/o hybrid encoding) | "fourier" (SAMURAI's field)
    field.anneal      coarse-to-fine (w/o: every level and band on from the start)
    patches           multiscale patch and silhouette losses after the random-ray phase (w/o: rays only)
    view_importance   Eqs. 3-4 (w/o: weights 1)
    consistency       the multiplex projection-consistency loss, Eq. 2 (w/o: off)

The paper's schedule fractions (App. A.5): annealing and the c~ -> BRDF fade over the first third; image
resolution (100 -> 400 px) and the multiplex (m -> 1) over the first half; focal length from a quarter;
view importance from the half-way point of annealing (a sixth); random rays for the first 1000 steps, then
patches. Unreported values (T, samples per ray, m, most loss weights, the grid's learning rate) are
SAMURAI's code defaults or instant-NGP's, named where they are set.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from paperzoo.core.errors import ConfigError
from paperzoo.core.registry import ConfigRegistry
from paperzoo.shinobi.field import FieldConfig
from paperzoo.shinobi.hashgrid import HashGridConfig


@dataclass(frozen=True)
class ShinobiConfig:
    field: FieldConfig = field(default_factory=FieldConfig)
    lobes: int = 24  # SG lobes per image (NeRD's 24; the paper uses Neural-PIL's 128-d latent instead)
    samples: int = 128  # uniform samples per ray (SAMURAI's fine_samples; the paper does not say)
    rays: int = 1024  # rays per step, shared by the rendered proposals (SAMURAI)
    views_per_step: int = 1  # photographs per step, sharing the rays (SAMURAI: 1; see TINY)
    steps: int = 60_000  # Fig. 10's axis
    random_ray_steps: int = 1000
    patch_sizes: tuple[int, int] = (16, 32)
    patch_levels: int = 4
    resolution_factor: float = 4.0  # 100 -> 400 px over the first half
    proposals: int = 4  # m (SAMURAI's random_cameras_per_view)
    roll_jitter: float = 0.0  # std of the proposals' up-angle jitter (SAMURAI's code: effectively 0; see cameras.py)
    # learning rates: network 1e-3 (App. A.5); grid 1e-2 (instant-NGP; unreported); cameras 1e-3 .. 2e-3
    lr_network: float = 1e-3
    lr_grid: float = 1e-2
    lr_camera: float = 1e-3
    camera_beta1: float = 0.2
    camera_decay_steps: int = 40_000  # the camera lr falls 10x every this many steps
    clip_network: float = 0.1
    clip_camera: float = 2.5
    # loss weights (App. A.4; SAMURAI's where the paper gives none)
    silhouette: float = 50.0
    ndir: float = 5e-3
    dec_smooth: float = 0.1
    dec_sparsity: float = 0.01
    grid_decay: float = 0.02
    multiplex: float = 0.1
    lookat: float = 10.0
    bounds: float = 100.0
    offsets: float = 0.1
    init_decay_fraction: float = 80_000 / 300_000  # lambda_a = 0.1 ** (step / (fraction * steps)) (SAMURAI)
    softmax_scale: tuple[float, float] = (1.0, 10.0)  # s of the proposal weights, over the multiplex phase
    # schedule fractions of `steps`
    anneal_fraction: float = 1 / 3
    brdf_fraction: float = 1 / 3
    multiplex_fraction: float = 1 / 2
    focal_fraction: float = 1 / 4
    importance_fraction: float = 1 / 6
    # ablation flags
    patches: bool = True
    view_importance: bool = True
    importance_network: str = "printed"  # Eq. 3 as printed, or "samurai" (its code's clip)
    consistency: bool = True
    bound: float = 1.0  # objects are normalised to the unit sphere

    def __post_init__(self):
        if self.steps < 1 or self.rays < 1 or self.samples < 2:
            raise ConfigError(f"shinobi: steps {self.steps}, rays {self.rays}, samples {self.samples}; "
                              "need steps >= 1, rays >= 1, samples >= 2")
        lo, hi = self.patch_sizes
        if not 2 <= lo <= hi:
            raise ConfigError(f"shinobi: patch_sizes {self.patch_sizes}; need 2 <= min <= max")
        if self.resolution_factor < 1:
            raise ConfigError(f"shinobi: resolution_factor {self.resolution_factor}; at least 1")


registry: ConfigRegistry[ShinobiConfig] = ConfigRegistry("shinobi")

PAPER = registry.register("shinobi", ShinobiConfig())

# Card §5: 8 levels 4 -> 64, T = 2^12, 4 Fourier bands, MLPs 2 x 32, 6 lobes, 32 samples, 8^2-16^2 patches,
# m = 3, 2k steps (ours: 1500, measured per-step cost on 2 cores), 40 px images from 20 px.
TINY_FIELD = FieldConfig(grid=HashGridConfig(levels=8, features=2, log2_table=12, min_resolution=4, max_resolution=64),
                         bands=4, fourier_hidden=32, width=32, depth=2, radiance_hidden=32, brdf_width=32,
                         appearance_dim=16, diffuse_dim=8)
TINY = registry.register("tiny", ShinobiConfig(
    field=TINY_FIELD, lobes=6, samples=32, rays=512, steps=1500, random_ray_steps=150, patch_sizes=(8, 16),
    patch_levels=3, resolution_factor=2.0, proposals=3, lr_network=5e-3, lr_grid=1e-2, lr_camera=3e-3,
    camera_decay_steps=1000, views_per_step=4))

# The baselines and ablations, as differences from a config.
def samurai_like(config: ShinobiConfig) -> ShinobiConfig:
    """The card's baseline B: SAMURAI's Fourier field, its multiplex without the consistency loss, rays only,
    no view importance."""
    return replace(config, field=replace(config.field, encoding="fourier", bands=max(config.field.bands, 6)),
                   patches=False, view_importance=False, consistency=False)


def naive_hash(config: ShinobiConfig) -> ShinobiConfig:
    """The card's baseline N: the hash grid alone, no Fourier branch, no annealing."""
    return replace(config, field=replace(config.field, encoding="hash", anneal=False))


ABLATIONS = {
    "full": lambda c: c,
    "no-consistency": lambda c: replace(c, consistency=False),
    "no-view-importance": lambda c: replace(c, view_importance=False),
    "no-coarse-to-fine": lambda c: replace(c, field=replace(c.field, anneal=False)),
    "no-hybrid": lambda c: replace(c, field=replace(c.field, encoding="hash")),
    "no-patches": lambda c: replace(c, patches=False),
}


def config(name_or_config: "str | ShinobiConfig") -> ShinobiConfig:
    return registry.get(name_or_config)


def configs() -> list[str]:
    return registry.names()
