"""`paperzoo cmmd ...`: score image folders, embed a folder once, reproduce the paper's tests."""

import json
import os
from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, out_option, resolve_device, seed_option

EMBEDDER_HELP = ("Named like --model elsewhere: 'sparc-tiny' (the tiny SPARC encoder trained on the scene world; "
                 "trained once on first use, 5-10 min, then cached), a SPARC checkpoint folder or a Hugging Face CLIP folder "
                 "(e.g. clip-vit-large-patch14-336); an OpenAI CLIP .pt file also works.")


def embedder_option(default: str | None = "sparc-tiny", help: str = EMBEDDER_HELP):
    return click.option("--embedder", default=default, show_default=default is not None, metavar="NAME|FOLDER", help=help)


def _write_json(path: Path, result: dict) -> None:
    from paperzoo.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")


@click.group(cls=Group)
def cli():
    """CMMD: the CLIP-MMD image-generation metric, with FID beside it (arXiv 2401.09603)."""


def _format(result: dict) -> str:
    lines = [f"reference: {result['n_ref']} images, evaluated: {result['n_eval']} images, embedding dim {result['dim']}"
             + (f", embedder {result['embedder']}" if result.get("embedder") else "")]
    if result.get("cmmd_unbiased") is not None:
        lines.append(f"CMMD (unbiased, the paper's estimator):        {result['cmmd_unbiased']:.3f}")
    lines.append(f"CMMD (biased V-statistic, the official code's): {result['cmmd_biased']:.3f}")
    lines.append(f"FID (same embeddings):                          {result['fid']:.3f}" if result.get("fid") is not None
                 else f"FID: not computed ({result.get('fid_note', 'N <= D')})")
    return "\n".join(lines)


@cli.command()
@click.argument("ref", type=click.Path(path_type=Path))
@click.argument("eval_", metavar="EVAL", type=click.Path(path_type=Path))
@embedder_option()
@click.option("--max-count", type=int, default=None, help="Use the first N images of each folder (sorted by name).")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="Folder for embedding caches, keyed by model, preprocessing and file list.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--drop-remainder", type=int, default=None,
              help="Drop the last len % B images, as the official code does with batch size B (for parity only).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@out_option(None, "Also write the result as JSON to this file (written atomically).")
@device_option
def score(ref, eval_, embedder, max_count, cache, batch_size, drop_remainder, as_json, out, device):
    """Score the images of EVAL against REF (folders of png/jpg, or .npz embedding files).

    Prints CMMD with both estimators (labelled) and FID on the same embeddings. Under
    `accelerate launch` with several processes, embedding and kernel sums are sharded.
    Scoring is deterministic (no --seed); the default embedder is trained once on first use.
    """
    from paperzoo.cmmd.embedders import load_embedder
    from paperzoo.cmmd.score import score as run

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from paperzoo.cmmd.sharded import score_sharded
        from paperzoo.core.trainer import make_accelerator

        accelerator = make_accelerator(device)
        result = score_sharded(ref, eval_, load_embedder(embedder, str(accelerator.device)), accelerator, max_count, batch_size)
        if not accelerator.is_main_process:
            return
    else:
        result = run(ref, eval_, embedder, max_count=max_count, cache=cache, device=resolve_device(device),
                     batch_size=batch_size, drop_remainder=drop_remainder)
    if out is not None:
        _write_json(out, result)
    click.echo(json.dumps(result, indent=1) if as_json else _format(result))
    if out is not None and not as_json:
        click.echo(f"wrote {out}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@embedder_option()
@click.option("--max-count", type=int, default=None, help="Use the first N images (sorted by name).")
@click.option("--batch-size", type=int, default=64, show_default=True)
@out_option("embeddings.npz", "The .npz to write (array 'embeddings', plus metadata).")
@device_option
def embed(folder, embedder, max_count, batch_size, out, device):
    """Embed a folder of images once (e.g. a reference set) into an .npz that `score` accepts."""
    from paperzoo.cmmd.embedders import load_embedder
    from paperzoo.cmmd.score import embed_folder, save_embeddings

    model = load_embedder(embedder, resolve_device(device))
    embeddings = embed_folder(folder, model, max_count, batch_size=batch_size)
    save_embeddings(out, embeddings, {**model.describe(), "folder": str(folder), "count": len(embeddings)})
    click.echo(f"wrote {out}: {embeddings.shape[0]} x {embeddings.shape[1]}")


@cli.command()
@click.option("--quick", is_flag=True, help="Fewer images and a briefly trained embedder: a smoke test of the pipeline "
              "(about 2 minutes), not a result.")
@embedder_option(None, EMBEDDER_HELP + " Default: sparc-tiny (with --quick, a briefly trained tiny SPARC encoder).")
@out_option("reproduction", "Report folder; results go to OUT/cmmd/.")
@device_option
@seed_option
def reproduce(quick, embedder, out, device, seed):
    """The distortion, sample-size and normality tests on the scene world; writes OUT/cmmd/ and OUT/REPORT.md."""
    from paperzoo.cmmd.reproduce import run
    from paperzoo.core.report import write_report
    from paperzoo.systems import SYSTEMS

    report = run(out_dir=out, quick=quick, device=resolve_device(device), seed=seed, embedder=embedder)
    report.save(out)
    click.echo(f"wrote {write_report(out, [(s.name, s.title, s.arxiv) for s in SYSTEMS])}")
