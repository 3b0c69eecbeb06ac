"""SPARC losses (Eqs. 1-7) and the FILIP baseline against slow literal references (card §7)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from paperzoo.core.errors import InputError
from paperzoo.sparc.filip import filip_loss, filip_pairwise_similarity
from paperzoo.sparc.losses import (
    alignment_weights,
    fine_grained_loss,
    global_loss,
    kept_patches,
    language_grouped_embeddings,
    sparc_loss,
)

F64 = torch.float64


# ---------------------------------------------------------------------------------------
# Slow references: per sample, per token, per patch, written straight from the equations.
# ---------------------------------------------------------------------------------------


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def ref_weights_row(s: list[float], weighting: str, sigma: float | None, eps: float) -> list[float]:
    """Eqs. 2-4 (or softmax) for one token's similarities to the P patches."""
    P = len(s)
    if weighting == "softmax":
        z = _logsumexp(s)
        return [math.exp(x - z) for x in s]
    sig = 1.0 / P if sigma is None else sigma
    mn, mx = min(s), max(s)
    s_hat = [(x - mn) / (mx - mn + eps) for x in s]  # Eq. 2
    s_tilde = [x if x >= sig else 0.0 for x in s_hat]  # Eq. 3
    total = sum(s_tilde)
    if total == 0.0:
        return [1.0 / P] * P  # flat row / nothing kept -> uniform
    return [x / total for x in s_tilde]  # Eq. 4


def ref_per_sample_token_losses(v, t, mask, scale, weighting="sparse", sigma=None, eps=1e-8):
    """For each sample, the list of per-token losses -(log p_c2t + log p_t2c) of Eq. 6."""
    B, P, _ = v.shape
    out = []
    for i in range(B):
        idx = [l for l in range(t.shape[1]) if bool(mask[i, l])]
        cs = []
        for l in idx:
            s = [float(torch.dot(t[i, l], v[i, p])) for p in range(P)]
            a = ref_weights_row(s, weighting, sigma, eps)
            cs.append(sum(a[p] * v[i, p] for p in range(P)))  # Eq. 5
        cn = [c / c.norm() for c in cs]
        tn = [t[i, l] / t[i, l].norm() for l in idx]
        losses = []
        for j in range(len(idx)):
            row = [scale * float(torch.dot(cn[j], tn[k])) for k in range(len(idx))]
            col = [scale * float(torch.dot(tn[j], cn[k])) for k in range(len(idx))]
            losses.append(-((row[j] - _logsumexp(row)) + (col[j] - _logsumexp(col))))
        out.append(losses)
    return out


def ref_fine_loss(v, t, mask, scale, reduction, **kw) -> float:
    per = ref_per_sample_token_losses(v, t, mask, scale, **kw)
    B = len(per)
    if reduction == "sample":  # Eq. 6, empty captions contribute 0 and count in B
        return sum(sum(ls) / len(ls) for ls in per if ls) / (2 * B)
    n = sum(len(ls) for ls in per)
    return sum(sum(ls) for ls in per) / (2 * n) if n else 0.0


def ref_global_loss(vg, tg, scale) -> float:
    B = vg.shape[0]
    cos = [[float(torch.dot(vg[i], tg[j]) / (vg[i].norm() * tg[j].norm())) for j in range(B)] for i in range(B)]
    total = 0.0
    for i in range(B):
        row = [scale * cos[i][j] for j in range(B)]
        col = [scale * cos[j][i] for j in range(B)]
        total += (row[i] - _logsumexp(row)) + (col[i] - _logsumexp(col))
    return -total / (2 * B)  # Eq. 1


