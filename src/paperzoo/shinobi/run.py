"""A fit's folder: what `fit` writes and `relight`, `export-mesh` and `turntable` read.

    RUN/photos.pt        the photographs, masks and initial (and, where known, true) cameras
    RUN/checkpoint/      the latest state (resume)
    RUN/model/           the final state: fit_state.pt and config.json
    RUN/summary.json     the evaluation (test views, poses where the truth is known)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from paperzoo.core.atomic import atomic_path
from paperzoo.core.checkpoint import config_from_dict
from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.shinobi.config import ShinobiConfig
from paperzoo.shinobi.data import Photos
from paperzoo.shinobi.train import STATE_NAME, Fitter


def save_photos(photos: Photos, folder: Path) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(folder) / "photos.pt") as tmp:
        torch.save(dataclasses.asdict(photos), tmp)


def load_run(folder: str | Path) -> Fitter:
    """The fitted model of RUN (its final model/, else its latest checkpoint/)."""
    folder = Path(folder)
    if not (folder / "photos.pt").is_file():
        raise InputError(f"{folder}: not a SHINOBI run folder (no photos.pt; `paperzoo shinobi fit` writes one)")
    state_dir = folder / "model" if (folder / "model" / STATE_NAME).is_file() else folder / "checkpoint"
    if not (state_dir / STATE_NAME).is_file():
        raise InputError(f"{folder}: no fitted state (neither model/ nor checkpoint/ holds {STATE_NAME})")
    try:
        photos = Photos(**torch.load(folder / "photos.pt", weights_only=False))
        config = config_from_dict(ShinobiConfig, json.loads((state_dir / "config.json").read_text()))
    except (OSError, TypeError, KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{folder}: cannot read the run ({e})") from None
    fitter = Fitter(config, photos)
    fitter.load(state_dir)
    fitter.field.encoding.progress = 1.0
    return fitter
