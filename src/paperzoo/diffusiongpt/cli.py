"""`paperzoo diffusiongpt ...`: route a prompt and draw it, look at the zoo, build the database, reproduce."""

from __future__ import annotations

import json
from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, out_option, reproduce_command, resolve_device, seed_option
from paperzoo.core.errors import InputError

CONTROLLER_HELP = ("The LLM controller: 'rule' (deterministic rules over a subject/style lexicon), 'smollm2' "
                   "(SmolLM2-135M-Instruct, real offline weights) or a local Hugging Face causal-LM folder.")


@click.group(cls=Group)
def cli():
    """DiffusionGPT: an LLM routes each prompt through a tree of generators and an advantage database (arXiv 2401.10061)."""


def _controller(name: str):
    from paperzoo.diffusiongpt.data import STYLE_WORDS, SUBJECT_WORDS
    from paperzoo.diffusiongpt.llm import HFCausalLM, RuleLLM

    if name == "rule":
        return RuleLLM(SUBJECT_WORDS, STYLE_WORDS)
    if name == "smollm2":
        return HFCausalLM.smollm2()
    return HFCausalLM.load(name)


def _world_system(budget: str, seed: int, device: str):
    """The world zoo, rewards, database and rule tree (trained once, cached)."""
    from paperzoo.core.cache import cache_dir
    from paperzoo.diffusiongpt.reproduce import FULL, QUICK, prepare

    b = {"full": FULL, "smoke": QUICK}[budget]
    root = cache_dir("diffusiongpt", f"world-{budget}-seed{seed}")
    if not (root / "database" / "result.json").is_file():
        click.echo(f"first use: training the world zoo ({budget}; 8 models), its reward models and the advantage database "
                   f"into {root}; about {'15 min' if budget == 'full' else '1 min'} on 2 cores, cached afterwards", err=True)
    return prepare(root, b, seed, device, progress=True)


def _card_zoo(cards: Path, database, universal, steps, guidance, llm, device):
    """A Stable Diffusion zoo from an official-schema card file, its tree (built by the controller,
    cached beside the cards) and an optional database."""
    from paperzoo.diffusiongpt.database import AdvantageDatabase
    from paperzoo.diffusiongpt.realscale import DiffusersZoo
    from paperzoo.diffusiongpt.tree import build_tree, load_tree, save_tree

    if not cards.is_file():
        raise InputError(f"--zoo {cards}: expected 'full', 'smoke' or a JSON file of model cards")
    zoo = DiffusersZoo(cards, device=device, steps=steps, guidance=guidance)
    defaults = list(universal) or [c.key for c in zoo.cards if c.model_type != "lora"][:2]
    unknown = [u for u in defaults if u not in zoo.keys()]
    if unknown:
        raise InputError(f"--universal {', '.join(unknown)}: not in the zoo ({', '.join(zoo.keys())})")
    tree_file = cards.with_name(cards.stem + f".tree-{type(llm).__name__}.json")
    if tree_file.is_file():
        tree = load_tree(tree_file)
    else:
        tree = build_tree(llm, zoo.cards, defaults)
        save_tree(tree, tree_file)
    return zoo, tree, AdvantageDatabase.load(database) if database is not None else None


@cli.command()
@click.argument("prompt")
@click.option("--out", type=click.Path(path_type=Path), default=Path("diffusiongpt.png"), show_default=True,
              help="The image (PNG, enlarged --scale times with nearest-neighbour pixels).")
@click.option("--controller", default="rule", show_default=True, metavar="rule|smollm2|FOLDER", help=CONTROLLER_HELP)
@click.option("--zoo", "zoo_budget", default="full", show_default=True, metavar="full|smoke|CARDS.json",
              help="The world zoo: 'full' (trained once, ~15 min) or 'smoke' (seconds; for trying the CLI, poor images); "
                   "or a JSON file of model cards in the official schema for Stable Diffusion checkpoints and LoRAs "
                   "(weights at each card's \"path\", else checkpoints/<model_name> beside the file).")
@click.option("--database", type=click.Path(path_type=Path), default=None,
              help="An advantage-database folder for a CARDS.json zoo (without one, the tree's leaf decides: 'w/o HF').")
@click.option("--universal", multiple=True, help="A CARDS.json zoo's default models for every subject's 'universal' leaf "
              "(repeatable; default: its first two checkpoints).")
