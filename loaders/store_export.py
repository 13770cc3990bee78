"""The store (or a revision of it) written back as a catalog directory.

``kpigraph export catalog store -o DIR`` (or ``rev:N``): the published graph, written in the
catalog layout by :mod:`loaders.catalog_writer` (metrics under a folder per domain), loaded
back before it is moved into place, and checked to reload to the same graph digest.
"""

from __future__ import annotations

from pathlib import Path

from core.i18n import _
from graph_schema.diff import graph_digest
from graph_schema.errors import KpigraphError, SourceSpecError
from graph_schema.graph import CatalogGraph
from loaders.catalog_writer import doc_from_graph, write_catalog
from store.base import GraphStore


class StoreExportError(KpigraphError):
    """The written catalog would not reload to the same graph."""

    code = "store_export"


def read_store_side(store: GraphStore, spec: str) -> CatalogGraph:
    """``store`` (what is published now) or ``rev:N`` (as of revision N)."""
    if spec == "store":
        return store.catalog()
    if spec.startswith("rev:") and spec[4:].isdigit():
        return store.catalog(at=int(spec[4:]))
    raise SourceSpecError(
        _("{spec}: write 'store' or rev:N (e.g. rev:3)", spec=repr(spec)), {"spec": spec}
    )


def export_store_catalog(
    store: GraphStore, spec: str, out_dir: str | Path, *, force: bool = False
) -> CatalogGraph:
    """Write the graph named by ``spec`` as a catalog at ``out_dir``; returns it as reloaded.

    Raises
    ------
    StoreExportError
        The written catalog reloads to another graph (nothing is left at ``out_dir``).
    CatalogWriteError, CatalogError, SourceSpecError
        From the writer, or a malformed ``spec``.
    """
    graph = read_store_side(store, spec)
    want = graph_digest(graph.nodes, graph.edges)
    header = f"exported from the kpigraph store ({spec}) by 'kpigraph export catalog'"
    written = write_catalog(doc_from_graph(graph), out_dir, force=force, header=header)
    got = graph_digest(written.nodes, written.edges)
    if got != want:
        import shutil

        shutil.rmtree(out_dir, ignore_errors=True)
        raise StoreExportError(
            _(
                "the exported catalog would reload to another graph ({got} ≠ {want}); "
                "nothing was written — please report it",
                got=got[:12],
                want=want[:12],
            )
        )
    return written
