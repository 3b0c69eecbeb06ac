"""The shared training loop: it learns, checkpoints atomically, and resumes exactly."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.errors import CheckpointError
from paperzoo.core.schedule import warmup_cosine
from paperzoo.core.trainer import Trainer, make_accelerator


@dataclass(frozen=True)
class RegConfig:
    dim: int = 4


class Reg(PretrainedMixin, nn.Module):
    config_class = RegConfig

    def __init__(self, config: RegConfig):
        super().__init__()
        self.config = config
        self.lin = nn.Linear(config.dim, 1)


TRUE_W = torch.tensor([[1.0, -2.0, 0.5, 3.0]])


def batch_fn(step: int) -> dict:
    g = torch.Generator().manual_seed(step)
    x = torch.randn(32, 4, generator=g)
    return {"x": x, "y": x @ TRUE_W.T}


def loss_fn(model, batch):
    return {"loss": (model.lin(batch["x"]) - batch["y"]).pow(2).mean()}


def make_trainer(out, checkpoint_every=0):
    torch.manual_seed(0)
    model = Reg(RegConfig())
    opt = torch.optim.Adam(model.parameters(), lr=0.3)
    sched = warmup_cosine(opt, 5, 60)
    return Trainer(model, opt, sched, out, accelerator=make_accelerator("cpu"), checkpoint_every=checkpoint_every, progress=False)


def test_trainer_learns_and_saves(tmp_path):
    trainer = make_trainer(tmp_path)
    history = trainer.fit(batch_fn, loss_fn, 60)
    assert history[-1]["loss"] < 0.05 * history[0]["loss"]
    path = trainer.save_final()
    loaded = Reg.from_pretrained(path)
    assert torch.allclose(loaded.lin.weight, trainer.unwrapped.lin.weight)
    assert (tmp_path / "history.json").is_file()


def test_resume_matches_uninterrupted_run(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit(batch_fn, loss_fn, 40)

    def interrupted(step):
        if step == 25:
            raise KeyboardInterrupt  # killed after step 25; the last checkpoint is at 20
        return batch_fn(step)

    first = make_trainer(tmp_path / "split", checkpoint_every=20)
    with pytest.raises(KeyboardInterrupt):
        first.fit(interrupted, loss_fn, 40)
    second = make_trainer(tmp_path / "split", checkpoint_every=20)
    second.fit(batch_fn, loss_fn, 40, resume=True)
    assert second.step == 40
    for a, b in zip(full.unwrapped.parameters(), second.unwrapped.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert [r["step"] for r in second.history] == [r["step"] for r in full.history]


def test_corrupt_resume_state_is_named(tmp_path):
    trainer = make_trainer(tmp_path, checkpoint_every=5)
    trainer.fit(batch_fn, loss_fn, 6)
    (tmp_path / "checkpoint" / "trainer_state.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="trainer_state.pt"):
        make_trainer(tmp_path).fit(batch_fn, loss_fn, 10, resume=True)


def test_warmup_cosine_shape():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_cosine(opt, 10, 110)
    lrs = []
    for _ in range(110):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.5, abs=0.02) and lrs[-1] < 0.01
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


class TiedPlain(nn.Module):
    """A model without our save_pretrained, with tied weights (what a HF save would de-duplicate)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Linear(4, 4, bias=False)
        self.head = nn.Linear(4, 4, bias=False)
        self.head.weight = self.emb.weight
        self.lin = nn.Linear(4, 1)

    def forward(self, x):
        return self.lin(self.head(self.emb(x)))


def test_whole_state_resumes_a_plain_model_with_tied_weights(tmp_path):
    """WholeState saves every tensor of a plain (tied) model in one file; resume restores it exactly."""
    from paperzoo.core.trainer import WholeState

    def trainer(out, every=0):
        torch.manual_seed(0)
        model = WholeState(TiedPlain())
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        return Trainer(model, opt, warmup_cosine(opt, 2, 30), out, accelerator=make_accelerator("cpu"),
                       checkpoint_every=every, progress=False)

    def loss(model, batch):
        return {"loss": (model(batch["x"]) - batch["y"]).pow(2).mean()}

    full = trainer(tmp_path / "full")
    full.fit(batch_fn, loss, 30)

    def interrupted(step):
        if step == 17:
            raise KeyboardInterrupt
        return batch_fn(step)

    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "split", 10).fit(interrupted, loss, 30)
    second = trainer(tmp_path / "split", 10)
    second.fit(batch_fn, loss, 30, resume=True)
    inner = second.unwrapped.inner
    assert inner.head.weight is inner.emb.weight  # still tied after loading the checkpoint
    for a, b in zip(full.unwrapped.parameters(), second.unwrapped.parameters()):
        assert torch.equal(a, b)