def ref_filip(v, t, mask):
    B, P, _ = v.shape
    s_i2t = torch.zeros(B, B, dtype=v.dtype)
    s_t2i = torch.zeros(B, B, dtype=v.dtype)
    for i in range(B):
        for j in range(B):
            idx = [l for l in range(t.shape[1]) if bool(mask[j, l])]
            cos = [[float(torch.dot(v[i, p], t[j, l]) / (v[i, p].norm() * t[j, l].norm())) for l in idx] for p in range(P)]
            s_i2t[i, j] = sum(max(row) for row in cos) / P
            s_t2i[j, i] = sum(max(cos[p][k] for p in range(P)) for k in range(len(idx))) / len(idx)
    return s_i2t, s_t2i


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------


def make_batch(lengths, P=9, d=8, L=None, seed=0, pad_value=None):
    g = torch.Generator().manual_seed(seed)
    B, L = len(lengths), L or max(max(lengths), 1)
    v = torch.randn(B, P, d, generator=g, dtype=F64)
    t = torch.randn(B, L, d, generator=g, dtype=F64)
    mask = torch.arange(L)[None, :] < torch.tensor(lengths)[:, None]
    # pads hold junk: the loss must never look at it
    junk = 100 * torch.randn(B, L, d, generator=g, dtype=F64) if pad_value is None else torch.full_like(t, pad_value)
    t = torch.where(mask[..., None], t, junk)
    return v, t, mask


LENGTHS = [[6, 3, 1, 4], [5, 0, 2, 6]]
WEIGHTINGS = [("sparse", None), ("sparse", 0.0), ("softmax", None)]


# ---------------------------------------------------------------------------------------
# Reference equality (card §7)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("weighting,sigma", WEIGHTINGS)
@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_fine_grained_loss_matches_loop(lengths, weighting, sigma, reduction):
    v, t, mask = make_batch(lengths)
    scale = 7.0
    got = fine_grained_loss(v, t, mask, scale, local_reduction=reduction, weighting=weighting, sigma=sigma)
    want = ref_fine_loss(v, t, mask, scale, reduction, weighting=weighting, sigma=sigma)
    assert got.shape == ()
    assert abs(float(got) - want) < 1e-6
    assert want > 0.1  # the comparison is not between two zeros


def test_global_loss_matches_loop_and_normalises_inside():
    g = torch.Generator().manual_seed(1)
    vg, tg = torch.randn(5, 8, generator=g, dtype=F64), torch.randn(5, 8, generator=g, dtype=F64)
    got = global_loss(3 * vg, tg, torch.tensor(4.0, dtype=F64))
    assert abs(float(got) - ref_global_loss(vg, tg, 4.0)) < 1e-10
    assert float(global_loss(vg[:1], tg[:1], 10.0)) == 0.0  # B = 1: the positive is the only candidate


def test_weights_and_grouping_match_loop():
    v, t, mask = make_batch([4, 2], P=7)
    s = torch.einsum("bld,bpd->blp", t, v)
    a = alignment_weights(s, mask)
    for i in range(2):
        for l in range(4):
            want = ref_weights_row(s[i, l].tolist(), "sparse", None, 1e-8) if mask[i, l] else [0.0] * 7
            torch.testing.assert_close(a[i, l], torch.tensor(want, dtype=F64))
    c = language_grouped_embeddings(v, a)
    torch.testing.assert_close(c[1, 1], sum(a[1, 1, p] * v[1, p] for p in range(7)))


# ---------------------------------------------------------------------------------------
# Weights (card §7, §10)
# ---------------------------------------------------------------------------------------


