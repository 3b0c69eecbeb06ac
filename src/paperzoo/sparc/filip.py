r"""
# FILIP-style all-pairs late interaction: the baseline SPARC is measured against

Yao et al., *FILIP: Fine-grained Interactive Language-Image Pre-training*, arXiv 2111.07783,
Eqs. 4-5; SPARC (arXiv 2401.09865) uses it as a baseline in Tables 1-8 and its cost in Table 11.

For image $i$ with patches $x^I_{ik}$ (k = 1..P) and text $j$ with valid tokens $x^T_{jr}$
(r = 1..L_j), all L2-normalised:

$$s^I_{ij} = \frac{1}{P}\sum_{k}\max_{r \le L_j} x^I_{ik} \cdot x^T_{jr}
\qquad\text{(image -> text: each patch picks its best token)}$$
$$s^T_{ji} = \frac{1}{L_j}\sum_{r \le L_j}\max_{k} x^T_{jr} \cdot x^I_{ik}
\qquad\text{(text -> image: each token picks its best patch)}$$

and the loss is the symmetric InfoNCE over the batch,
$\tfrac12\big(\mathrm{CE}(s^I/\tau) + \mathrm{CE}(s^T/\tau)\big)$ with the diagonal as targets.

Unlike SPARC's loss, every image meets every text at token level, so this materialises the
(B, B, L, P) similarity tensor: memory grows as $B^2 L P$ and compute as $2B^2LPd$, i.e.
$2BLPd$ per sample, growing with B (card §7-8, the paper's Table 11). That is the point of
having it here: it is the memory blow-up SPARC avoids. FILIP's 20% token dropping is left out.

Decisions: pad tokens are never a candidate for a patch's max; a text with no valid token
gets $s^I = s^T = 0$ against every image rather than NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import einsum, reduce
from torch import Tensor

from paperzoo.sparc.losses import _as_scale, _check_fine_inputs, _check_logit_scale

__all__ = ["filip_pairwise_similarity", "filip_loss"]


def filip_pairwise_similarity(
    v_patches: Tensor, t_tokens: Tensor, token_mask: Tensor
) -> tuple[Tensor, Tensor]:
    r"""FILIP token-wise max-mean similarities for all image-text pairs of the batch.

    v_patches: (B, P, d); t_tokens: (B, L, d); token_mask: (B, L) bool. Neither embedding
    needs to be normalised (cosine is taken here).

    Returns (s_i2t, s_t2i): s_i2t (B_image, B_text) $= s^I_{ij}$, mean over patches of the max
    over the text's valid tokens; s_t2i (B_text, B_image) $= s^T_{ji}$, mean over valid tokens
    of the max over the image's patches.
    """
    _check_fine_inputs(v_patches, t_tokens, token_mask)
    v = F.normalize(v_patches, dim=-1)
    t = F.normalize(torch.where(token_mask.unsqueeze(-1), t_tokens, torch.zeros_like(t_tokens)), dim=-1)

    # The (B, B, L, P) tensor: image i, text j, token l, patch p.
    sim = einsum(v, t, "i p d, j l d -> i j l p")
    valid = token_mask[None, :, :, None]  # text j's token l, broadcast over images and patches
    has_token = token_mask.any(dim=-1)  # (B_text,)

    # s^I: per patch, best valid token of text j; then mean over patches.
    best_token = sim.masked_fill(~valid, float("-inf")).amax(dim=2)  # (i, j, p)
    best_token = torch.where(has_token[None, :, None], best_token, torch.zeros_like(best_token))
    s_i2t = reduce(best_token, "i j p -> i j", "mean")

    # s^T: per valid token of text j, best patch of image i; then mean over valid tokens.
    best_patch = sim.amax(dim=3)  # (i, j, l)
    best_patch = torch.where(token_mask[None], best_patch, torch.zeros_like(best_patch))
    lengths = token_mask.sum(dim=-1).clamp_min(1).to(sim.dtype)  # L_j
    s_t2i = (best_patch.sum(dim=-1) / lengths).T  # (j, i)
    return s_i2t, s_t2i


def filip_loss(
    v_patches: Tensor, t_tokens: Tensor, token_mask: Tensor, logit_scale: Tensor | float
) -> Tensor:
    r"""FILIP's symmetric InfoNCE over the late-interaction similarities; a scalar.

    v_patches: (B, P, d); t_tokens: (B, L, d); token_mask: (B, L) bool; logit_scale = $1/\tau$.
    Materialises a (B, B, L, P) tensor (memory ~ $B^2LP$), see the module docstring.
    """
    _check_logit_scale(logit_scale)
    s_i2t, s_t2i = filip_pairwise_similarity(v_patches, t_tokens, token_mask)
    scale = _as_scale(logit_scale)
    targets = torch.arange(s_i2t.shape[0], device=s_i2t.device)
    return 0.5 * (F.cross_entropy(scale * s_i2t, targets) + F.cross_entropy(scale * s_t2i, targets))
