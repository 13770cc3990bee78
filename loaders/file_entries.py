"""What reading one catalog file produced (a :class:`~loaders.catalog_cache.FileEntry`: its
validated nodes with their lines and YAML mappings, and its edges), and the three places it
comes from: the per-file cache (the same bytes were read before), a worker process that read
the file ahead (a first load of a large catalog, :mod:`loaders.prefetch`), or the reading
process itself.

A worker reads a file exactly as the reading process would — the same reader, on a state of
its own — and sends back the entry only when the file read without any problem. Anything
else (a YAML error, a bad field, a duplicate id inside the file, a worker that died) comes
back as "read it yourself": the reading process reads that file again and reports each
problem with its file and line, worded in the catalog's language, as it always did. So the
work moved to the workers (parsing, and at L the validation of 370,000 fields and 100,000
metrics against their models) never changes what is reported; an entry taken from a worker
is replayed like a cache hit (duplicate ids across files are found there), and cached.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

from graph_schema.confined import escapes
from graph_schema.ids import NodeRef
from graph_schema.relations import Relation
from loaders.catalog_cache import FileEntry
from loaders.validate import CatalogState, make_edge

#: a file read by a worker: ``reader(state, path)`` reads ``path`` into ``state``
Reader = Callable[[CatalogState, Path], None]


def rel_of(state: CatalogState, path: Path) -> str:
    """``path`` as the read names it: relative to the catalog when it is inside it."""
    try:
        return str(path.relative_to(state.root))
    except ValueError:
        return str(path)


def per_file(state: CatalogState, path: Path, read: Callable[[], object]) -> None:
    """Run ``read`` (which reads ``path`` into ``state``), or replay what it produced: the
    last time this file had the same content (``state.cache``), or in a worker just now
    (``state.ahead``). Only a file that read without any problem is cached."""
    cache = state.cache
    if escapes(state.root, path):
        read()  # reports a link out of the catalog
        return
    rel = rel_of(state, path)
    if cache is None:
        ahead = _taken(state, path)
        if ahead is None:
            read()
        else:
            replay(state, rel, ahead[0])
        return
    try:
        data = path.read_bytes()
        key = cache.key(rel, data)
    except OSError:
        read()  # reports it
        return
    entry = cache.get(key)
    if entry is not None:
        replay(state, rel, entry)
        return
    ahead = _taken(state, path)
    if ahead is not None:
        replay(state, rel, ahead[0])
        cache.put(key, ahead[0], pickled=ahead[1])
        return
    issues, nodes, edges = len(state.issues), len(state.nodes), len(state.edges)
    unreadable = sum(len(v) for v in state.unreadable.values())
    unverifiable = len(state.unverifiable)
    read()
    if (
        len(state.issues) == issues
        and sum(len(v) for v in state.unreadable.values()) == unreadable
        and len(state.unverifiable) == unverifiable
    ):
        cache.put(key, entry_of(state, rel, data, nodes, edges))


def replay(state: CatalogState, rel: str, entry: FileEntry) -> None:
    """Put what one file produced into ``state``, as reading it would (a node whose id is
    taken already is reported as a duplicate)."""
    for node, line, raw in entry.nodes:
        state.add_node(node, rel, line, raw)
    for source, target, rel_type, props in entry.edges:
        ekey = (NodeRef(*source), NodeRef(*target), Relation(rel_type))
        if ekey not in state.edges:
            state.edges[ekey] = make_edge(*ekey, props)


def entry_of(
    state: CatalogState, rel: str, data: bytes, first_node: int = 0, first_edge: int = 0
) -> FileEntry:
    """The entry of the file ``rel`` (bytes ``data``): the nodes and edges ``state`` got
    from position ``first_node`` / ``first_edge`` on."""
    new_refs = list(state.nodes)[first_node:]
    return FileEntry(
        [(state.nodes[r], state.origins[r].line, state.raw[r]) for r in new_refs],
        [
            (tuple(e.source), tuple(e.target), e.type.value, e.props)
            for e in list(state.edges.values())[first_edge:]
        ],
        _text_of(rel, data),
    )


def _taken(state: CatalogState, path: Path) -> tuple[FileEntry, bytes] | None:
    """The entry a worker read for ``path`` (with its pickle, written to the cache as it
    is), or ``None``: read it here."""
    got = state.ahead.take(path) if state.ahead is not None else None
    if got is None:
        return None
    try:
        entry = pickle.loads(got[0])
        if isinstance(entry, FileEntry):
            entry.nodes  # noqa: B018 - every chunk unpickled (a damaged one: read it here)
    except Exception:  # damaged on the way: read it here
        return None
    return (entry, got[0]) if isinstance(entry, FileEntry) else None


def read_ahead(root: str, reader: Reader, path: str, max_bytes: int) -> tuple[bytes] | None:
    """In a worker: read the file ``path`` of the catalog ``root`` with ``reader``;
    ``(pickled FileEntry,)`` when it read without any problem, else ``None`` (the reading
    process reads it again and reports what is wrong)."""
    try:
        file = Path(path)
        data = file.read_bytes()
        if len(data) > max_bytes:
            return None
        state = CatalogState(Path(root))
        reader(state, file)
        if state.issues or state.unreadable or state.unverifiable:
            return None
        entry = entry_of(state, rel_of(state, file), data)
        return (pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL),)
    except Exception:  # anything at all: the reading process reads it and says what is wrong
        return None


def _text_of(rel: str, data: bytes) -> str | None:
    """A metric file's text, kept with its cache entry (see :mod:`loaders.metric_items`)."""
    if not (rel.startswith("metrics/") and rel.endswith((".yaml", ".yml"))):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