def test_sparse_weights_properties():
    g = torch.Generator().manual_seed(2)
    s = torch.randn(3, 5, 16, generator=g, dtype=F64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    a = alignment_weights(s, mask)
    assert (a >= 0).all()
    torch.testing.assert_close(a.sum(-1)[mask], torch.ones(int(mask.sum()), dtype=F64))
    assert (a[~mask] == 0).all()
    am = a[mask]
    sm = s[mask]
    assert (am.gather(-1, sm.argmax(-1, keepdim=True)) > 0).all()  # the argmax patch survives
    assert (am.gather(-1, sm.argmin(-1, keepdim=True)) == 0).all()  # the argmin patch is dropped
    assert ((am > 0).sum(-1) < 16).all()  # sparse: sigma = 1/P drops more than just the argmin here
    k = kept_patches(a, mask)
    assert float(k) == pytest.approx(float((am > 0).sum(-1).double().mean()))


def test_threshold_keeps_scores_equal_to_sigma():
    # Eq. 3 keeps s_hat >= sigma: with eps = 0 and exact binary fractions s_hat = s here
    s = torch.tensor([[[0.0, 0.25, 1.0, 0.5]]], dtype=F64)
    a = alignment_weights(s, eps=0.0)  # sigma = 1/P = 0.25
    torch.testing.assert_close(a, torch.tensor([[[0.0, 0.25, 1.0, 0.5]]], dtype=F64) / 1.75)


@pytest.mark.parametrize("weighting,sigma", [("softmax", None), ("sparse", 0.0)])
def test_ablation_weights_are_distributions(weighting, sigma):
    s = torch.randn(2, 3, 10, dtype=F64)
    a = alignment_weights(s, weighting=weighting, sigma=sigma)
    assert (a >= 0).all()
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 3, dtype=F64))
    if weighting == "sparse":  # no sparsity: everything but the argmin is kept
        assert ((a > 0).sum(-1) == 9).all()
    else:
        assert (a > 0).all()


