"""Where htr keeps what it derives at run time and can make again (networks exported for other
runtimes, lexicons' prefix trees and spelling models, IAM-OnDB's parsed strokes): one folder per
kind under ``$HTR_CACHE`` (default ``~/.cache/htr``), outside the repository."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """``$HTR_CACHE/KIND`` (default ``~/.cache/htr/KIND``); not created here."""
    return Path(os.environ.get("HTR_CACHE", Path.home() / ".cache" / "htr")) / kind
