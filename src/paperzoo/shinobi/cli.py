"""`paperzoo shinobi ...`: fit a photo collection (a folder, NAVI, or the 3D world), relight it under an
environment map, export a mesh, render a turntable, and the small-scale reproduction."""

from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, out_option, reproduce_command, seed_option
from paperzoo.core.errors import InputError


@click.group(cls=Group)
def cli():
    """SHINOBI: shape, BRDF, illumination and cameras from in-the-wild photo collections (arXiv 2401.10171)."""


@cli.command()
def configs():
    """List the named configs (the paper's `shinobi` and the CPU `tiny`)."""
    from paperzoo.shinobi.config import config, configs as names

    click.echo(f"{'config':<9}{'levels':>7}{'res':>12}{'log2 T':>7}{'samples':>8}{'rays':>6}{'steps':>7}{'m':>3}")
    for name in names():
        c = config(name)
        g = c.field.grid
        click.echo(f"{name:<9}{g.levels:>7}{f'{g.min_resolution}-{g.max_resolution}':>12}{g.log2_table:>7}"
                   f"{c.samples:>8}{c.rays:>6}{c.steps:>7}{c.proposals:>3}")


@cli.command()
@click.argument("images_dir", type=click.Path(path_type=Path), required=False)
@click.option("--world", "world_seed", type=int, default=None,
              help="Fit the 3D world's object of this seed instead of a folder (its true poses are then known).")
@click.option("--navi", "navi_object", default=None, help="IMAGES_DIR is a NAVI v1.0 root; fit this object's wild_set.")
@click.option("--init", type=click.Choice(["gt", "perturbed", "octant"]), default="perturbed", show_default=True,
              help="--world / --navi: the initial cameras (true, turned 15-25 degrees, or octants only).")
@click.option("--config", "config_name", default="tiny", show_default=True, help="Named config (see `configs`).")
@click.option("--steps", type=int, default=None, help="Optimisation steps (default: the config's).")
@click.option("--size", type=int, default=None, help="Image side after padding to a square (default: 40 tiny, 400 paper).")
@click.option("--test-every", type=int, default=0, show_default=True,
              help="Folders: hold every k-th photograph out as a test view (0: none).")
@click.option("--test-steps", type=int, default=300, show_default=True,
              help="Steps fitting the test views' cameras and light with the model frozen (§4).")
@out_option("shinobi-run", "Run folder: photos.pt, checkpoint/, model/, summary.json, renders/.")
@device_option
@seed_option
def fit(images_dir, world_seed, navi_object, init, config_name, steps, size, test_every, test_steps, out, device, seed):
    """Fit shape, BRDF, per-image light and cameras to IMAGES_DIR (images/NAME.png + masks/NAME.png, optionally
    poses.json or octants.json; see `paperzoo.shinobi.data.load_folder`), a NAVI object, or the world.

    Resumes from OUT/checkpoint when it is there."""
    import dataclasses
    import json

    import numpy as np
    from PIL import Image

    from paperzoo.core.atomic import atomic_path
    from paperzoo.core.cli import resolve_device
    from paperzoo.shinobi.config import config
    from paperzoo.shinobi.data import from_world, load_folder, load_navi
    from paperzoo.shinobi.evaluate import evaluate
    from paperzoo.shinobi.run import save_photos
    from paperzoo.shinobi.train import Fitter
    from paperzoo.world.objects3d import ObjectConfig, collection

    cfg = config(config_name)
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=steps, random_ray_steps=min(cfg.random_ray_steps, steps // 10))
    side = size or (40 if config_name == "tiny" else 400)
    world = None
    if world_seed is not None:
        world = collection(ObjectConfig(image_size=side, lobes=cfg.lobes), world_seed)
        photos = from_world(world, init, seed)
    elif images_dir is None:
        raise click.UsageError("give IMAGES_DIR (or --world SEED)")
    elif navi_object is not None:
        photos = load_navi(images_dir, navi_object, side, init, seed)
    else:
        photos, _ = load_folder(images_dir, side, test_every)
    click.echo(f"{photos.train} training and {photos.views - photos.train} test photographs at {side} px; "
               f"{cfg.steps} steps -> {out}")
    save_photos(photos, out)
    fitter = Fitter(cfg, photos, seed, resolve_device(device))
    fitter.fit(out=out)
    summary = evaluate(fitter, world, test_steps)
    fitter.save(out / "model")  # with the test views' fitted cameras and light
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps({k: v for k, v in summary.items() if not k.endswith("per_view")}, indent=1))
    (out / "renders").mkdir(exist_ok=True)
    for view in range(min(photos.views, 4)):
        r = fitter.render_image(view)
        row = np.concatenate([fitter.target(view, side)[0].numpy(), r["rgb"].clamp(0, 1).numpy(),
                              r["basecolour"].numpy(), (r["normal"].numpy() + 1) / 2], 1)
        Image.fromarray((row * 255).round().astype(np.uint8)).save(out / "renders" / f"view{view:03d}.png")
    click.echo(", ".join(f"{k} {v:.3f}" for k, v in summary.items() if isinstance(v, float)))
    click.echo(f"renders (photo | c^ | basecolour | normal): {out / 'renders'}")