def test_flat_rows_are_uniform_with_finite_gradients():
    s = torch.randn(1, 3, 6, dtype=F64)
    s[0, 1] = 0.25  # flat row: max == min
    s.requires_grad_(True)
    a = alignment_weights(s)
    torch.testing.assert_close(a[0, 1], torch.full((6,), 1 / 6, dtype=F64))
    (a * torch.randn_like(a)).sum().backward()
    assert torch.isfinite(s.grad).all()
    # sigma = 1 lies above every s_hat (the argmax gets r / (r + eps) < 1): all rows fall back too
    torch.testing.assert_close(alignment_weights(s.detach(), sigma=1.0), torch.full((1, 3, 6), 1 / 6, dtype=F64))

    # Blank image: identical patches give flat rows for every token, through the full loss.
    v, t, mask = make_batch([4, 3])
    v[0] = v[0, :1].expand_as(v[0])
    v.requires_grad_(True)
    t.requires_grad_(True)
    loss = fine_grained_loss(v, t, mask, 5.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(v.grad).all() and torch.isfinite(t.grad).all()
    s_full = torch.einsum("bld,bpd->blp", t.detach(), v.detach())
    assert float(kept_patches(alignment_weights(s_full[:1], mask[:1]), mask[:1])) == 9.0


# ---------------------------------------------------------------------------------------
# Batch independence, pad invariance, equivariance (card §7)
# ---------------------------------------------------------------------------------------


def test_batch_is_mean_of_single_samples():
    lengths = [6, 3, 1, 0, 4]
    v, t, mask = make_batch(lengths, seed=3)
    singles = [fine_grained_loss(v[i : i + 1], t[i : i + 1], mask[i : i + 1], 6.0, local_reduction="sample") for i in range(5)]
    batch = fine_grained_loss(v, t, mask, 6.0, local_reduction="sample")
    torch.testing.assert_close(batch, torch.stack(singles).mean())
    # token reduction: the token-weighted mean of the single-sample means
    singles_tok = [fine_grained_loss(v[i : i + 1], t[i : i + 1], mask[i : i + 1], 6.0) for i in range(5)]
    batch_tok = fine_grained_loss(v, t, mask, 6.0)
    weighted = sum(float(s) * n for s, n in zip(singles_tok, lengths)) / sum(lengths)
    assert float(batch_tok) == pytest.approx(weighted, abs=1e-12)


@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_sample_gradients_ignore_other_samples(reduction):
    v, t, mask = make_batch([5, 4, 3, 2], seed=4)

    def grads(v, t):
        v, t = v.clone().requires_grad_(True), t.clone().requires_grad_(True)
        fine_grained_loss(v, t, mask, 6.0, local_reduction=reduction).backward()
        return v.grad[0], t.grad[0]

    v2, t2, _ = make_batch([5, 4, 3, 2], seed=5)
    v2[0], t2[0] = v[0], t[0]  # same first sample, every other sample changed
    for a, b in zip(grads(v, t), grads(v2, t2)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_pad_invariance(reduction):
    v, t, mask = make_batch([6, 3, 1, 4], seed=6)
    base = fine_grained_loss(v, t, mask, 6.0, local_reduction=reduction)
    # other pad contents, including non-finite ones
    t_nan = torch.where(mask[..., None], t, torch.nan)
    t_nan.requires_grad_(True)
    loss_nan = fine_grained_loss(v, t_nan, mask, 6.0, local_reduction=reduction)
    torch.testing.assert_close(loss_nan, base)
    loss_nan.backward()
    assert torch.isfinite(t_nan.grad).all() and (t_nan.grad[~mask] == 0).all()
    # longer padding
    t_long = torch.cat([t, torch.randn(4, 3, 8, dtype=F64)], dim=1)
    mask_long = torch.cat([mask, torch.zeros(4, 3, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(fine_grained_loss(v, t_long, mask_long, 6.0, local_reduction=reduction), base)


def test_patch_permutation_equivariance():
    v, t, mask = make_batch([6, 3, 1, 4], seed=7)
    perm = torch.randperm(9)
    torch.testing.assert_close(fine_grained_loss(v[:, perm], t, mask, 6.0), fine_grained_loss(v, t, mask, 6.0))
    s = torch.einsum("bld,bpd->blp", t, v)
    s_perm = torch.einsum("bld,bpd->blp", t, v[:, perm])
    torch.testing.assert_close(alignment_weights(s_perm, mask), alignment_weights(s, mask)[..., perm])


# ---------------------------------------------------------------------------------------
# Degenerate cases (card §7)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_single_token_captions_give_zero(reduction):
    v, t, mask = make_batch([1, 1, 1], seed=8, L=4)
    assert float(fine_grained_loss(v, t, mask, 50.0, local_reduction=reduction)) == 0.0


@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_all_pad_samples_are_finite(reduction):
    v, t, mask = make_batch([0, 3], seed=9)
    v.requires_grad_(True)
    loss = fine_grained_loss(v, t, mask, 6.0, local_reduction=reduction)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(v.grad).all() and (v.grad[0] == 0).all()
    # a batch with no valid token at all
    v0, t0, m0 = make_batch([0, 0], seed=9, L=3)
    v0.requires_grad_(True)
    loss0 = fine_grained_loss(v0, t0, m0, 6.0, local_reduction=reduction)
    loss0.backward()
    assert float(loss0.detach()) == 0.0 and (v0.grad == 0).all()


# ---------------------------------------------------------------------------------------
# Gradients (card §7)
# ---------------------------------------------------------------------------------------


def _inputs_away_from_ties(lengths, P, d, margin=1e-3):
    """Seeded inputs whose min-max scores stay clear of sigma = 1/P and of max/min ties."""
    for seed in range(200):
        v, t, mask = make_batch(lengths, P=P, d=d, seed=seed)
        s = torch.einsum("bld,bpd->blp", t, v)[mask]
        srt = s.sort(-1).values
        s_hat = (s - srt[:, :1]) / (srt[:, -1:] - srt[:, :1])
        gaps_ok = (srt[:, 1] - srt[:, 0] > margin).all() and (srt[:, -1] - srt[:, -2] > margin).all()
        if gaps_ok and ((s_hat - 1 / P).abs() > margin).all():
            return v, t, mask
    raise AssertionError("no tie-free seed found")


@pytest.mark.parametrize(
    "reduction,weighting", [("token", "sparse"), ("sample", "sparse"), ("token", "softmax")]
)
def test_gradcheck_fine_grained_loss(reduction, weighting):
    v, t, mask = _inputs_away_from_ties([4, 2, 1], P=5, d=3)
    t = torch.where(mask[..., None], t, 0.0)  # gradcheck perturbs pads too; keep them tame
    scale = torch.tensor(3.0, dtype=F64, requires_grad=True)
    v.requires_grad_(True)
    t.requires_grad_(True)
    f = lambda v, t, scale: fine_grained_loss(v, t, mask, scale, local_reduction=reduction, weighting=weighting)  # noqa: E731
    assert torch.autograd.gradcheck(f, (v, t, scale))


def test_gradcheck_global_loss():
    g = torch.Generator().manual_seed(10)
    vg = torch.randn(4, 5, generator=g, dtype=F64, requires_grad=True)
    tg = torch.randn(4, 5, generator=g, dtype=F64, requires_grad=True)
    scale = torch.tensor(2.5, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(global_loss, (vg, tg, scale))


# ---------------------------------------------------------------------------------------
# Eq. 7 and the CLIP baseline
# ---------------------------------------------------------------------------------------


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_sparc_loss_combines_and_clip_baseline_skips_fine():
    v, t, mask = make_batch([6, 3, 1, 4], seed=11)
    vg, tg = v.mean(1), t.sum(1)
    scale = torch.tensor(5.0, dtype=F64, requires_grad=True)
    out = sparc_loss(vg, tg, v, t, mask, scale, lambda_global=0.5, lambda_fine=2.0, local_reduction="sample")
    torch.testing.assert_close(out["global"], global_loss(vg, tg, scale))
    torch.testing.assert_close(out["fine"], fine_grained_loss(v, t, mask, scale, local_reduction="sample"))
    torch.testing.assert_close(out["loss"], 0.5 * out["global"] + 2.0 * out["fine"])
    out["loss"].backward()
    assert scale.grad is not None and float(scale.grad) != 0.0

    clip = sparc_loss(vg, tg, v, t, mask, 5.0, lambda_fine=0.0)
    assert float(clip["fine"]) == 0.0 and not clip["fine"].requires_grad
    assert _flops(lambda: sparc_loss(vg, tg, v, t, mask, 5.0, lambda_fine=0.0)) == _flops(lambda: global_loss(vg, tg, 5.0))


# ---------------------------------------------------------------------------------------
# FILIP baseline and the FLOP scaling (card §7-8)
# ---------------------------------------------------------------------------------------


def test_filip_matches_loop():
    v, t, mask = make_batch([5, 2, 1, 4], P=6, seed=12)
    s_i2t, s_t2i = filip_pairwise_similarity(v, t, mask)
    r_i2t, r_t2i = ref_filip(v, t, mask)
    torch.testing.assert_close(s_i2t, r_i2t)
    torch.testing.assert_close(s_t2i, r_t2i)
    scale = 4.0
    targets = range(4)
    want = -0.5 * sum(
        (scale * r_i2t[i, i] - _logsumexp((scale * r_i2t[i]).tolist()))
        + (scale * r_t2i[i, i] - _logsumexp((scale * r_t2i[i]).tolist()))
        for i in targets
    ) / 4
    assert float(filip_loss(v, t, mask, scale)) == pytest.approx(float(want), abs=1e-10)


def test_flops_linear_for_sparc_quadratic_for_filip():
    L, P, d = 12, 36, 64  # the tiny config of card §5

    def batch(B):
        return make_batch([L] * B, P=P, d=d, L=L, seed=13)

    def fine(B):
        v, t, m = batch(B)
        return _flops(lambda: fine_grained_loss(v, t, m, 10.0))

    def filip(B):
        v, t, m = batch(B)
        return _flops(lambda: filip_loss(v, t, m, 10.0))

    per_sample = fine(1)
    assert fine(4) == 4 * per_sample and fine(16) == 16 * per_sample  # constant per sample
    analytic = 4 * L * P * d + 2 * L * L * d
    assert 0.5 * analytic <= per_sample <= 2 * analytic
    # FILIP: 2 B^2 L P d, so x4 the batch is ~x16 the FLOPs
    assert filip(16) / filip(4) > 14


# ---------------------------------------------------------------------------------------
# Boundary validation
# ---------------------------------------------------------------------------------------


def test_input_error_is_value_error():
    assert issubclass(InputError, ValueError)


@pytest.mark.parametrize(
    "case,name",
    [
        ("b_mismatch", "t_tokens"),
        ("d_mismatch", "t_tokens"),
        ("mask_dtype", "token_mask"),
        ("mask_shape", "token_mask"),
        ("v_ndim", "v_patches"),
        ("weighting", "weighting"),
        ("reduction", "local_reduction"),
        ("scale", "logit_scale"),
        ("sigma", "sigma"),
    ],
)
def test_fine_grained_loss_validation(case, name):
    v, t, mask = make_batch([3, 2])
    kw = {}
    if case == "b_mismatch":
        t = t[:1]
        mask = mask[:1]
    elif case == "d_mismatch":
        t = t[..., :5]
    elif case == "mask_dtype":
        mask = mask.float()
    elif case == "mask_shape":
        mask = mask[:, :2]
    elif case == "v_ndim":
        v = v[0]
    elif case == "weighting":
        kw = {"weighting": "hard"}
    elif case == "reduction":
        kw = {"local_reduction": "batch"}
    elif case == "sigma":
        kw = {"weighting": "softmax", "sigma": 0.1}
    scale = torch.ones(2, dtype=F64) if case == "scale" else 1.0
    with pytest.raises(InputError, match=name):
        fine_grained_loss(v, t, mask, scale, **kw)


def test_other_validation():
    with pytest.raises(InputError, match="t_global"):
        global_loss(torch.randn(3, 4), torch.randn(2, 4), 1.0)
    with pytest.raises(InputError, match="similarity"):
        alignment_weights(torch.randn(3, 4))
    with pytest.raises(InputError, match=r"weights.*\(B, L, P\)"):
        language_grouped_embeddings(torch.randn(2, 5, 3), torch.randn(2, 4, 6))
    v, t, mask = make_batch([3, 2])
    with pytest.raises(InputError, match="local_reduktion"):
        sparc_loss(v.mean(1), t.mean(1), v, t, mask, 1.0, local_reduktion="token")


def test_the_objective_is_invariant_to_permuting_a_captions_tokens():
    """L_f contrasts a token's grouped embedding with the same caption's other tokens, and L_g
    sees the tokens' mean: shuffling the token embeddings within each caption leaves Eq. 7
    unchanged, on any world. So the loss alone cannot say which word owns which patch group;
    only the data can (a word recurring at varied slots: `paperzoo.world.captions`). Shuffling
    across captions (a token moved to another caption) does change it."""
    from paperzoo.sparc.losses import fine_grained_loss, global_loss

    g = torch.Generator().manual_seed(0)
    B, L, P, d = 4, 6, 9, 8
    v_patches, t_tokens = torch.randn(B, P, d, generator=g), torch.randn(B, L, d, generator=g)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[1, 4:] = False

    def total(t):
        t_global = (t * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return 0.5 * global_loss(v_patches.mean(1), t_global, logit_scale=10.0) + fine_grained_loss(
            v_patches, t, mask, logit_scale=10.0)

    shuffled = t_tokens.clone()
    for b in range(B):
        real = mask[b].nonzero().flatten()
        shuffled[b, real] = t_tokens[b, real[torch.randperm(len(real), generator=g)]]
    assert not torch.equal(shuffled, t_tokens)
    torch.testing.assert_close(total(shuffled), total(t_tokens), rtol=1e-6, atol=1e-6)
    across = t_tokens.clone()
    across[0, 0], across[2, 0] = t_tokens[2, 0], t_tokens[0, 0]
    assert abs(float(total(across) - total(t_tokens))) > 1e-4
