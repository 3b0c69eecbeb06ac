"""The ImageNet training path (App. E recipe) end to end on a tiny ImageNet-layout folder the
test writes: bf16 autocast on the CPU, EMA beside the raw model, per-epoch checkpoints and
resume, the schedule's shape, and one clear error per bad input."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from paperzoo.cli import main
from paperzoo.core.ema import ModelEma
from paperzoo.core.errors import ConfigError, InputError
from paperzoo.core.trainer import make_accelerator
from paperzoo.vmamba.data import ImageFolder, eval_transform
from paperzoo.vmamba.imagenet import ImageNetRecipe, evaluate, lr_at, smoke_recipe, soft_cross_entropy, train_imagenet
from paperzoo.vmamba.model import VMamba

COLOURS = {"n01": (220, 40, 40), "n02": (40, 200, 60), "n03": (50, 60, 220)}


def write_folder(root, train=4, val=2):
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("val", val)):
        for wnid, colour in COLOURS.items():
            (root / split / wnid).mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(np.array(colour) + rng.normal(0, 20, (40, 48, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / wnid / f"{wnid}_{i}.JPEG")
    return root


def test_ema_is_the_running_average():
    model = torch.nn.BatchNorm1d(3)
    ema = ModelEma(model, decay=0.9)
    old = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    model.num_batches_tracked += 5
    ema.update(model)
    assert torch.allclose(ema.module.weight, 0.9 * old + 0.1 * model.weight)
    assert int(ema.module.num_batches_tracked) == 5 and not ema.module.weight.requires_grad
    with pytest.raises(ConfigError, match="ema decay"):
        ModelEma(model, decay=1.0)


def test_schedule_warms_up_then_decays_to_min_lr():
    r = ImageNetRecipe()
    assert lr_at(0, 1000, 100, r) == r.warmup_lr and lr_at(100, 1000, 100, r) == pytest.approx(r.lr)
    assert lr_at(1000, 1000, 100, r) == pytest.approx(r.min_lr)
    values = [lr_at(s, 1000, 100, r) for s in range(100, 1001)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_soft_cross_entropy_equals_hard_for_one_hot():
    logits, labels = torch.randn(5, 4), torch.tensor([0, 3, 1, 1, 2])
    assert torch.allclose(soft_cross_entropy(logits, torch.eye(4)[labels]), torch.nn.functional.cross_entropy(logits, labels))


def test_evaluate_counts_top1_and_top5():
    """10 classes, 4 images whose label ranks 1st, 3rd, 6th and 10th: top-1 1/4, top-5 2/4."""

    class Fixed(torch.nn.Module):
        def forward(self, images):
            return torch.arange(10.0).flip(0).expand(len(images), 10).clone()  # class 0 first, class 9 last

    batches = [(torch.zeros(2, 3, 8, 8), torch.tensor([0, 2])), (torch.zeros(2, 3, 8, 8), torch.tensor([5, 9]))]
    assert evaluate(Fixed(), batches, make_accelerator("cpu")) == {"top1": 0.25, "top5": 0.5}


@torch.no_grad()
def top1_of(model, root, size):
    """Top-1 of a saved model on ROOT/val, recomputed here, one image at a time."""
    folder, transform = ImageFolder(root / "val"), eval_transform(size)
    model.eval()
    hits = [int(model(transform(Image.open(path).convert("RGB"))[None]).argmax()) == label for path, label in folder.samples]
    return sum(hits) / len(hits)


def test_trains_with_bf16_and_ema_and_resumes(tmp_path):
    root = write_folder(tmp_path / "imagenet")
    recipe = smoke_recipe(mixed_precision="bf16", ema_decay=0.5)
    history = train_imagenet("vmamba-nano", root, tmp_path / "run", recipe, device="cpu", progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["loss"]) for h in history)
    raw, ema = VMamba.from_pretrained(tmp_path / "run" / "model"), VMamba.from_pretrained(tmp_path / "run" / "model_ema")
    assert raw.config.num_classes == 3
    # the reported accuracies are the saved models' (bf16 autocast in training's evaluation: allow one image of 6)
    assert abs(history[-1]["top1"] - top1_of(raw, root, recipe.image_size)) <= 1 / 6 + 1e-9
    assert abs(history[-1]["top1_ema"] - top1_of(ema, root, recipe.image_size)) <= 1 / 6 + 1e-9
    assert not torch.equal(raw.classifier.head.weight, ema.classifier.head.weight)  # the average lags the weights
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == history
    # resume from the per-epoch checkpoint with a longer schedule: the first two epochs are kept, one more runs
    longer = train_imagenet("vmamba-nano", root, tmp_path / "run", smoke_recipe(epochs=3, ema_decay=0.5), device="cpu",
                            resume=True, progress=False)
    assert [h["epoch"] for h in longer] == [1, 2, 3] and longer[:2] == history


def test_bad_inputs_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        train_imagenet("vmamba-nano", tmp_path / "absent", tmp_path / "run", smoke_recipe(), device="cpu")
    root = write_folder(tmp_path / "imagenet", train=1)
    with pytest.raises(InputError, match="fewer than one batch"):
        train_imagenet("vmamba-nano", root, tmp_path / "run", smoke_recipe(batch_size=8), device="cpu")
    (root / "val" / "n04").mkdir()
    (root / "val" / "n04" / "x.png").write_bytes((root / "val" / "n01").joinpath("n01_0.JPEG").read_bytes())
    with pytest.raises(InputError, match="different class folders"):
        train_imagenet("vmamba-nano", root, tmp_path / "run", smoke_recipe(), device="cpu")


def test_cli_runs_the_recipe(tmp_path):
    root = write_folder(tmp_path / "imagenet")
    res = CliRunner().invoke(main, ["vmamba", "imagenet", str(root), "--config", "vmamba-nano", "--epochs", "1",
                                    "--warmup-epochs", "0", "--batch-size", "4", "--image-size", "32", "--workers", "0",
                                    "--mixed-precision", "no", "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "val top-1" in res.output and (tmp_path / "run" / "model_ema" / "model.safetensors").is_file()
