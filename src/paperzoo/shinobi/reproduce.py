"""The small-scale reproduction (card §5): SHINOBI against a SAMURAI-like baseline and its own ablations,
on the 3D world, with the true, turned (15-25 degrees) or octant-only initial cameras.

Runs per seed (the world's object of that seed; 24 training and 8 test photographs at 40 px):

    S-gt, B-gt             full SHINOBI and the SAMURAI-like baseline from the true cameras (Table 1)
    S-turned, B-turned     both from cameras turned 15-25 degrees about the object (card init (a))
    N-turned               the naive hash field (no Fourier branch, no annealing)
    no-<part>-turned       the Table 3 ablations: consistency, view importance, coarse-to-fine, hybrid, patches
    S-octant, B-octant     both from octant labels only (Table 2's "Directions")

Every run is fitted, its test views' cameras and light are fitted with the model frozen (§4), and it is
scored: test-view PSNR / SSIM, pose errors after Procrustes alignment, basecolour PSNR (per-channel scale
fit) and relighting PSNR under a held-out environment. Claims are decided by `paperzoo.core.verdict` over
the seeds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from paperzoo.core.checkpoint import config_to_dict
from paperzoo.core.report import Claim, SystemReport, save_figure
from paperzoo.core.runcache import cached_run
from paperzoo.core.verdict import better, spread, unmeasured
from paperzoo.shinobi.config import ABLATIONS, TINY, ShinobiConfig, naive_hash, samurai_like
from paperzoo.shinobi.data import from_world
from paperzoo.shinobi.evaluate import evaluate
from paperzoo.shinobi.run import save_photos
from paperzoo.shinobi.train import Fitter
from paperzoo.world.objects3d import ObjectConfig, collection

SYSTEM, TITLE = "shinobi", "SHINOBI: shape and illumination via neural BRDF optimization in the wild"

# Minutes on 2 cores, estimated from the tiny fit's measured step time (about 0.35 s on one loaded core,
# 1500 steps, plus 300 test-view steps): about 10 core-minutes a run, 12 runs x 3 seeds.
EXPECTED_MINUTES = {"full": 200, "quick": 3}


@dataclass(frozen=True)
class Budget:
    config: ShinobiConfig
    world: ObjectConfig
    seeds: int
    test_steps: int
    runs: tuple[str, ...]


RUNS = ("S-gt", "B-gt", "S-turned", "B-turned", "N-turned", "no-consistency-turned", "no-view-importance-turned",
        "no-coarse-to-fine-turned", "no-hybrid-turned", "no-patches-turned", "S-octant", "B-octant")
FULL = Budget(TINY, ObjectConfig(), 3, 300, RUNS)
QUICK = Budget(replace(TINY, steps=12, random_ray_steps=4, rays=128, samples=16),
               ObjectConfig(image_size=16, train_views=8, test_views=2, quadrature=256), 1, 3,
               ("S-gt", "B-gt", "S-turned", "no-patches-turned"))


def run_config(name: str, base: ShinobiConfig) -> tuple[ShinobiConfig, str]:
    """The config and initial cameras of run `name`."""
    variant, init = name.rsplit("-", 1)
    init = {"turned": "perturbed"}.get(init, init)
    if variant == "S":
        return base, init
    if variant == "B":
        return samurai_like(base), init
    if variant == "N":
        return naive_hash(base), init
    return ABLATIONS[variant](base), init


def run_one(out: Path, name: str, budget: Budget, seed: int, device: str) -> dict:
    config, init = run_config(name, budget.config)
    settings = {"config": config_to_dict(config), "world": config_to_dict(budget.world), "init": init, "seed": seed,
                "test_steps": budget.test_steps}

    def fn(folder: Path) -> dict:
        world = collection(budget.world, seed)
        photos = from_world(world, init, seed)
        save_photos(photos, folder)
        fitter = Fitter(config, photos, seed, device)
        fitter.fit(out=folder, progress=False)
        metrics = evaluate(fitter, world, budget.test_steps)
        fitter.save(folder / "model")  # with the test views' fitted cameras and light
        metrics["initial"] = initial_pose_error(world, init, seed)
        return metrics

    return cached_run(out / "runs" / f"seed-{seed}" / name, SYSTEM, settings, fn)


def initial_pose_error(world, init: str, seed: int) -> dict:
    from paperzoo.shinobi.cameras import CameraMultiplex
    from paperzoo.shinobi.evaluate import pose_errors

    photos = from_world(world, init, seed)
    cams = CameraMultiplex(photos.eye, photos.roll, photos.focal, photos.size, direction=photos.direction)
    rot, eye, _ = cams.cameras()
    n = photos.train
    e = pose_errors(rot[:n], eye[:n], photos.true_rotation[:n], photos.true_eye[:n])
    return {"rotation_deg": e["rotation_deg"], "translation": e["translation"]}


def _get(results, name, key):
    return [r[name][key] for r in results]


def make_claims(results: list[dict], budget: Budget) -> list[Claim]:
    have = set(results[0])
    claims = []

    def add(claim, paper, a, b, key, higher=True, baseline=None, note=""):
        if a not in have or b not in have:
            claims.append(Claim(claim, paper, "-", unmeasured(f"{a} or {b} not run in this budget")))
            return
        va, vb = _get(results, a, key), _get(results, b, key)
        base = None if baseline is None else baseline
        verdict = better(va, vb, higher_is_better=higher, baseline=base)
        claims.append(Claim(claim, paper, f"{key} {a} {spread(va)} vs {b} {spread(vb)}" + (f"; {note}" if note else ""),
                            verdict))

    init_rot = [r["S-turned"]["initial"]["rotation_deg"] for r in results] if "S-turned" in have else None
    add("true cameras: SHINOBI's novel views beat SAMURAI's (test PSNR)", "T1: 27.69 vs 25.34 dB (NAVI SC)",
        "S-gt", "B-gt", "test_psnr")
    add("from turned cameras, SHINOBI ends with a lower rotation error than SAMURAI", "T2: 22.84 vs 26.16 deg",
        "S-turned", "B-turned", "rotation_deg", higher=False)
    if init_rot is not None:
        s = _get(results, "S-turned", "rotation_deg")
        claims.append(Claim("from turned cameras, SHINOBI halves the rotation error (card's gate)",
                            "card §5: final < 0.5 x initial", f"rotation {spread(s)} deg vs initial {spread(init_rot)}",
                            better(s, [0.5 * x for x in init_rot], higher_is_better=False, baseline=init_rot)))
    add("the naive hash field (no Fourier branch, no annealing) recovers poses worse", "card §5 (N vs S)",
        "S-turned", "N-turned", "rotation_deg", higher=False)
    for part, paper in (("patches", "T3: 20.60 vs 25.87 dB, 41.30 vs 22.90 deg"),
                        ("coarse-to-fine", "T3: 21.47 vs 25.87 dB, 30.44 vs 22.90 deg"),
                        ("view-importance", "T3: 22.43 vs 25.87 dB, 35.10 vs 22.90 deg")):
        add(f"without {part.replace('-', ' ')} poses get worse (rotation error)", paper, "S-turned",
            f"no-{part}-turned", "rotation_deg", higher=False)
    add("from octants, SHINOBI ends with a lower rotation error than SAMURAI", "T2: 22.84 vs 26.16 deg (SC)",
        "S-octant", "B-octant", "rotation_deg", higher=False)
    add("relighting: SHINOBI's relit test views beat SAMURAI's (inferred from the figures)", "Figs. 13-14 (no numbers)",
        "S-gt", "B-gt", "relight_psnr")
    add("basecolour: SHINOBI's is closer to the truth (inferred)", "Fig. 7 (no numbers)", "S-gt", "B-gt", "albedo_psnr")
    return claims


def metrics_table(results: list[dict]) -> str:
    keys = ("test_psnr", "test_ssim", "rotation_deg", "translation", "albedo_psnr", "relight_psnr", "train_psnr")
    lines = ["| run | " + " | ".join(keys) + " |", "| --- |" + " --- |" * len(keys)]
    for name in results[0]:
        if name == "run_key" or not isinstance(results[0][name], dict):
            continue
        lines.append(f"| {name} | " + " | ".join(spread(_get(results, name, k)) for k in keys) + " |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> Path:
    import matplotlib.pyplot as plt

    names = [n for n in results[0] if isinstance(results[0][n], dict)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, key, label in ((axes[0], "test_psnr", "test-view PSNR (dB)"), (axes[1], "rotation_deg", "rotation error (deg)")):
        v = np.array([[r[n][key] for n in names] for r in results])
        ax.bar(range(len(names)), v.mean(0), yerr=v.std(0), capsize=2)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.set_title(label)
    fig.tight_layout()
    return save_figure(fig, path)


def run_seed(out: Path, budget: Budget, seed: int, device: str, bar=None) -> dict:
    result = {}
    for name in budget.runs:
        if bar is not None:
            bar.set_postfix_str(f"seed {seed} {name}")
        r = run_one(out, name, budget, seed, device)
        result[name] = {k: v for k, v in r.items() if k != "run_key"}
        if bar is not None:
            bar.update(1)
    return result


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0,
        budget: Budget | None = None) -> SystemReport:
    budget = budget or (QUICK if quick else FULL)
    out = Path(out_dir) / SYSTEM
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(seed, seed + budget.seeds))
    with tqdm(total=len(seeds) * len(budget.runs), desc=SYSTEM, unit="run", dynamic_ncols=True) as bar:
        results = [run_seed(out, budget, s, device, bar) for s in seeds]
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    figures = pictures(out, budget, seed, device)
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    c, w = budget.config, budget.world
    setup = (f"The 3D world ({w.train_views} training and {w.test_views} test photographs at {w.image_size} px, each "
             f"under its own {w.lobes}-lobe SG light and background; the object of each seed). Config 'tiny': hash grid "
             f"{c.field.grid.levels} levels {c.field.grid.min_resolution}-{c.field.grid.max_resolution}, T = "
             f"2^{c.field.grid.log2_table}, {c.field.bands} Fourier bands, {c.samples} samples per ray, {c.rays} rays per "
             f"step over {c.views_per_step} photographs, m = {c.proposals}, {c.steps} steps; test views fitted "
             f"{budget.test_steps} steps with the model frozen. Seeds {seeds}; cells are seed mean ± SE (per seed).")
    return SystemReport(SYSTEM, TITLE, "2401.10171", "paperzoo shinobi reproduce" + (" --quick" if quick else ""),
                        claims=make_claims(results, budget), plots=[rel(plot(results, out / "shinobi.png"))] + [rel(f) for f in figures],
                        setup=setup, tables=[metrics_table(results)], quick=quick)


def pictures(out: Path, budget: Budget, seed: int, device: str) -> list[Path]:
    """A turntable of S-gt's first seed (novel cameras round the object, under one photograph's light) and a
    relighting strip (a test view under its own light, the held-out light, and the world's truth)."""
    import torch
    from PIL import Image

    from paperzoo.shinobi.run import load_run
    from paperzoo.world.objects3d import SGLight

    name = "S-gt" if "S-gt" in budget.runs else budget.runs[0]
    world = collection(budget.world, seed)
    fitter = load_run(out / "runs" / f"seed-{seed}" / name)
    size = budget.world.image_size
    frames = []
    cams = fitter.cameras
    with torch.no_grad():
        for k in range(8):
            a = 2 * math.pi * k / 8
            eye = torch.tensor([2.5 * math.sin(a) * math.cos(0.35), 2.5 * math.sin(0.35), 2.5 * math.cos(a) * math.cos(0.35)])
            cams.eye_init[0, 0], cams.eye_offset[0, 0] = eye, 0
            cams.direction_init[0, 0], cams.direction_offset[0, 0] = 0, 0
            cams.roll_init[0, 0], cams.roll_offset[0, 0] = 0, 0
            frames.append(fitter.render_image(0, 0)["rgb"].clamp(0, 1).numpy())
    turntable = out / "turntable.png"
    Image.fromarray((np.concatenate(frames, 1) * 255).round().astype(np.uint8)).save(turntable)
    view = fitter.photos.train
    own = fitter.render_image(view, 0)["rgb"].clamp(0, 1).numpy() if view < fitter.photos.views else None
    strip = [fitter.target(view, size)[0].numpy()] if own is not None else []
    if own is not None:
        strip.append(own)
        fitter.illumination.set_light(view, SGLight(world.relight_light.axes, world.relight_light.sharpness,
                                                    world.relight_light.amplitudes))
        strip.append(fitter.render_image(view, 0)["rgb"].clamp(0, 1).numpy())
        truth = world.relight[0]
        strip.append(truth.radiance * truth.mask[..., None] + (1 - truth.mask[..., None]))
    relit = out / "relighting.png"
    if strip:
        Image.fromarray((np.concatenate(strip, 1) * 255).round().astype(np.uint8)).save(relit)
    return [turntable] + ([relit] if strip else [])