@click.option("--steps", type=int, default=30, show_default=True, help="Sampling steps for a CARDS.json zoo.")
@click.option("--guidance", type=float, default=7.5, show_default=True, help="Guidance scale for a CARDS.json zoo.")
@click.option("--selector", type=click.Choice(["llm", "count"]), default="llm", show_default=True,
              help="Model selection: the official three LLM prompts, or the deterministic count rule.")
@click.option("--restrict-to-leaf", is_flag=True, help="Keep the final model inside the tree's leaf (the official snap does not).")
@click.option("--beam", type=int, default=1, show_default=True, help="Tree search: children kept per level (1 = greedy, the official code).")
@click.option("--no-parse", is_flag=True, help="Skip prompt parse (ablation).")
@click.option("--no-hf", is_flag=True, help="Skip the advantage database: the tree leaf's first model (ablation 'w/o HF').")
@click.option("--no-extension", is_flag=True, help="Skip prompt extension (ablation).")
@click.option("--scale", type=int, default=8, show_default=True, help="Enlargement of the 32-px image in the PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print the routing trace as JSON.")
@device_option
@seed_option
def generate(prompt, out, controller, zoo_budget, database, universal, steps, guidance, selector, restrict_to_leaf, beam,
             no_parse, no_hf, no_extension, scale, as_json, device, seed):
    """Route PROMPT (a prompt, an instruction, an inspiration or a hypothesis) and draw it; prints the routing
    trace: the parsed prompt, the tree path, the database hits and the chosen model."""
    import numpy as np
    import torch
    from PIL import Image

    from paperzoo.core.atomic import atomic_path
    from paperzoo.diffusion.sampling import to_uint8
    from paperzoo.diffusiongpt.pipeline import DiffusionGPT, Routing

    if not prompt.strip():
        raise InputError("PROMPT is empty; give a prompt such as 'I want to see a large red circle in outline style'")
    if scale < 1:
        raise InputError(f"--scale {scale}: must be >= 1")
    llm = _controller(controller)
    if zoo_budget in ("full", "smoke"):
        p = _world_system(zoo_budget, seed, resolve_device(device))
        zoo, tree, db = p.zoo, p.tree, p.db
    else:
        zoo, tree, db = _card_zoo(Path(zoo_budget), database, universal, steps, guidance, llm, resolve_device(device))
        no_hf = no_hf or db is None
    routing = Routing(parse=not no_parse, human_feedback=not no_hf, extension=not no_extension, selector=selector,
                      restrict_to_leaf=restrict_to_leaf, beam=beam)
    pipe = DiffusionGPT(llm, zoo, tree, db, routing=routing)
    images, (trace,) = pipe.generate([prompt], generator=torch.Generator().manual_seed(seed))
    pixels = to_uint8(images)[0]
    pixels = np.repeat(np.repeat(pixels, scale, 0), scale, 1)
    with atomic_path(out) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")
    if as_json:
        click.echo(json.dumps(trace.to_json(), indent=1))
    else:
        click.echo("\n".join(trace.lines()))
        click.echo(f"wrote {out}")


@cli.command()
@click.option("--zoo", "zoo_budget", type=click.Choice(["full", "smoke"]), default="full", show_default=True,
              help="Which world zoo (trained once and cached).")
@click.option("--grid", type=click.Path(path_type=Path), default=None,
              help="Also draw a PNG grid: one row per model, one column per domain.")
@click.option("--json", "as_json", is_flag=True, help="Print the model cards as JSON (the official schema).")
@device_option
@seed_option
def zoo(zoo_budget, grid, as_json, device, seed):
    """The model zoo: its cards (name, type, tags, trigger words, example prompt) and the tree built from them."""
    p = _world_system(zoo_budget, seed, resolve_device(device))
    if as_json:
        click.echo(json.dumps([c.to_json() for c in p.zoo.cards], indent=1))
    else:
        for c in p.zoo.cards:
            click.echo(f"{c.key:<16} {c.model_type:<17} tags: {', '.join(c.tag)}")
        click.echo("\ntree (rule controller):")
        from paperzoo.diffusiongpt.llm import format_tree

        click.echo(format_tree(p.tree))
    if grid is not None:
        from paperzoo.diffusiongpt.plots import zoo_grid

        click.echo(f"wrote {zoo_grid(p.zoo, grid, seed)}")


