"""Where AdvertiseX keeps downloads (a cache) and the local stack's state."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Downloads that a second run must not fetch again: Maven's repository, resolved jars."""
    base = os.environ.get("ADVERTISEX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "advertisex"
    )
    return Path(base)


def default_state_dir() -> Path:
    """Logs, data and pid files of the local stack's servers."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "advertisex" / "stack"
