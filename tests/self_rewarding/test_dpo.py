"""The DPO loss: against its formula written out, against TRL's numbers, and the sequence
log-probabilities it takes.

TRL is not a dependency, and trl 0.24-0.28 do not import beside transformers 5.x, so TRL's
numbers are data: `tests/fixtures/self_rewarding/` holds two tiny random Llama checkpoints,
six preference pairs and what TRL 0.24.0 computed for them (`make_trl_fixture.py` says how,
run once in a scratch venv with transformers 4.57.1)."""

import json
import math
from pathlib import Path

import pytest
import torch

from paperzoo.self_rewarding import dpo_loss
from paperzoo.self_rewarding.dpo import dpo_rewards, sequence_logps

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "self_rewarding"


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


def _fixture_batch(rows: list[dict], key: str) -> dict:
    """Our DPO batch layout (right-padded prompt + response, response_mask on the response) from TRL's token ids."""
    seqs = [r["prompt_ids"] + r[f"{key}_ids"] for r in rows]
    width = max(map(len, seqs))
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    att = torch.zeros((len(rows), width), dtype=torch.long)
    resp = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (r, seq) in enumerate(zip(rows, seqs)):
        ids[i, : len(seq)], att[i, : len(seq)] = torch.tensor(seq), 1
        resp[i, len(r["prompt_ids"]): len(seq)] = True
    return {"input_ids": ids, "attention_mask": att, "response_mask": resp}


def test_loss_logps_and_rewards_equal_trls():
    """TRL 0.24.0's DPOTrainer numbers (sigmoid loss, beta 0.1, a reference model), computed once in a
    scratch venv by tests/fixtures/self_rewarding/make_trl_fixture.py on two tiny random Llama
    checkpoints and six pairs, against ours on the same checkpoints (read by our policy loader)
    and the same token ids: per-pair summed log-probabilities, per-pair loss and rewards, the batch loss."""
    from paperzoo.self_rewarding.policy import load_policy
    from paperzoo.self_rewarding.train import dpo_batch_loss

    fixture = json.loads((FIXTURE / "trl_dpo.json").read_text())
    assert fixture["made_with"]["trl"] == "0.24.0" and fixture["loss_type"] == "sigmoid"
    rows, beta = fixture["rows"], fixture["beta"]
    policy, reference = load_policy(FIXTURE / "policy").model.eval(), load_policy(FIXTURE / "reference").model.eval()
    batch = {"chosen": _fixture_batch(rows, "chosen"), "rejected": _fixture_batch(rows, "rejected")}
    with torch.no_grad():
        logps = {(who, key): sequence_logps(model(input_ids=batch[key]["input_ids"],
                                                  attention_mask=batch[key]["attention_mask"]).logits,
                                            batch[key]["input_ids"], batch[key]["response_mask"])
                 for who, model in (("policy", policy), ("ref", reference)) for key in ("chosen", "rejected")}
        ours = dpo_batch_loss(policy, reference, batch, beta)  # the training path: chosen + rejected in one padded forward
    for (who, key), value in logps.items():
        assert value.tolist() == pytest.approx([r[f"{who}_{key}_logps"] for r in rows], abs=2e-5), (who, key)
    per_pair = torch.nn.functional.softplus(-beta * ((logps["policy", "chosen"] - logps["ref", "chosen"])
                                                     - (logps["policy", "rejected"] - logps["ref", "rejected"])))
    assert per_pair.tolist() == pytest.approx([r["loss"] for r in rows], abs=1e-6)
    loss = dpo_loss(logps["policy", "chosen"], logps["policy", "rejected"], logps["ref", "chosen"], logps["ref", "rejected"], beta)
    assert loss.item() == pytest.approx(fixture["batch_loss"], abs=1e-6)
    assert ours["loss"].item() == pytest.approx(fixture["batch_loss"], abs=1e-6)
    for key in ("chosen", "rejected"):
        rewards = dpo_rewards(logps["policy", key], logps["ref", key], beta)
        assert rewards.tolist() == pytest.approx([r[f"{key}_reward"] for r in rows], abs=2e-6)
    assert ours["reward_accuracy"].item() == pytest.approx(fixture["metrics"]["rewards/accuracies"])
    assert ours["reward_margin"].item() == pytest.approx(fixture["metrics"]["rewards/margins"], abs=2e-6)
    assert abs(fixture["batch_loss"] - math.log(2)) > 0.05  # the fixture is not the trivial policy = reference case


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