@cli.command("build-db")
@click.option("--zoo", "zoo_budget", default="full", show_default=True, metavar="full|smoke|CARDS.json",
              help="A world zoo (its database is built with it, scored by the world's ImageReward analogue) or a JSON "
                   "file of model cards for Stable Diffusion checkpoints and LoRAs (needs --prompts and --imagereward).")
@click.option("--prompts", type=click.Path(path_type=Path), default=None,
              help="CARDS.json zoo: the database prompts, one per line.")
@click.option("--imagereward", type=click.Path(path_type=Path), default=None,
              help="CARDS.json zoo: a local ImageReward folder holding ImageReward.pt, med_config.json and a "
                   "bert-base-uncased tokenizer folder `tokenizer/` (as released by THUDM/ImageReward).")
@click.option("--embedder", type=click.Choice(["minilm", "tfidf"]), default="minilm", show_default=True,
              help="CARDS.json zoo: the prompt embedding (all-MiniLM-L6-v2, real weights; or hashed TF-IDF).")
@click.option("--steps", type=int, default=30, show_default=True, help="Sampling steps for a CARDS.json zoo.")
@click.option("--guidance", type=float, default=7.5, show_default=True, help="Guidance scale for a CARDS.json zoo.")
@click.option("--batch-size", type=int, default=4, show_default=True, help="Prompts drawn per call for a CARDS.json zoo.")
@out_option("diffusiongpt-db", "The database folder (prompts.json, embeddings.safetensors, prompt2scores.json); a "
                               "CARDS.json build keeps per-model scores in OUT.partial/ and resumes from them.")
@device_option
@seed_option
def build_db(zoo_budget, prompts, imagereward, embedder, steps, guidance, batch_size, out, device, seed):
    """Build the advantage database: every zoo model draws every database prompt, ImageReward (or the world's
    analogue) scores it, the prompts are embedded; stored in the official schema."""
    import shutil

    if out.exists():
        raise InputError(f"--out {out} exists; choose a new folder")
    if zoo_budget in ("full", "smoke"):
        p = _world_system(zoo_budget, seed, resolve_device(device))
        shutil.copytree(p.zoo.root.parent / "database" / "db", out)
        click.echo(f"{len(p.db)} prompts x {len(p.zoo.keys())} models, {p.db.embedder_name} embeddings; wrote {out}")
        return
    from paperzoo.diffusiongpt.builddb import build_database, read_prompts
    from paperzoo.diffusiongpt.database import embedder as make_embedder
    from paperzoo.diffusiongpt.imagereward import ImageReward
    from paperzoo.diffusiongpt.realscale import DiffusersZoo

    cards = Path(zoo_budget)
    if not cards.is_file():
        raise InputError(f"--zoo {cards}: expected 'full', 'smoke' or a JSON file of model cards")
    if prompts is None or imagereward is None:
        raise InputError("a CARDS.json zoo needs --prompts FILE (one prompt per line) and --imagereward FOLDER")
    if batch_size < 1:
        raise InputError(f"--batch-size {batch_size}: must be >= 1")
    texts = read_prompts(prompts)
    dev = resolve_device(device)
    zoo = DiffusersZoo(cards, device=dev, steps=steps, guidance=guidance)
    reward = ImageReward.from_local(imagereward).to(dev)
    embed = make_embedder(embedder, fit_on=texts)
    work = out.with_name(out.name + ".partial")
    db, means = build_database(zoo, texts, reward.reward, embed, seed=seed, batch_size=batch_size, work=work,
                               progress=True)
    db.save(out)
    shutil.rmtree(work, ignore_errors=True)
    for key, r in sorted(means.items(), key=lambda kv: -kv[1]):
        click.echo(f"{key:<40} mean ImageReward {r:+.3f}")
    click.echo(f"{len(db)} prompts x {len(means)} models, {db.embedder_name} embeddings; wrote {out}")


cli.add_command(reproduce_command(
    "diffusiongpt",
    "The card's seven arms (base, random expert, tree only, full, without parse, without extension, oracle) on the "
    "styled world, 3 seeds, and SmolLM2 as a real controller; writes OUT/diffusiongpt/ and OUT/REPORT.md.",
    "A smoke zoo, 8 inputs, one seed: checks that everything runs (about a minute), not a result."))
