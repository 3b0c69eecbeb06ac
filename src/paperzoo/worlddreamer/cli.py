"""`paperzoo worlddreamer ...`: named configs, training (the video world or a local JSONL video folder),
generating any of the five tasks as a GIF and a frame strip, and the small-scale reproduction."""

from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, out_option, reproduce_command, resolve_device, seed_option
from paperzoo.core.errors import InputError


@click.group(cls=Group)
def cli():
    """WorldDreamer: a masked-token world model for video (arXiv 2401.09985): VQ tokens, the Spatial Temporal
    Patchwise Transformer, parallel decoding."""


@cli.command()
def configs():
    """List the named configs with their STPT parameter counts (meta device; stpt-1b is ours: the paper says only "1B")."""
    import torch

    from paperzoo.worlddreamer.config import config, configs as names
    from paperzoo.worlddreamer.stpt import STPT

    click.echo(f"{'config':<10}{'frames':>7}{'tokens/frame':>14}{'codes':>7}{'C_V':>6}{'layers':>7}{'STPT params':>14}")
    for name in names():
        c = config(name)
        with torch.device("meta"):
            n = sum(p.numel() for p in STPT(c.stpt).parameters())
        click.echo(f"{name:<10}{c.stpt.frames:>7}{f'{c.stpt.grid}x{c.stpt.grid}':>14}{c.stpt.codebook_size:>7}"
                   f"{c.stpt.dim:>6}{c.stpt.layers:>7}{n:>14,}")


@cli.command()
@click.option("--config", "config_name", default="tiny", show_default=True, help="Named config (see `configs`).")
@click.option("--data", default="world", show_default=True,
              help="'world' (moving shapes) or a folder with index.jsonl: {\"video\": GIF or frame folder, \"caption\": ..., "
                   "\"actions\": [[...], ...]} per line.")
@click.option("--tokenizer", "tokenizer_path", type=click.Path(path_type=Path), default=None,
              help="A diffusers VQModel folder to use frozen (e.g. a local aMUSEd checkout's vqvae/); default: train one.")
@click.option("--frame-stride", type=int, default=1, show_default=True, help="Real folders: take every k-th frame (nuScenes: 6).")
@click.option("--steps", type=int, default=None, help="STPT steps (default: the recipe's, 1500; paper: 2M).")
@click.option("--batch-size", type=int, default=None, help="Clips per step (default 16; paper: 64).")
@click.option("--tokenizer-steps", type=int, default=None, help="Tokenizer steps when one is trained (default 1000).")
@click.option("--train-clips", type=int, default=None, help="World clips to pre-tokenise and cycle (default 4096).")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from OUT's checkpoints.")
@out_option("worlddreamer-run", "Run folder: tokenizer/ (a diffusers VQModel folder) and stpt/model.")
@device_option
@seed_option
def train(config_name, data, tokenizer_path, frame_stride, steps, batch_size, tokenizer_steps, train_clips, resume, out,
          device, seed):
    """Train the tokenizer (unless --tokenizer is given), pre-tokenise the clips, then train the STPT.

    Runs unchanged under `accelerate launch` (core's Trainer)."""
    from dataclasses import replace

    from paperzoo.world.videos import VideoConfig
    from paperzoo.worlddreamer.config import config
    from paperzoo.worlddreamer.data import load_folder
    from paperzoo.worlddreamer.prompts import PromptEncoder
    from paperzoo.worlddreamer.tokenizer import FrameTokenizer
    from paperzoo.worlddreamer.train import TrainConfig, folder_tokens, train_stpt, train_tokenizer, training_tokens

    device = resolve_device(device)
    wd = config(config_name)
    recipe = TrainConfig()
    recipe = replace(recipe, **{k: v for k, v in (("steps", steps), ("batch_size", batch_size),
                                                  ("tokenizer_steps", tokenizer_steps), ("train_clips", train_clips))
                                 if v is not None})
    video = VideoConfig(image_size=wd.tokenizer.image_size, frames=wd.stpt.frames)
    if tokenizer_path is not None:
        tok = FrameTokenizer.from_pretrained(tokenizer_path)
        click.echo(f"tokenizer: {tokenizer_path} (frozen, {tok.codebook_size} codes, f{tok.down})")
        if tok.codebook_size != wd.stpt.codebook_size:
            wd = replace(wd, stpt=replace(wd.stpt, codebook_size=tok.codebook_size))
    else:
        if data != "world":
            raise InputError("--data FOLDER needs --tokenizer (a VQModel folder); a tokenizer is trained only on the world")
        click.echo(f"training the tokenizer ({recipe.tokenizer_steps} steps) -> {out / 'tokenizer'}")
        tok = train_tokenizer(wd.tokenizer, video, recipe, out / "tokenizer", seed=seed, device=device, resume=resume)
    size = wd.tokenizer.image_size
    if data == "world":
        tokens = training_tokens(tok, video, recipe.train_clips, seed, out / f"tokens-{recipe.train_clips}.npz", True)
    else:
        records = load_folder(data, wd.stpt.frames, (size, size), frame_stride)
        grid = size // tok.down
        if grid != wd.stpt.grid:
            wd = replace(wd, stpt=replace(wd.stpt, grid=grid))
        tokens = folder_tokens(tok, records, PromptEncoder(wd.stpt), wd.stpt.action_dim)
        click.echo(f"{len(records)} clips from {data}")
    click.echo(f"training the STPT ({recipe.steps} steps, batch {recipe.batch_size}) -> {out / 'stpt'}")
    train_stpt(wd.stpt, tokens, recipe, out / "stpt", seed=seed, device=device, resume=resume)
    click.echo(f"wrote {out / 'stpt' / 'model'}")