@cli.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--envmap", type=click.Path(path_type=Path), required=True,
              help="An equirectangular map: Radiance .hdr (linear) or PNG/JPEG (sRGB), width = 2 x height.")
@click.option("--view", type=int, default=0, show_default=True, help="Which photograph's camera to render from.")
@click.option("--lobes", type=int, default=None, help="SG lobes fitted to the map (default: the run's).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("relit.png"), show_default=True)
def relight(run, envmap, view, lobes, out):
    """Render RUN's object from a photograph's camera under an environment map (fitted as spherical Gaussians)."""
    import numpy as np
    import torch
    from PIL import Image

    from paperzoo.core.atomic import atomic_path
    from paperzoo.shinobi.envmap import fit_sg, read_envmap
    from paperzoo.shinobi.run import load_run

    env = read_envmap(envmap)
    fitter = load_run(run)
    if not 0 <= view < fitter.photos.views:
        raise InputError(f"--view {view}: the run has photographs 0 .. {fitter.photos.views - 1}")
    k = fitter.illumination.axes.shape[1]
    light = fit_sg(env, lobes or k)
    if light.axes.shape[0] != k:
        raise InputError(f"--lobes {lobes}: the run's illumination has {k} lobes per image")
    with torch.no_grad():
        fitter.illumination.set_light(view, light)
    r = fitter.render_image(view)
    image = r["rgb"].clamp(0, 1).numpy()
    with atomic_path(out) as tmp:
        Image.fromarray((image * 255).round().astype(np.uint8)).save(tmp, format="PNG")
    click.echo(f"{out}: view {view} under {envmap.name} ({k} lobes)")


@cli.command("export-mesh")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("mesh.obj"), show_default=True,
              help=".obj (vertex colours) or .ply (colours, roughness, metallic).")
@click.option("--resolution", type=int, default=128, show_default=True, help="Marching-cubes grid per side.")
@click.option("--level", type=float, default=10.0, show_default=True, help="The density level of the surface.")
def export_mesh(run, out, resolution, level):
    """Marching cubes on RUN's density, the BRDF at every vertex (scikit-image)."""
    from paperzoo.shinobi.mesh import extract, write_mesh
    from paperzoo.shinobi.run import load_run

    fitter = load_run(run)
    mesh = extract(fitter.field, resolution, level, fitter.config.bound)
    write_mesh(mesh, out)
    click.echo(f"{out}: {len(mesh['vertices'])} vertices, {len(mesh['faces'])} faces")


cli.add_command(reproduce_command(
    "shinobi",
    "The small-scale reproduction: SHINOBI vs a SAMURAI-like baseline and its ablations on the 3D world, from true, "
    "turned and octant-only cameras, 3 seeds (hours; runs are cached and resume). Writes OUT/REPORT.md.",
    "Tiny budgets, one seed, four runs: a smoke run in minutes (numbers mean nothing)."))
