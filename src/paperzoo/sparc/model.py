"""The SPARC dual encoder (§3): encoders, adaptors, pooling and the objective of Eq. 7.

    v_p = g_v(f_v(x)_p)                       patch embeddings         (B, P, d)
    t_l = g_t(f_t(y)_l)                       token embeddings         (B, L, d)
    v̄  = g_v(h_v(mean_p f_v(x)_p))           global image, "paper"    (B, d)
    v̄  = mean_p v_p                          global image, "pseudocode" (App. C)
    t̄  = g_t(mean_l f_t(y)_l)                global text (valid tokens only)

h_v is "a single non-linear layer" (Linear + GELU here; its form is not given). The
learned temperature is stored as log(1/tau) and clamped at `logit_scale_max` (CLIP's 100).
"""

import math

import torch
from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.errors import InputError
from paperzoo.sparc.config import SparcConfig, registry
from paperzoo.sparc.encoders import TextTransformer, VisionTransformer
from paperzoo.sparc.losses import sparc_loss


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over dim 1 of x (B, L, C) where mask (B, L) is True."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class SparcModel(PretrainedMixin, nn.Module):
    config_class = SparcConfig

    def __init__(self, config: SparcConfig | str):
        super().__init__()
        config = registry.get(config)
        self.config = config
        wv, wt, d = config.vision.width, config.text.width, config.embed_dim
        self.vision = VisionTransformer(config.vision)  # f_v
        self.text = TextTransformer(config.text)  # f_t
        self.vision_adaptor = nn.Linear(wv, d)  # g_v
        self.text_adaptor = nn.Linear(wt, d)  # g_t
        self.vision_head = nn.Sequential(nn.Linear(wv, wv), nn.GELU())  # h_v
        init = math.log(config.logit_scale_init)
        self.log_logit_scale = nn.Parameter(torch.tensor(init))
        if config.separate_temperatures:
            self.log_logit_scale_fine = nn.Parameter(torch.tensor(init))

    # -- temperatures ---------------------------------------------------------------
    def logit_scale(self, which: str = "global") -> Tensor:
        """1/tau, clamped at logit_scale_max; `which="fine"` uses the separate L_f temperature if configured."""
        param = self.log_logit_scale
        if which == "fine" and self.config.separate_temperatures:
            param = self.log_logit_scale_fine
        return param.exp().clamp(max=self.config.logit_scale_max)

    # -- inputs -----------------------------------------------------------------------
    def check_images(self, images: Tensor) -> None:
        c = self.config.vision
        expected = f"a float tensor (B, {c.channels}, {c.image_size}, {c.image_size}) with values in [0, 1]"
        if not isinstance(images, Tensor) or not images.is_floating_point():
            raise InputError(f"images: expected {expected}, got {getattr(images, 'dtype', type(images).__name__)}")
        if images.ndim != 4 or tuple(images.shape[1:]) != (c.channels, c.image_size, c.image_size):
            raise InputError(f"images: expected {expected}, got shape {tuple(images.shape)}")

    def check_text(self, token_ids: Tensor, token_mask: Tensor) -> None:
        L = self.config.text.context_length
        if not isinstance(token_ids, Tensor) or token_ids.dtype not in (torch.int64, torch.int32) or token_ids.ndim != 2:
            raise InputError(f"token_ids: expected an integer tensor (B, L<={L}), got {getattr(token_ids, 'shape', token_ids)!r}")
        if token_ids.shape[1] > L:
            raise InputError(f"token_ids: length {token_ids.shape[1]} exceeds the text context length {L}")
        if not isinstance(token_mask, Tensor) or token_mask.dtype != torch.bool or token_mask.shape != token_ids.shape:
            raise InputError(f"token_mask: expected a bool tensor of shape {tuple(token_ids.shape)}")
        if int(token_ids.max()) >= self.config.text.vocab_size or int(token_ids.min()) < 0:
            raise InputError(f"token_ids: ids must lie in [0, {self.config.text.vocab_size})")

    # -- encoders ---------------------------------------------------------------------
    def encode_image(self, images: Tensor) -> dict[str, Tensor]:
        """images (B, C, H, W) -> v_patches (B, P, d), v_global (B, d); neither normalised."""
        self.check_images(images)
        features = self.vision(images)  # f_v(x): (B, P, wv)
        v_patches = self.vision_adaptor(features)  # v_p = g_v(f_v(x)_p)
        if self.config.global_head == "paper":
            v_global = self.vision_adaptor(self.vision_head(features.mean(1)))  # g_v(h_v(mean_p f_v(x)_p))
        else:
            v_global = v_patches.mean(1)  # App. C pseudo-code
        return {"v_patches": v_patches, "v_global": v_global}

    def encode_text(self, token_ids: Tensor, token_mask: Tensor) -> dict[str, Tensor]:
        """token_ids, token_mask (B, L) -> t_tokens (B, L, d), t_global (B, d); neither normalised."""
        self.check_text(token_ids, token_mask)
        features = self.text(token_ids, token_mask)  # f_t(y): (B, L, wt)
        t_tokens = self.text_adaptor(features)  # t_l = g_t(f_t(y)_l)
        if self.config.global_head == "paper":
            t_global = self.text_adaptor(masked_mean(features, token_mask))  # g_t(mean_l f_t(y)_l)
        else:
            t_global = masked_mean(t_tokens, token_mask)
        return {"t_tokens": t_tokens, "t_global": t_global}

    def segmentation_patches(self, images: Tensor) -> Tensor:
        """Patch embeddings for zero-shot segmentation (App. D.7: through h_v, then g_v): (B, P, d)."""
        self.check_images(images)
        features = self.vision(images)
        if self.config.global_head == "paper":
            return self.vision_adaptor(self.vision_head(features))
        return self.vision_adaptor(features)

    def forward(self, images: Tensor, token_ids: Tensor, token_mask: Tensor) -> dict[str, Tensor]:
        """Embeddings of both towers, plus `fine_mask`: the tokens L_f contrasts (token_mask
        minus `config.fine_ignore_ids`)."""
        out = {**self.encode_image(images), **self.encode_text(token_ids, token_mask)}
        ignore = torch.tensor(self.config.fine_ignore_ids, dtype=token_ids.dtype, device=token_ids.device)
        out["fine_mask"] = token_mask & ~torch.isin(token_ids, ignore)
        return out

    def objective(self, out: dict[str, Tensor], token_mask: Tensor, gather=None) -> dict[str, Tensor]:
        """Eq. 7 from `forward`'s embeddings: {"loss", "global", "fine", "logit_scale"} (scalars).

        `gather` (B, d) -> (world B, d) widens L_g's negatives across processes (train.py);
        L_f is per-sample and is computed on the local batch. With lambda_f = 0 (CLIP)
        L_f is skipped and "fine" is a detached zero placeholder.
        """
        c = self.config
        gather = gather or (lambda x: x)
        losses = sparc_loss(  # Eq. 7 = lambda_g * Eq. 1 + lambda_f * Eqs. 2-6
            gather(out["v_global"]), gather(out["t_global"]), out["v_patches"], out["t_tokens"], out.get("fine_mask", token_mask),
            self.logit_scale(), lambda_global=c.lambda_global, lambda_fine=c.lambda_fine,
            fine_logit_scale=self.logit_scale("fine"),
            local_reduction=c.local_reduction, weighting=c.weighting, sigma=c.sigma,
        )
        return {"loss": losses["loss"], "global": losses["global"].detach(), "fine": losses["fine"].detach(),
                "logit_scale": self.logit_scale().detach()}

    def loss(self, images: Tensor, token_ids: Tensor, token_mask: Tensor) -> dict[str, Tensor]:
        """Eq. 7 on one batch (single process)."""
        return self.objective(self(images, token_ids, token_mask), token_mask)