def _load_models(model: str, seed: int, device: str):
    """(tokenizer, STPT) from a run folder written by `train`, or the cached tiny models of a config name."""
    from paperzoo.worlddreamer.config import configs
    from paperzoo.worlddreamer.stpt import STPT
    from paperzoo.worlddreamer.tokenizer import FrameTokenizer

    path = Path(model)
    if path.is_dir():
        tok_folder = path / "tokenizer" / "tokenizer" if (path / "tokenizer" / "tokenizer").is_dir() else path / "tokenizer"
        return FrameTokenizer.from_pretrained(tok_folder).to(device), STPT.from_pretrained(path / "stpt" / "model").to(device).eval()
    if model in configs():
        from paperzoo.worlddreamer.models import tiny_models

        m = tiny_models(seed, model, with_ar=False, device=device)
        return m.tokenizer.to(device), m.stpt.to(device)
    raise InputError(f"--model {model!r}: no such run folder, and not a named config ({', '.join(configs())})")


@cli.command()
@click.option("--model", default="tiny", show_default=True,
              help="A run folder from `train`, or a config name: its cached models (trained once on first use).")
@click.option("--task", default="text-to-video", show_default=True,
              type=click.Choice(["text-to-video", "image-to-video", "inpainting", "action-to-video", "unconditional"]))
@click.option("--prompt", default="", help='Text prompt, e.g. "a red circle orbits and a blue square bounces".')
@click.option("--image", type=click.Path(path_type=Path), default=None,
              help="image-/action-to-video: the first frame (PNG/JPEG); default: frame 0 of world clip --clip.")
@click.option("--video", type=click.Path(path_type=Path), default=None,
              help="inpainting: the source video (GIF or frame folder); default: world clip --clip.")
@click.option("--clip", "clip_index", type=int, default=0, show_default=True, help="The world evaluation clip used as the source.")
@click.option("--action", default="right", show_default=True, help="action-to-video: left, right, up, down or still.")
@click.option("--region", default="2,2,6,6", show_default=True, help="inpainting: token box x0,y0,x1,y1 to repaint.")
@click.option("--steps", type=int, default=10, show_default=True, help="Parallel decoding steps (paper: ~10).")
@click.option("--beta", type=float, default=1.0, show_default=True, help="CFG scale beta of Eq. 6 (0: no guidance).")
@click.option("--decoder", type=click.Choice(["parallel", "token-by-token"]), default="parallel", show_default=True)
@out_option("worlddreamer-out", "Folder for video.gif and frames.png.")
@device_option
@seed_option
def generate(model, task, prompt, image, video, clip_index, action, region, steps, beta, decoder, out, device, seed):
    """Generate one clip of a task; writes OUT/video.gif and OUT/frames.png, prints the forward passes."""
    import torch

    from paperzoo.world.videos import VideoConfig
    from paperzoo.worlddreamer.decoding import parallel_decode, token_by_token_decode
    from paperzoo.worlddreamer.models import eval_clips
    from paperzoo.worlddreamer.show import read_image, save_video, source_frames
    from paperzoo.worlddreamer.tasks import named_actions, region_box, start_ids, task_prompts

    device = resolve_device(device)
    torch.manual_seed(seed)
    tok, stpt = _load_models(model, seed, device)
    c = stpt.config
    size = c.grid * tok.down
    world = VideoConfig(image_size=size, frames=c.frames) if size >= 24 else None
    given = None
    if task in ("image-to-video", "action-to-video"):
        first = read_image(image, size) if image is not None else eval_clips(world, clip_index + 1).frames_float()[clip_index:, :1]
        given = tok.encode(first.to(device))[:, 0]
    elif task == "inpainting":
        src = source_frames(video, c.frames, size) if video is not None else eval_clips(world, clip_index + 1).frames_float()[clip_index:]
        given = tok.encode(src.to(device))
    try:
        box = [int(v) for v in region.split(",")]
    except ValueError:
        raise InputError(f"--region {region!r}: expected four integers x0,y0,x1,y1") from None
    if len(box) != 4:
        raise InputError(f"--region {region!r}: expected four integers x0,y0,x1,y1")
    ids = start_ids(task, 1, c.frames, c.grid, c.mask_id, given=given,
                    region=region_box(c.grid, box) if task == "inpainting" else None).to(device)
    text_ids = text_mask = None
    if prompt:
        text_ids, text_mask = (t.to(device) for t in stpt.prompts.tokenize([prompt]))
    actions = named_actions(action, c.frames)[None].to(device) if task == "action-to-video" else None
    prompts = task_prompts(task, text_ids, text_mask, actions)
    if decoder == "parallel":
        out_ids = parallel_decode(stpt, ids, prompts, steps=steps, beta=beta)
    else:
        out_ids = token_by_token_decode(stpt, ids, prompts, beta=beta)
    frames = tok.decode(out_ids.ids)
    gif, strip = save_video(frames[0], out)
    click.echo(f"{task}: {out_ids.forward_passes} STPT forward passes ({decoder}); wrote {gif} and {strip}")


cli.add_command(reproduce_command(
    "worlddreamer",
    "The card's runs R1-R5 on the video world, 3 seeds: the tokenizer; the STPT beside full attention, the other "
    "mask modes and a same-size causal transformer; parallel vs token-by-token decoding; the five tasks with CFG "
    "beta 0, 1, 3; writes OUT/worlddreamer/ and OUT/REPORT.md.",
    "The micro config, 20 steps, 4 clips, one seed: checks that everything runs (about a minute), not a result."))
