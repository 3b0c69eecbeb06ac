"""The CLI end to end on a micro model, and real-data folders (JSONL + GIF / frame folders) with a frozen VQModel."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from paperzoo.cli import main
from paperzoo.core.errors import InputError
from paperzoo.worlddreamer.data import load_folder


def _run(*args):
    result = CliRunner().invoke(main, ["worlddreamer", *args])
    return result


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wd") / "run"
    r = _run("train", "--config", "micro", "--steps", "3", "--tokenizer-steps", "2", "--train-clips", "8",
             "--batch-size", "4", "--out", str(out), "--device", "cpu")
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.slow
@pytest.mark.parametrize("task,extra", [("text-to-video", ["--prompt", "a red circle orbits"]),
                                        ("image-to-video", []), ("inpainting", ["--prompt", "a blue square drifts"]),
                                        ("action-to-video", ["--action", "left"]), ("unconditional", [])])
def test_generate_writes_a_gif_and_a_strip_for_every_task(micro_run, tmp_path, task, extra):
    r = _run("generate", "--model", str(micro_run), "--task", task, "--steps", "3", "--beta", "0", "--out", str(tmp_path),
             "--device", "cpu", *extra)
    assert r.exit_code == 0, r.output
    assert "3 STPT forward passes" in r.output
    gif = Image.open(tmp_path / "video.gif")
    assert gif.size == (128, 128)
    shown = 0  # Pillow merges identical consecutive frames (an untrained model's may be), adding their durations
    for i in range(gif.n_frames):
        gif.seek(i)
        shown += gif.info["duration"]
    assert shown == 8 * 250
    assert Image.open(tmp_path / "video-frames.png").size == (8 * 128, 128)


@pytest.mark.slow
def test_generate_rejects_bad_input_with_one_line(micro_run, tmp_path):
    r = _run("generate", "--model", str(micro_run), "--task", "action-to-video", "--action", "jump", "--out", str(tmp_path))
    assert r.exit_code == 1 and "action: unknown 'jump'" in r.output and "Traceback" not in r.output
    r = _run("generate", "--model", str(micro_run), "--task", "inpainting", "--region", "1,2,3", "--out", str(tmp_path))
    assert r.exit_code == 1 and "--region" in r.output
    r = _run("generate", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path))
    assert r.exit_code == 1 and "no such run folder" in r.output
    short = tmp_path / "short.gif"
    frames = [Image.new("RGB", (32, 32), (i * 20, 0, 0)) for i in range(3)]
    frames[0].save(short, save_all=True, append_images=frames[1:])
    r = _run("generate", "--model", str(micro_run), "--task", "inpainting", "--prompt", "a red circle orbits",
             "--video", str(short), "--out", str(tmp_path))
    assert r.exit_code == 1 and "3 frames" in r.output
    assert not (tmp_path / "video.gif").exists()


def _folder(tmp_path, n=4, frames=10, with_actions=True):
    root = tmp_path / "videos"
    (root / "clips").mkdir(parents=True)
    rows = []
    rng = np.random.default_rng(0)
    for i in range(n):
        imgs = [Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)) for _ in range(frames)]
        if i % 2:
            imgs[0].save(root / "clips" / f"{i}.gif", save_all=True, append_images=imgs[1:])
            video = f"clips/{i}.gif"
        else:
            (root / "clips" / str(i)).mkdir()
            for t, im in enumerate(imgs):
                im.save(root / "clips" / str(i) / f"{t:03d}.png")
            video = f"clips/{i}"
        row = {"video": video, "caption": "a red circle orbits"}
        if with_actions:
            row["actions"] = rng.normal(size=(frames, 2)).round(3).tolist()
        rows.append(row)
    (root / "index.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def test_folder_loader_reads_gifs_and_frame_folders_with_a_stride(tmp_path):
    root = _folder(tmp_path)
    records = load_folder(root, frames=4, size=(32, 32), stride=3)
    assert len(records) == 4 and records[0].frames.shape == (4, 32, 32, 3) and records[1].frames.shape == (4, 32, 32, 3)
    rows = [json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()]
    assert np.allclose(records[0].actions, np.asarray(rows[0]["actions"], np.float32)[0:10:3])
    with pytest.raises(InputError, match="need 28"):
        load_folder(root, frames=10, size=(32, 32), stride=3)


def test_folder_errors_name_the_input(tmp_path):
    with pytest.raises(InputError, match="no index.jsonl"):
        load_folder(tmp_path, 4, (32, 32))
    root = _folder(tmp_path)
    (root / "index.jsonl").write_text('{"video": "clips/1.gif"}\nnot json\n')
    with pytest.raises(InputError, match="line 2: not JSON"):
        load_folder(root, 4, (32, 32))
    (root / "index.jsonl").write_text('{"video": "clips/missing.gif", "caption": "x"}\n')
    with pytest.raises(InputError, match="missing.gif"):
        load_folder(root, 4, (32, 32))


@pytest.mark.slow
def test_train_on_a_real_folder_with_a_frozen_vq_model(tmp_path):
    """The real-scale path end to end: a local VQModel folder (aMUSEd-like) and a JSONL video folder."""
    import torch
    from diffusers import VQModel

    torch.manual_seed(0)
    VQModel(block_out_channels=(8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=4, latent_channels=4, num_vq_embeddings=32,
            vq_embed_dim=4, lookup_from_codebook=True).save_pretrained(tmp_path / "vq")
    root = _folder(tmp_path, with_actions=True)
    out = tmp_path / "run"
    r = _run("train", "--config", "micro", "--data", str(root), "--tokenizer", str(tmp_path / "vq"), "--steps", "2",
             "--batch-size", "2", "--out", str(out), "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "4 clips" in r.output and (out / "stpt" / "model" / "model.safetensors").is_file()
    r = _run("train", "--config", "micro", "--data", str(root), "--out", str(tmp_path / "x"))
    assert r.exit_code == 1 and "needs --tokenizer" in r.output


def test_tile_lays_clips_out_as_a_grid():
    import torch

    from paperzoo.worlddreamer.show import tile

    a, b = torch.zeros(8, 3, 4, 4), torch.ones(8, 3, 4, 4) * 0.5
    grid = tile([[a, b], [b, a]])
    assert grid.shape == (8, 3, 9, 9)
    assert torch.equal(grid[:, :, :4, 5:], b) and torch.equal(grid[:, :, 5:, 5:], a)
    assert torch.equal(grid[:, :, 4], torch.ones(8, 3, 9))  # the white gap
    with pytest.raises(InputError, match="same, non-zero number of clips"):
        tile([[a, b], [a]])
