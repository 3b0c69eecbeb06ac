"""CMMD: "Rethinking FID: Towards a Better Evaluation Metric for Image Generation"
(Jayasumana et al., arXiv 2401.09603, CVPR 2024).

CMMD = 1000 x MMD^2 with a Gaussian RBF kernel (sigma = 10) between L2-normalised image
embeddings of a reference set and an evaluated set; FID on the same embeddings beside it.

Where each part of the paper lives:
    §4 MMD, both estimators, blocked kernel sums          mmd.py
    §3.1 FID (two square-root routes)                     fid.py
    §3.3 normality tests (Mardia, Henze-Zirkler)          normality.py
    official preprocessing and file listing               images.py
    embedders: tiny SPARC (default), CLIP ViT-L/14@336    embedders.py
    scoring folders / .npz files, embedding caches        score.py
    accelerate: sharded embedding and kernel sums         sharded.py
    §6.2 distortions (blur, noise, JPEG, semantic)        distortions.py
    §6.2 / §6.3 small-scale experiments                   reproduce.py

    >>> from paperzoo.cmmd import cmmd, fid
    >>> cmmd(x, y)                       # unbiased (the paper); estimator="biased" = official code
"""

from paperzoo.cmmd.fid import fid, frechet_distance
from paperzoo.cmmd.mmd import cmmd, cmmd_both

__all__ = ["cmmd", "cmmd_both", "fid", "frechet_distance"]
