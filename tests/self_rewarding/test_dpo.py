"""The DPO loss: against its formula written out, TRL's (where installed), and the
sequence log-probabilities it takes.

TRL is not a dependency (it pulls datasets, pandas and pyarrow), so CI skips the TRL
comparison; it passed with trl 0.24.0 + transformers 4.57.1 (2026-11-25). trl >= 0.29 has no
standalone `dpo_loss`, and trl 0.24-0.28 do not import beside transformers 5.x."""

import math

import pytest
import torch

from paperzoo.self_rewarding import dpo_loss
from paperzoo.self_rewarding.dpo import dpo_rewards, sequence_logps


def _written_out(pc, pr, rc, rr, beta):
    """-mean log σ(β[(log π(yw) - log ref(yw)) - (log π(yl) - log ref(yl))]), one row at a time."""
    total = 0.0
    for a, b, c, d in zip(pc.tolist(), pr.tolist(), rc.tolist(), rr.tolist()):
        z = beta * ((a - c) - (b - d))
        total += -math.log(1.0 / (1.0 + math.exp(-z)))
    return total / len(pc)


@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0])
def test_loss_equals_the_formula(beta):
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (torch.randn(16, generator=g, dtype=torch.float64) * 20 - 40 for _ in range(4))
    assert dpo_loss(pc, pr, rc, rr, beta).item() == pytest.approx(_written_out(pc, pr, rc, rr, beta), rel=1e-9)


def test_loss_is_log2_at_the_reference_and_finite_for_huge_margins():
    x = torch.tensor([-10.0, -3.0])
    assert dpo_loss(x, x, x, x).item() == pytest.approx(math.log(2))
    big = torch.tensor([1e5])
    assert dpo_loss(big, -big, torch.zeros(1), torch.zeros(1)).item() == pytest.approx(0.0, abs=1e-12)
    assert math.isfinite(dpo_loss(-big, big, torch.zeros(1), torch.zeros(1)).item())


def test_gradient_raises_chosen_and_lowers_rejected():
    pc, pr = torch.tensor([-5.0], requires_grad=True), torch.tensor([-5.0], requires_grad=True)
    dpo_loss(pc, pr, torch.tensor([-5.0]), torch.tensor([-5.0]), 0.1).backward()
    assert pc.grad.item() < 0 < pr.grad.item()
    assert pc.grad.item() == pytest.approx(-0.05)  # -β σ(0)
    assert dpo_rewards(torch.tensor([-4.0]), torch.tensor([-5.0]), 0.1).item() == pytest.approx(0.1)


def test_matches_trl_where_installed():
    trl = pytest.importorskip("trl")
    from types import SimpleNamespace

    from trl.trainer.dpo_trainer import DPOTrainer

    if not hasattr(DPOTrainer, "dpo_loss"):
        pytest.skip(f"trl {trl.__version__} computes the loss inline (no DPOTrainer.dpo_loss since 0.29)")
    g = torch.Generator().manual_seed(1)
    pc, pr, rc, rr = (torch.randn(8, generator=g) * 10 - 30 for _ in range(4))
    ns = SimpleNamespace(accelerator=SimpleNamespace(device="cpu"), beta=0.1, label_smoothing=0.0, reference_free=False,
                         f_divergence_type="reverse_kl", f_divergence_params={}, loss_type="sigmoid")
    try:
        losses = DPOTrainer.dpo_loss(ns, pc, pr, rc, rr, loss_type="sigmoid")[0]
    except TypeError:  # trl < 0.20 takes the loss type from the trainer only
        losses = DPOTrainer.dpo_loss(ns, pc, pr, rc, rr)[0]
    assert dpo_loss(pc, pr, rc, rr, 0.1).item() == pytest.approx(losses.mean().item(), rel=1e-6)


def test_sequence_logps_sum_only_response_tokens():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, generator=g)
    ids = torch.tensor([[1, 3, 4, 2, 0], [1, 5, 6, 6, 2]])
    resp = torch.tensor([[False, False, True, True, False], [False, True, True, True, True]])
    logp = torch.log_softmax(logits, -1)
    slow = []
    for b in range(2):
        slow.append(sum(logp[b, t - 1, ids[b, t]].item() for t in range(1, 5) if resp[b, t]))
    assert sequence_logps(logits, ids, resp).tolist() == pytest.approx(slow, rel=1e-6)
    mean = sequence_logps(logits, ids, resp, reduction="mean").tolist()
    assert mean == pytest.approx([slow[0] / 2, slow[1] / 4], rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        sequence_logps(logits, ids, resp, reduction="max")
