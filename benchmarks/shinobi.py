"""SHINOBI's speed claims, side by side in one run (issue 20).

1. The pure-torch hash grid against its point-by-point reference (`encode_reference`): forward + backward
   on the same points (target: >= 100x faster).
2. The hash grid against a dense grid of about as many parameters and against a Fourier-feature MLP
   (SAMURAI's encoding), each with the same small head, fitting the world object's colour field
   (basecolour inside the object, black outside) on random points: throughput (points per second,
   forward + backward) and the wall time each needs to reach the PSNR that all three reach
   (target: the MLP needs >= 2x the hash grid's time; the dense grid is printed).
3. The paper's convergence claim ("the average runtime is cut in half", §1; "3 times faster", §4): training
   steps of the full method and of the SAMURAI-like baseline (Fourier field, rays only, no view importance)
   to reach a training-view PSNR, both from the true cameras (Table 1's setting). Target: >= 2.

    python benchmarks/shinobi.py            # the tiny config, 1500 steps each for (3)
    python benchmarks/shinobi.py --quick    # smaller fits: 150-step field fits, 300 steps each for (3)

Ends with one line per ratio: `ratio <name> = <value> (target >= <x>)`.
"""

import argparse
import math
import time
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from paperzoo.core.measure import interleaved
from paperzoo.shinobi.config import TINY, samurai_like
from paperzoo.shinobi.data import from_world
from paperzoo.shinobi.encoding import FourierFeatures
from paperzoo.shinobi.evaluate import psnr
from paperzoo.shinobi.hashgrid import HashGrid, HashGridConfig, encode_reference
from paperzoo.shinobi.train import Fitter
from paperzoo.world.objects3d import ObjectConfig, collection, make_object


class DenseGrid(nn.Module):
    """A single dense R^3 x F grid, trilinearly interpolated (the same interpolation as one hash level)."""

    def __init__(self, resolution: int, features: int):
        super().__init__()
        self.grid = nn.Parameter(torch.empty(1, features, resolution, resolution, resolution).uniform_(-1e-4, 1e-4))
        self.output_dim = features

    def forward(self, x):  # x in [0, 1]^3
        g = (x * 2 - 1).view(1, -1, 1, 1, 3)
        return torch.nn.functional.grid_sample(self.grid, g, align_corners=True).view(self.output_dim, -1).T


def colour_field(n: int, generator: torch.Generator):
    obj = make_object(ObjectConfig(), np.random.default_rng(0))
    x = torch.rand(n, 3, generator=generator, dtype=torch.float64) * 2 - 1
    inside = (obj.sdf(x) < 0).double()[:, None]
    return ((x + 1) / 2).float(), (obj.basecolour(x) * inside).float()


def fit_field(name, encoder, steps, batch, lr, data, test):
    head = nn.Sequential(nn.Linear(encoder.output_dim, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=lr)
    x, y = data
    g = torch.Generator().manual_seed(0)
    curve, start = [], time.perf_counter()
    for step in range(steps):
        idx = torch.randint(len(x), (batch,), generator=g)
        loss = ((head(encoder(x[idx])) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            with torch.no_grad():
                p = psnr(head(encoder(test[0])).clamp(0, 1), test[1])
            curve.append((time.perf_counter() - start, p))
    print(f"  {name}: final PSNR {curve[-1][1]:.2f} dB after {curve[-1][0]:.1f} s "
          f"({sum(p.numel() for p in encoder.parameters()):,} encoder parameters)", flush=True)
    return curve


def time_to(curve, threshold):
    return next((t for t, p in curve if p >= threshold), math.inf)


def steps_to(config, photos, threshold, every):
    f = Fitter(config, photos, seed=0)
    views = list(range(min(4, photos.train)))
    while f.step_count < config.steps:
        f.fit(f.step_count + every, progress=False)
        p = float(np.mean([psnr(f.render_image(v)["rgb"].clamp(0, 1), f.target(v, photos.size[0])[0]) for v in views]))
        print(f"    step {f.step_count}: train PSNR {p:.2f}", flush=True)
        if p >= threshold:
            return f.step_count
    return math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    ratios = []

    print("1. hash grid vs its point-by-point reference (forward + backward, 64 points)")
    grid = HashGrid(TINY.field.grid)
    x = torch.rand(64, 3)
    probe = torch.randn(64, grid.config.output_dim)
    t = interleaved({"fast": lambda: (grid(x) * probe).sum().backward(),
                     "reference": lambda: (encode_reference(grid, x) * probe).sum().backward()}, repeats=3)
    ratios.append(("hashgrid_speedup_over_reference", min(t["reference"]) / min(t["fast"]), ">=", 100))

    print("2. hash grid vs dense grid vs Fourier MLP, fitting the object's colour field")
    g = torch.Generator().manual_seed(1)
    data, test = colour_field(200_000, g), colour_field(20_000, g)
    steps = 150 if args.quick else 600
    cfg = HashGridConfig(levels=8, features=2, log2_table=12, min_resolution=4, max_resolution=64)
    hash_enc = HashGrid(cfg)
    n_hash = sum(p.numel() for p in hash_enc.parameters())
    dense = DenseGrid(round((n_hash / 16) ** (1 / 3)), 16)

    class Fourier(nn.Module):
        def __init__(self):
            super().__init__()
            self.ff = FourierFeatures(6)
            self.mlp = nn.Sequential(nn.Linear(36, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
            self.output_dim = 64

        def forward(self, u):
            return self.mlp(self.ff(u * 2 - 1))

    curves = {"hash": fit_field("hash grid", hash_enc, steps, 4096, 1e-2, data, test),
              "dense": fit_field("dense grid", dense, steps, 4096, 1e-2, data, test),
              "mlp": fit_field("Fourier MLP", Fourier(), steps, 4096, 3e-3, data, test)}
    common = min(max(p for _, p in c) for c in curves.values())
    t_hash = time_to(curves["hash"], common)
    print(f"  the PSNR all three reach: {common:.2f} dB; seconds to it: "
          + ", ".join(f"{k} {time_to(c, common):.1f}" for k, c in curves.items()))
    ratios.append(("time_to_psnr_mlp_over_hash", time_to(curves["mlp"], common) / t_hash, ">=", 2))
    ratios.append(("time_to_psnr_dense_over_hash", time_to(curves["dense"], common) / t_hash, ">=", 1))

    print("3. steps to a training-view PSNR: full SHINOBI vs the SAMURAI-like baseline, from the true cameras")
    size, steps3, every = (24, 300, 50) if args.quick else (40, 1500, 100)
    world = collection(ObjectConfig(image_size=size, train_views=12 if args.quick else 24,
                                    test_views=0), 0)
    photos = from_world(world, "gt", 0)
    full = replace(TINY, steps=steps3, random_ray_steps=steps3 // 10)
    threshold = 20.0 if args.quick else 24.0
    print(f"  full SHINOBI (threshold {threshold} dB)")
    s_full = steps_to(full, photos, threshold, every)
    print("  SAMURAI-like")
    s_base = steps_to(samurai_like(full), photos, threshold, every)
    print(f"  steps: SHINOBI {s_full}, SAMURAI-like {s_base} (inf: not reached in {steps3})")
    ratios.append(("steps_to_psnr_samurai_over_shinobi", s_base / s_full if s_full < math.inf else 0.0, ">=", 2))

    print()
    for name, value, op, target in ratios:
        print(f"ratio {name} = {value:.3g} (target {op} {target})")


if __name__ == "__main__":
    main()
