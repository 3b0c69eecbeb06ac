r"""
# SPARC objective: the global loss and the sparse fine-grained loss

Bica et al., *Improving fine-grained understanding in image-text pre-training* (SPARC),
arXiv 2401.09865, Section 3 (Eqs. 1-7) and the App. C pseudo-code.

Notation. A batch holds $B$ image-text pairs. Pair $i$ has $P$ patch embeddings $v_{ip}$
and $L_i$ token embeddings $t_{il}$ (padding excluded), both already mapped by the linear
adaptors $g_v, g_t$ into a shared width $d$. $\bar v_i, \bar t_i$ are the global embeddings,
$\phi$ is cosine similarity and $\tau$ the learned temperature. Every function here takes
`logit_scale` $= 1/\tau$: a float, or a 0-d tensor that receives gradients.

**Global loss (Eq. 1)**, CLIP's symmetric InfoNCE over the batch:

$$L_g = -\frac{1}{2B}\sum_{i=1}^{B}\Big(
  \log\frac{e^{\phi(\bar v_i,\bar t_i)/\tau}}{\sum_j e^{\phi(\bar v_i,\bar t_j)/\tau}}
+ \log\frac{e^{\phi(\bar t_i,\bar v_i)/\tau}}{\sum_j e^{\phi(\bar t_i,\bar v_j)/\tau}}\Big)  \tag{1}$$

**Alignment weights (Eqs. 2-4)**, inside one pair, from the raw dot products
$s_{lp} = t_l \cdot v_p$ of the *un-normalised* embeddings:

$$\hat s_{lp} = \frac{s_{lp} - \min_k s_{lk}}{\max_k s_{lk} - \min_k s_{lk} + \epsilon} \tag{2}$$
$$\tilde s_{lp} = \hat s_{lp} \text{ if } \hat s_{lp} \ge \sigma \text{ else } 0, \qquad \sigma = 1/P \tag{3}$$
$$a_{lp} = \tilde s_{lp} \Big/ \textstyle\sum_r \tilde s_{lr} \tag{4}$$

**Language-grouped vision embeddings (Eq. 5)**: $c_l = \sum_p a_{lp} v_p$.

**Fine-grained loss (Eq. 6)**: each $c_{ij}$ is contrasted with the tokens of the *same*
caption only, so there is no $B \times B$ term and no cross-device communication:

$$L_f = -\frac{1}{2B}\sum_{i}\frac{1}{L_i}\sum_{j=1}^{L_i}\Big(
  \log\frac{e^{\phi(c_{ij},t_{ij})/\tau}}{\sum_k e^{\phi(c_{ij},t_{ik})/\tau}}
+ \log\frac{e^{\phi(t_{ij},c_{ij})/\tau}}{\sum_k e^{\phi(t_{ij},c_{ik})/\tau}}\Big) \tag{6}$$

**Total (Eq. 7)**: $L = \lambda_g L_g + \lambda_f L_f$, with $\lambda_g = 0.5$ in the paper.

Cost per pair: $2LPd$ for $s$, $2LPd$ for $c$ and $2L^2d$ for the token logits, i.e.
$4LPd + 2L^2d$ FLOPs, constant in $B$ (card §7; `filip.py` is the all-pairs contrast).

## Decisions where the paper leaves room

* `local_reduction="token"` (default) is the App. C pseudo-code: the per-token losses of all
  valid tokens of the batch are summed and divided by their count (a token-weighted mean),
  then the two directions are averaged. `"sample"` is Eq. 6 literally; its $B$ is the full
  batch size and a caption with $L_i = 0$ contributes its empty sum, 0. That keeps
  "batch loss = mean of single-pair losses" true for every batch. A batch with no valid
  token at all gives 0 under either reduction.
* $\epsilon$ sits in the Eq. 2 denominator as the card asks. A row with nothing left after
  Eq. 3 (a flat row, $\max = \min$, e.g. a blank image, or $\sigma$ above every $\hat s$)
  falls back to uniform weights $1/P$, through `torch.where` on safe denominators so that
  neither values nor gradients become NaN.
* `weighting="softmax"` (the App. A / Table 8 ablation) is $a_{lp} = \mathrm{softmax}_p(s_{lp})$
  on the raw dot products, i.e. temperature 1: the paper names no temperature for it, and
  raw similarities are the literal reading of "replace Eqs. 2-4 by a softmax".
  `sigma=0.0` with `weighting="sparse"` is the "no sparsity" ablation.
* Pad tokens are zeroed on entry, so nothing at a pad position (even inf/NaN) reaches the
  loss or its gradients; pad rows get all-zero weights and pad columns logit $-\infty$.
* No stop-gradient anywhere (as in the paper): gradients flow through min, max, the kept
  entries and the weights. `logit_scale` is used as given; clamping it at 100 is the model's job.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import einsum
from torch import Tensor

from paperzoo.core.errors import InputError

__all__ = [
    "global_loss",
    "alignment_weights",
    "language_grouped_embeddings",
    "fine_grained_loss",
    "sparc_loss",
    "kept_patches",
]

WEIGHTINGS = ("sparse", "softmax")
LOCAL_REDUCTIONS = ("token", "sample")


# ---------------------------------------------------------------------------------------
# Boundary checks: one clear InputError naming the argument and the expected shape.
# ---------------------------------------------------------------------------------------


def _check_float(name: str, x: object, ndim: int, shape_doc: str) -> None:
    if not isinstance(x, Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape {shape_doc}, got {type(x).__name__}")
    if x.ndim != ndim:
        raise InputError(f"{name} must have shape {shape_doc}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor of shape {shape_doc}, got dtype {x.dtype}")


def _check_mask(token_mask: object, batch: int, length: int) -> None:
    if not isinstance(token_mask, Tensor) or token_mask.dtype != torch.bool:
        got = token_mask.dtype if isinstance(token_mask, Tensor) else type(token_mask).__name__
        raise InputError(f"token_mask must be a bool tensor of shape (B, L) = ({batch}, {length}), got {got}")
    if tuple(token_mask.shape) != (batch, length):
        raise InputError(
            f"token_mask must have shape (B, L) = ({batch}, {length}), got {tuple(token_mask.shape)}"
        )


def _check_logit_scale(logit_scale: object) -> None:
    if isinstance(logit_scale, Tensor):
        if logit_scale.numel() != 1 or not logit_scale.is_floating_point():
            raise InputError(
                f"logit_scale must be a float or a floating 0-d tensor (1/tau), "
                f"got a {logit_scale.dtype} tensor of shape {tuple(logit_scale.shape)}"
            )
    elif not isinstance(logit_scale, (int, float)) or isinstance(logit_scale, bool):
        raise InputError(f"logit_scale must be a float or a 0-d tensor (1/tau), got {type(logit_scale).__name__}")


def _as_scale(logit_scale: Tensor | float) -> Tensor | float:
    """A (1,)-shaped learnable scale becomes 0-d so it broadcasts like the float it stands for."""
    return logit_scale.reshape(()) if isinstance(logit_scale, Tensor) else float(logit_scale)


def _check_weighting(weighting: str, sigma: float | None, eps: float) -> None:
    if weighting not in WEIGHTINGS:
        raise InputError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if sigma is not None:
        if weighting != "sparse":
            raise InputError(f"sigma applies only to weighting='sparse', got sigma={sigma} with {weighting!r}")
        if not 0.0 <= float(sigma) <= 1.0:
            raise InputError(f"sigma must lie in [0, 1] (Eq. 3 thresholds min-max scores), got {sigma}")
    if not eps >= 0.0:
        raise InputError(f"eps must be >= 0, got {eps}")


def _check_fine_inputs(v_patches: Tensor, t_tokens: Tensor, token_mask: Tensor) -> None:
    _check_float("v_patches", v_patches, 3, "(B, P, d)")
    _check_float("t_tokens", t_tokens, 3, "(B, L, d)")
    (b, _, d), (bt, length, dt) = v_patches.shape, t_tokens.shape
    if bt != b:
        raise InputError(f"t_tokens must have shape (B, L, d) with B = {b} as in v_patches, got {tuple(t_tokens.shape)}")
    if dt != d:
        raise InputError(f"t_tokens must have shape (B, L, d) with d = {d} as in v_patches, got {tuple(t_tokens.shape)}")
    if t_tokens.dtype != v_patches.dtype:
        raise InputError(f"t_tokens must have the dtype of v_patches ({v_patches.dtype}), got {t_tokens.dtype}")
    _check_mask(token_mask, b, length)


# ---------------------------------------------------------------------------------------
# Eq. 1: global loss
# ---------------------------------------------------------------------------------------


def global_loss(v_global: Tensor, t_global: Tensor, logit_scale: Tensor | float) -> Tensor:
    r"""Eq. 1, CLIP's symmetric InfoNCE between global image and text embeddings.

    v_global: (B, d) $\bar v$; t_global: (B, d) $\bar t$. Neither needs to be normalised;
    $\phi$ (cosine) is taken here. logit_scale = $1/\tau$. Returns a scalar; for B = 1 it is
    exactly 0 (the only candidate is the positive).
    """
    _check_float("v_global", v_global, 2, "(B, d)")
    _check_float("t_global", t_global, 2, "(B, d)")
    if t_global.shape != v_global.shape:
        raise InputError(
            f"t_global must have shape (B, d) = {tuple(v_global.shape)} like v_global, got {tuple(t_global.shape)}"
        )
    _check_logit_scale(logit_scale)
    scale = _as_scale(logit_scale)

    v, t = F.normalize(v_global, dim=-1), F.normalize(t_global, dim=-1)
    logits = scale * einsum(v, t, "i d, j d -> i j")  # phi(v_i, t_j) / tau
    targets = torch.arange(logits.shape[0], device=logits.device)
    # Eq. 1: image->text over rows, text->image over columns, averaged: the 1/(2B).
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


# ---------------------------------------------------------------------------------------
# Eqs. 2-4: alignment weights
# ---------------------------------------------------------------------------------------


def _sparse_weights(s: Tensor, sigma: float, eps: float) -> Tensor:
    """Eqs. 2-4 on (B, L, P) similarities; rows with nothing kept become uniform."""
    s_min = s.amin(dim=-1, keepdim=True)
    s_max = s.amax(dim=-1, keepdim=True)
    span = s_max - s_min + eps
    # eps keeps flat rows finite; the where covers eps = 0 too.
    span = torch.where(span > 0, span, torch.ones_like(span))
    s_hat = (s - s_min) / span  # Eq. 2
    s_tilde = torch.where(s_hat >= sigma, s_hat, torch.zeros_like(s_hat))  # Eq. 3
    total = s_tilde.sum(dim=-1, keepdim=True)
    kept = total > 0
    a = s_tilde / torch.where(kept, total, torch.ones_like(total))  # Eq. 4
    # A flat row (blank image) or one emptied by sigma carries no preference: spread it evenly.
    return torch.where(kept, a, torch.full_like(a, 1.0 / s.shape[-1]))


def alignment_weights(
    similarity: Tensor,
    token_mask: Tensor | None = None,
    weighting: str = "sparse",
    sigma: float | None = None,
    eps: float = 1e-8,
) -> Tensor:
    r"""Token-to-patch alignment weights $a_{lp}$ (Eqs. 2-4, or the softmax ablation).

    similarity: (B, L, P) raw dot products $s_{lp} = t_l \cdot v_p$ of un-normalised embeddings.
    token_mask: (B, L) bool, True on real tokens; pad rows get all-zero weights.
    weighting: "sparse" (Eqs. 2-4) or "softmax" (App. A ablation, softmax of raw $s_{lp}$).
    sigma: the Eq. 3 threshold, default $1/P$; 0.0 is the "no sparsity" ablation.
    eps: added to the Eq. 2 denominator.

    Returns (B, L, P), >= 0, each valid row summing to 1.
    """
    _check_float("similarity", similarity, 3, "(B, L, P)")
    if token_mask is not None:
        _check_mask(token_mask, similarity.shape[0], similarity.shape[1])
    _check_weighting(weighting, sigma, eps)
    return _alignment_weights(similarity, token_mask, weighting, sigma, eps)


def _alignment_weights(
    s: Tensor, token_mask: Tensor | None, weighting: str, sigma: float | None, eps: float
) -> Tensor:
    if weighting == "softmax":
        a = s.softmax(dim=-1)
    else:
        a = _sparse_weights(s, 1.0 / s.shape[-1] if sigma is None else float(sigma), eps)
    if token_mask is not None:
        a = torch.where(token_mask.unsqueeze(-1), a, torch.zeros_like(a))
    return a


# ---------------------------------------------------------------------------------------
# Eq. 5: language-grouped vision embeddings
# ---------------------------------------------------------------------------------------


def language_grouped_embeddings(v_patches: Tensor, weights: Tensor) -> Tensor:
    r"""Eq. 5, $c_l = \sum_p a_{lp} v_p$: one weighted average of patches per caption token.

    v_patches: (B, P, d); weights: (B, L, P) from `alignment_weights`. Returns (B, L, d).
    """
    _check_float("v_patches", v_patches, 3, "(B, P, d)")
    _check_float("weights", weights, 3, "(B, L, P)")
    b, p, _ = v_patches.shape
    if weights.shape[0] != b or weights.shape[2] != p:
        raise InputError(f"weights must have shape (B, L, P) with B = {b}, P = {p}, got {tuple(weights.shape)}")
    return einsum(weights, v_patches, "b l p, b p d -> b l d")  # Eq. 5


# ---------------------------------------------------------------------------------------
# Eq. 6: fine-grained loss
# ---------------------------------------------------------------------------------------


def _diagonal_log_softmax(logits: Tensor, token_mask: Tensor) -> Tensor:
    r"""$\log\mathrm{softmax}_k(\text{logits}_{jk})_j$ over the valid k of each sample; (B, L, L) -> (B, L).

    Pad columns get -inf (they are not candidates); pad rows are replaced by zeros before
    the softmax so that an all-pad sample stays finite, and report 0.
    """
    valid_col = token_mask.unsqueeze(-2)  # (B, 1, L)
    valid_row = token_mask.unsqueeze(-1)  # (B, L, 1)
    logits = logits.masked_fill(~valid_col, float("-inf"))
    logits = torch.where(valid_row, logits, torch.zeros_like(logits))
    log_p = logits.log_softmax(dim=-1).diagonal(dim1=-2, dim2=-1)
    return torch.where(token_mask, log_p, torch.zeros_like(log_p))


def fine_grained_loss(
    v_patches: Tensor,
    t_tokens: Tensor,
    token_mask: Tensor,
    logit_scale: Tensor | float,
    local_reduction: str = "token",
    weighting: str = "sparse",
    sigma: float | None = None,
    eps: float = 1e-8,
) -> Tensor:
    r"""The SPARC fine-grained loss $L_f$ (Eqs. 2-6), contrasting tokens within each pair only.

    v_patches: (B, P, d) adapted patch embeddings $v_p$ (un-normalised).
    t_tokens: (B, L, d) adapted token embeddings $t_l$ (un-normalised); pads may hold anything.
    token_mask: (B, L) bool, True on the $L_i$ real tokens of caption i.
    logit_scale: $1/\tau$, float or 0-d tensor.
    local_reduction: "token" (App. C, token-weighted mean; default) or "sample" (Eq. 6).
    weighting, sigma, eps: as in `alignment_weights`.

    Returns a scalar. A pair with $L_i = 1$ contributes exactly 0 (its token is the only
    candidate); a pair with $L_i = 0$ contributes 0 and no NaN.
    """
    _check_fine_inputs(v_patches, t_tokens, token_mask)
    _check_logit_scale(logit_scale)
    _check_weighting(weighting, sigma, eps)
    if local_reduction not in LOCAL_REDUCTIONS:
        raise InputError(f"local_reduction must be one of {LOCAL_REDUCTIONS}, got {local_reduction!r}")
    scale = _as_scale(logit_scale)

    # Zero the pads first, so that whatever they hold cannot reach values or gradients.
    t = torch.where(token_mask.unsqueeze(-1), t_tokens, torch.zeros_like(t_tokens))
    # s_lp on the un-normalised embeddings (card §10: normalise only after grouping).
    s = einsum(t, v_patches, "b l d, b p d -> b l p")
    a = _alignment_weights(s, token_mask, weighting, sigma, eps)  # Eqs. 2-4
    c = einsum(a, v_patches, "b l p, b p d -> b l d")  # Eq. 5
    c, t = F.normalize(c, dim=-1), F.normalize(t, dim=-1)
    # logits[b, j, k] = phi(c_bj, t_bk) / tau; its transpose is phi(t_bj, c_bk) / tau.
    logits = scale * einsum(c, t, "b j d, b k d -> b j k")
    log_p_c2t = _diagonal_log_softmax(logits, token_mask)  # Eq. 6, first term
    log_p_t2c = _diagonal_log_softmax(logits.mT, token_mask)  # Eq. 6, second term
    per_token = -(log_p_c2t + log_p_t2c)  # (B, L), 0 on pads

    lengths = token_mask.sum(dim=-1)  # L_i
    if local_reduction == "sample":
        # Eq. 6: (1/L_i) per pair, then 1/(2B) over the full batch; L_i = 0 adds an empty sum.
        per_sample = per_token.sum(dim=-1) / lengths.clamp_min(1).to(per_token.dtype)
        return per_sample.sum() / (2 * per_token.shape[0])
    # App. C: sum(loss * mask) / sum(mask) per direction, then the mean of the two directions.
    return per_token.sum() / (2 * lengths.sum().clamp_min(1).to(per_token.dtype))


# ---------------------------------------------------------------------------------------
# Eq. 7: total
# ---------------------------------------------------------------------------------------

_FINE_KWARGS = ("local_reduction", "weighting", "sigma", "eps")


def sparc_loss(
    v_global: Tensor,
    t_global: Tensor,
    v_patches: Tensor,
    t_tokens: Tensor,
    token_mask: Tensor,
    logit_scale: Tensor | float,
    lambda_global: float = 0.5,
    lambda_fine: float = 1.0,
    fine_logit_scale: Tensor | float | None = None,
    **fine_kwargs,
) -> dict[str, Tensor]:
    r"""Eq. 7, $L = \lambda_g L_g + \lambda_f L_f$.

    v_global, t_global: (B', d), where B' may exceed B when the global embeddings were
    all-gathered across processes (L_g's negatives); v_patches: (B, P, d); t_tokens:
    (B, L, d); token_mask: (B, L) bool (L_f is per-sample, computed on the local batch).
    fine_logit_scale: a separate 1/tau for L_f (default: `logit_scale`).
    fine_kwargs: local_reduction, weighting, sigma, eps of `fine_grained_loss`.

    Returns {"loss": L, "global": L_g, "fine": L_f}. With lambda_fine == 0 (the CLIP
    baseline) $L_f$ is not computed at all, so the baseline pays none of its FLOPs, and
    "fine" is a detached zero: a placeholder, not a measurement.
    """
    unknown = sorted(set(fine_kwargs) - set(_FINE_KWARGS))
    if unknown:
        raise InputError(f"sparc_loss got unknown keyword(s) {unknown}; fine_grained_loss accepts {_FINE_KWARGS}")
    _check_fine_inputs(v_patches, t_tokens, token_mask)
    l_g = global_loss(v_global, t_global, logit_scale)  # Eq. 1
    if lambda_fine == 0:
        l_f = torch.zeros((), dtype=l_g.dtype, device=l_g.device)
        return {"loss": lambda_global * l_g, "global": l_g, "fine": l_f}
    fine_scale = logit_scale if fine_logit_scale is None else fine_logit_scale
    l_f = fine_grained_loss(v_patches, t_tokens, token_mask, fine_scale, **fine_kwargs)  # Eq. 6
    return {"loss": lambda_global * l_g + lambda_fine * l_f, "global": l_g, "fine": l_f}  # Eq. 7


# ---------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------


@torch.no_grad()
def kept_patches(weights: Tensor, token_mask: Tensor) -> Tensor:
    """Mean number of patches with a_lp > 0 per valid token (card §10: small P makes 1/P strict).

    weights: (B, L, P); token_mask: (B, L) bool. Returns a 0-d float tensor (0 when no token
    is valid). Rows that fell back to uniform weights count all P patches.
    """
    _check_float("weights", weights, 3, "(B, L, P)")
    _check_mask(token_mask, weights.shape[0], weights.shape[1])
    counts = (weights > 0).sum(dim=-1).to(weights.dtype)  # (B, L)
    n_valid = token_mask.sum().clamp_min(1).to(weights.dtype)
    return (counts * token_mask).sum() / n_valid
