"""Where generated datasets and cached models live: `$PAPERZOO_CACHE`, or the user cache dir."""

import os
from pathlib import Path

import platformdirs

ENV_VAR = "PAPERZOO_CACHE"


def cache_dir(*parts: str) -> Path:
    """The cache folder (created), optionally a sub-folder of it.

    `$PAPERZOO_CACHE` wins; otherwise the platform's user cache dir (e.g. ~/.cache/paperzoo).
    """
    root = os.environ.get(ENV_VAR) or platformdirs.user_cache_dir("paperzoo")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
