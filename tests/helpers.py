"""Small helpers shared by tests and doctests."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "catalogs"
DEMO = CATALOGS / "automotive_aftersales"


@functools.cache
def demo_store() -> EmbeddedStore:
    """An embedded store holding the after-sales demo (cached per process; read-only use)."""
    store = EmbeddedStore(Path(tempfile.mkdtemp(prefix="kpigraph-demo-")) / "demo.sqlite")
    store.load(load_catalog(DEMO))
    return store
