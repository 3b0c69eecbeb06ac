"""The gate on the card's claim (slow, run by `make test` in CI from an empty cache).

With the default embedder (the tiny SPARC encoder, trained once on the world's "train"
split and cached), unbiased CMMD between 512 held-out reference scenes and 512 other
held-out scenes rises monotonically with the distortion level, on the mean of 3 seeds,
for blur and pixel noise (card §5; paper §6.2 in direction). Same computation as
`paperzoo cmmd reproduce`.
"""

import numpy as np
import pytest
from scipy import stats

from paperzoo.cmmd.distortions import LEVELS
from paperzoo.cmmd.embedders import load_embedder
from paperzoo.cmmd.reproduce import distortion_curves


@pytest.mark.slow
def test_cmmd_rises_monotonically_with_blur_and_noise(shared_cache):
    curves = distortion_curves(load_embedder(None, progress=False), families=("blur", "noise"), seeds=(0, 1, 2), n=512,
                               progress=False)
    for family, by_metric in curves.items():
        mean = np.mean(by_metric["cmmd"], 0)
        print(family, np.round(mean, 4))
        assert stats.spearmanr(np.arange(LEVELS), mean).statistic == 1.0, (family, mean)
        assert abs(mean[0]) < 0.05 * mean[-1]  # undistorted ~ 0, unbiased
        assert mean[-1] > 0.1
