"""The retriever loss (ours, card §2 "Proposed"): InfoNCE over dot-product scores with in-batch
negatives, optionally same-document hard negatives; checked against the per-sample formula."""

import math

import numpy as np
import pytest
import torch

from paperzoo.chatqa.config import RetrievalRecipe
from paperzoo.chatqa.contrastive import candidate_batch, info_nce
from paperzoo.core.errors import ConfigError, InputError


def _formula(q, c, positive, tau):
    """L = 1/B Σ_i [ -s(q_i, c_p(i))/τ + log Σ_j exp(s(q_i, c_j)/τ) ], s = dot product, written out."""
    total = 0.0
    for i in range(len(q)):
        s = [sum(float(a) * float(b) for a, b in zip(q[i], c[j])) / tau for j in range(len(c))]
        total += -s[positive[i]] + math.log(sum(math.exp(x) for x in s))
    return total / len(q)


@pytest.mark.parametrize("tau", [1.0, 0.05])
def test_info_nce_equals_the_per_sample_formula(tau):
    g = torch.Generator().manual_seed(0)
    q, c = torch.randn(4, 6, generator=g), torch.randn(7, 6, generator=g)
    positive = torch.tensor([0, 1, 2, 3])
    assert math.isclose(float(info_nce(q, c, positive, tau)), _formula(q, c, positive, tau), rel_tol=1e-5)
    # the same as a log-softmax over each row of the score matrix
    want = -torch.log_softmax(q @ c.T / tau, dim=1)[torch.arange(4), positive].mean()
    assert torch.allclose(info_nce(q, c, positive, tau), want, atol=1e-6)
    with pytest.raises(ConfigError):
        info_nce(q, c, positive, 0.0)


def test_info_nce_gradient_check():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(3, 4, generator=g, dtype=torch.double, requires_grad=True)
    c = torch.randn(5, 4, generator=g, dtype=torch.double, requires_grad=True)
    positive = torch.tensor([2, 0, 4])
    # info_nce casts scores to float32 for mixed precision; check the formula in float64 here
    f = lambda q, c: torch.nn.functional.cross_entropy(q @ c.T / 0.5, positive)  # noqa: E731
    assert torch.autograd.gradcheck(f, (q, c))
    loss = info_nce(q, c, positive, 0.5)
    loss.backward()
    # d/dq_i = (Σ_j p_ij c_j - c_p(i)) / (B τ)
    p = torch.softmax((q @ c.T).detach() / 0.5, dim=1)
    want = (p @ c.detach() - c.detach()[positive]) / (3 * 0.5)
    assert torch.allclose(q.grad, want, atol=1e-5)


CHUNKS = {  # id -> (document, text)
    "e1/0": ("e1", "mira is a city ."), "e1/1": ("e1", "mira is blue ."), "e1/2": ("e1", "mira is big ."),
    "e2/0": ("e2", "tovo is a city ."), "e2/1": ("e2", "tovo is red ."),
}


def test_inbatch_candidates_are_the_gold_chunks_deduplicated():
    pairs = [("what is mira ?", "e1/0"), ("what is tovo ?", "e2/0"), ("is mira a city ?", "e1/0")]
    b = candidate_batch(pairs, CHUNKS, "inbatch")
    assert b.candidate_ids == ["e1/0", "e2/0"] and b.positive == [0, 1, 0]  # one column per chunk
    assert b.candidates == ["mira is a city .", "tovo is a city ."]
    with pytest.raises(InputError):
        candidate_batch([("q", "e9/0")], CHUNKS)
    with pytest.raises(ConfigError):
        candidate_batch(pairs, CHUNKS, "hard")
    with pytest.raises(ConfigError):
        RetrievalRecipe(negatives="bm25")


def test_same_document_negatives_enter_the_denominator():
    pairs = [("what is mira ?", "e1/0"), ("what is tovo ?", "e2/0")]
    b = candidate_batch(pairs, CHUNKS, "inbatch+samedoc", per_query=2, rng=np.random.default_rng(0))
    assert b.candidate_ids[:2] == ["e1/0", "e2/0"] and b.positive == [0, 1]
    assert set(b.candidate_ids[2:]) == {"e1/1", "e1/2", "e2/1"}  # every other chunk of each gold document
    one = candidate_batch(pairs, CHUNKS, "inbatch+samedoc", per_query=1, rng=np.random.default_rng(0))
    extra = one.candidate_ids[2:]
    assert len(extra) == 2 and CHUNKS[extra[0]][0] == "e1" and CHUNKS[extra[1]][0] == "e2"
    # the loss with the hard negatives is the formula over all N candidates, and larger than the
    # in-batch loss (more terms in each denominator)
    g = torch.Generator().manual_seed(2)
    q, c = torch.randn(2, 3, generator=g), torch.randn(len(b.candidate_ids), 3, generator=g)
    pos = torch.tensor(b.positive)
    with_hard = info_nce(q, c, pos)
    assert math.isclose(float(with_hard), _formula(q, c, pos, 1.0), rel_tol=1e-5)
    assert float(with_hard) > float(info_nce(q, c[:2], pos))
