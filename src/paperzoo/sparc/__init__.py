"""SPARC: Sparse Fine-grained Contrastive Alignment (Bica et al., arXiv 2401.09865, ICML 2024).

A CLIP-style dual encoder trained with a global InfoNCE loss plus a fine-grained loss:
every caption token groups the image patches it is most similar to (min-max normalised,
thresholded at 1/P, renormalised; no softmax) into a "language-grouped vision embedding",
which is contrasted with the tokens of the same caption only.

Where each part of the paper lives:
    §3 Eq. 1 (global loss), Eqs. 2-6 (fine-grained loss), Eq. 7   losses.py
    App. A softmax-weights ablation, sigma = 0 "no sparsity"       losses.py (weighting=, sigma=)
    FILIP all-pairs baseline (§2 related work, T11 cost)           filip.py
    §3 encoders f_v (ViT, no CLS), f_t                             encoders.py
    §3 adaptors g_v, g_t, h_v, pooling, temperature                model.py
    App. D.1 configs (ViT-B/32, B/16, L/14, text), App. D training config.py
    App. D optimisation; scale-out (all-gather for L_g)            train.py
    data: the scene world (tiny), local folders, webdataset shards data.py
    §4 evaluations, small-scale analogues (card §5)                evaluate.py
    token -> patch heatmaps                                        demo.py
    the small-scale experiment for the headline claims             reproduce.py

    >>> import paperzoo.sparc as sparc
    >>> model = sparc.SparcModel("tiny")                 # or sparc.config("vit-b-16")
    >>> loss = sparc.fine_grained_loss(v_patches, t_tokens, token_mask, logit_scale=1 / 0.07)
"""

from paperzoo.sparc.config import SparcConfig, TextConfig, TrainConfig, VisionConfig, config, configs
from paperzoo.sparc.losses import (
    alignment_weights, fine_grained_loss, global_loss, kept_patches, language_grouped_embeddings, sparc_loss,
)
from paperzoo.sparc.filip import filip_loss
from paperzoo.sparc.encoders import TextTransformer, VisionTransformer
from paperzoo.sparc.model import SparcModel
from paperzoo.sparc.train import train

__all__ = [
    "SparcConfig", "VisionConfig", "TextConfig", "TrainConfig", "config", "configs",
    "global_loss", "fine_grained_loss", "alignment_weights", "language_grouped_embeddings", "sparc_loss",
    "kept_patches", "filip_loss", "VisionTransformer", "TextTransformer", "SparcModel", "train",
]
