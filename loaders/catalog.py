"""Read a catalog directory (metrics as code) into a validated :class:`CatalogGraph`.

Layout (see DESIGN.md)::

    kpigraph.yaml      catalog name, language, description
    departments.yaml   list of {id, name}
    dimensions.yaml    list of {id, name}
    sources.yaml       systems → tables → fields
    dashboards.yaml    list of {id, name, kind, url}
    metrics/**/*.yaml  one metric per file, or a top-level ``metrics:`` list

Everything is validated before anything is returned, and every problem of the whole catalog
is collected in one pass: the caller gets either a complete graph or a :class:`CatalogError`
listing each issue with its file, line and a hint.

By concept: reading the files into nodes, :mod:`loaders.catalog_read`; validating a node,
:mod:`loaders.validate`; resolving references and checking cycles, :mod:`loaders.delta_check`
(the unit every way into the graph validates through, the whole catalog being the delta);
this module assembles them into the catalog's graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from core import i18n
from core.bulk import paused_gc
from core.i18n import _
from graph_schema.errors import CatalogError, CatalogIssue
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from loaders.catalog_cache import FileCache
from loaders.catalog_checks import (
    MANIFEST,
    SECTION_FILES,
    check_levels,
    check_unexpected_files,
)
from loaders.catalog_file import MAX_FILE_BYTES, manifest_language
from loaders.catalog_read import (
    CalendarSettings,
    CatalogManifest,
    catalog_meta,
    is_metric_file,
    read_file_ahead,
    read_manifest,
    read_metric_files,
    read_metrics,
    read_sections,
    to_parse,
)
from loaders.delta_check import check_delta, whole_catalog
from loaders.prefetch import Prefetch
from loaders.validate import CatalogState, make_edge
from loaders.yaml_lines import LDict

__all__ = [
    "MANIFEST",
    "SECTION_FILES",
    "CalendarSettings",
    "CatalogManifest",
    "CatalogSource",
    "catalog_meta",
    "is_metric_file",
    "load_catalog",
    "make_edge",
    "read_catalog",
    "read_metric_files",
]


@dataclass(frozen=True)
class CatalogSource:
    """A loaded graph together with where each node came from (for lint's file:line)."""

    graph: CatalogGraph
    root: Path
    #: node → (file relative to root, line of its mapping)
    origins: dict[NodeRef, tuple[str, int | None]]
    #: node → its YAML mapping as read (``key_lines`` gives each key's line)
    raw: dict[NodeRef, LDict]


def load_catalog(path: str | Path, *, cache: FileCache | None = None) -> CatalogGraph:
    """Read and validate the catalog at ``path``.

    ``cache``: files read before with the same content are taken from it, not parsed again
    (see :mod:`loaders.catalog_cache`).

    Raises
    ------
    CatalogError
        Listing every problem found, each with file, line and what to do.
    """
    return read_catalog(path, cache=cache).graph


def read_catalog(path: str | Path, *, cache: FileCache | None = None) -> CatalogSource:
    """:func:`load_catalog`, also returning each node's file and line. Problems are worded in
    the catalog's ``language`` (unless this command or request chose one)."""
    try:
        with paused_gc(), i18n.use(i18n.resolve(manifest_language(Path(path)))):
            source = _read_catalog(path, cache)
    except BaseException:
        if cache is not None:
            cache.discard()
        raise
    if cache is not None:
        cache.commit()
    return source


def _read_catalog(path: str | Path, cache: FileCache | None) -> CatalogSource:
    root = Path(path)
    if not root.exists():
        raise CatalogError([CatalogIssue(str(root), None, _("no such directory"))])
    if not root.is_dir():
        raise CatalogError(
            [CatalogIssue(str(root), None, _("not a directory"), _("pass the catalog directory"))]
        )
    state = CatalogState(root, cache=cache)
    manifest = read_manifest(state)
    ahead = partial(read_file_ahead, str(root))
    state.ahead = Prefetch(to_parse(state), max_bytes=MAX_FILE_BYTES, task=ahead)
    try:
        read_sections(state)
        metric_files = read_metrics(state)
    finally:
        state.ahead.close()
        state.ahead = None
    check_unexpected_files(state, metric_files)
    if not any(ref.kind is NodeKind.METRIC for ref in state.nodes) and not state.issues:
        state.issue(
            "metrics/",
            None,
            _("the catalog defines no metrics"),
            _("add metric files under metrics/ (see 'kpigraph init')"),
        )
    state.stage = 1  # what follows is reported after the root causes above
    check_levels(state)
    check_delta(state, whole_catalog(state))  # the whole catalog is the delta: refs, cycles
    if state.issues:
        raise CatalogError(state.issues)
    name = manifest.name if manifest else root.name
    meta: dict[str, Any] = {"name": name, "source": str(root.resolve())}
    if manifest:
        meta.update(manifest.model_dump(exclude_none=True))
    graph = CatalogGraph(
        name=name,
        nodes=tuple(state.nodes.values()),
        edges=tuple(state.edges.values()),
        meta=meta,
    )
    meta["summary"] = graph.summary()
    origins = {ref: (o.file, o.line) for ref, o in state.origins.items()}
    return CatalogSource(graph, root, origins, state.raw)


# ---------------------------------------------------------------------------------------------
# validation helpers


def iter_metric_ids(graph: CatalogGraph) -> Iterable[str]:
    """The metric ids of a loaded graph, in catalog order."""
    return (n.id for n in graph.nodes if n.kind is NodeKind.METRIC)


ProgressFn = Callable[[int, int], None]
