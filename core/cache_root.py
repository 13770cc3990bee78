"""Where kpigraph keeps what it computes once for later processes (per-file catalog cache,
search index files, compiled message catalogues): one per-user directory."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_root() -> Path | None:
    """The cache directory for all catalogs (``None``: caching is off)."""
    configured = os.environ.get("KPIGRAPH_CACHE_DIR")
    if configured:
        return None if configured.lower() in ("off", "0", "no", "false") else Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "kpigraph"
    try:
        return Path.home() / ".cache" / "kpigraph"
    except RuntimeError:  # no home directory: no cache, loads still work
        return None
