"""One loader for every vocoder checkpoint a user may hold: a paperzoo model folder
(`save_pretrained`: weights, config, prior statistics) or an official `.pt` file (with its
`stats_priorgrad` folder)."""

from __future__ import annotations

from pathlib import Path

from paperzoo.core.errors import CheckpointError
from paperzoo.fregrad.checkpoint import load_official, read_stats
from paperzoo.fregrad.model import Vocoder


def load_vocoder(path: str | Path, stats_dir: str | Path | None = None, trust_pickle: bool = False) -> Vocoder:
    """A ready-to-vocode model: `path` a model folder or an official checkpoint file; `stats_dir`
    (the official stats_priorgrad folder) is required for an official file and overrides a folder's."""
    path = Path(path)
    if path.is_dir():
        model = Vocoder.from_pretrained(path)
        if stats_dir is not None:
            model.prior_stats = read_stats(stats_dir, model.config.max_energy)
    elif path.is_file():
        model = load_official(path, stats_dir, trust_pickle=trust_pickle)
    else:
        raise CheckpointError(f"checkpoint {path} does not exist (expected a model folder or an official .pt file)")
    if model.prior_stats is None and model.config.prior != "none":
        raise CheckpointError(f"checkpoint {path} carries no prior statistics; pass the folder with "
                              "energy_min_train.npy and energy_max_train.npy (--stats)")
    return model.eval()
