"""The search index both stores share: one implementation of the ranking rule of
:mod:`store.ranking`, built once per loaded graph and answered with array operations.

Each node kind keeps its titles (id, names, abbreviation) and bodies (definition, meaning,
description) as one array of code points each; finding every occurrence of a text is a few
vectorised comparisons, so a broad term matching 15,000 nodes costs what a narrow one does.
The embedded store builds it from its file; the Neo4j store from the live generation, rebuilt
when another load is published (the server stays the only record; see
:meth:`store.neo4j.Neo4jStore.search`).

Examples
--------
>>> builder = SearchIndexBuilder()
>>> builder.add(NodeKind.METRIC, "Metric:atp", {"id": "atp", "name": "客单价", "abbr": "ATP"})
>>> builder.add(NodeKind.METRIC, "Metric:atp_m", {"id": "atp_m", "name": "月客单价"})
>>> builder.build().page(SearchQuery(text="客单价"))
(2, ['Metric:atp', 'Metric:atp_m'])
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from graph_schema.ids import NodeKind
from store.base import SearchQuery
from store.ranking import (
    FILTER_COLUMNS,
    filter_values,
    level_index,
    normalize_text,
    search_fields,
)

if TYPE_CHECKING:
    from graph_schema.models import BaseNode

#: Separators inside a search blob: between records, between a record's strings.
RECORD_SEP, FIELD_SEP = "\x01", "\x02"
_SEP = ord(FIELD_SEP)
_NONE: NDArray[np.int64] = np.empty(0, dtype=np.int64)


@dataclass
class _Blob:
    """Strings of many records joined into one array of code points, so that finding every
    occurrence of a text is a few vectorised comparisons, not a Python loop per match.

    ``starts`` maps an offset back to its record; ``freq`` counts each code point, so a scan
    starts from the needle's rarest character.
    """

    codes: NDArray[np.unsignedinteger[Any]]
    starts: NDArray[np.int64]
    freq: NDArray[np.int64]

    def find_all(self, needle: str) -> NDArray[np.int64]:
        """Offsets of every occurrence of ``needle`` (overlapping ones included), ascending."""
        codes, m = self.codes, len(needle)
        pattern = [ord(c) for c in needle]
        if not m or m > len(codes) or max(pattern) >= len(self.freq):
            return _NONE
        rarest_first = sorted(range(m), key=lambda j: self.freq[pattern[j]])
        k = rarest_first[0]
        if not self.freq[pattern[k]]:
            return _NONE
        found = np.flatnonzero(codes[k : len(codes) - m + 1 + k] == pattern[k])
        for j in rarest_first[1:]:
            if not found.size:
                break
            found = found[codes[found + j] == pattern[j]]
        return found

    def records(self, offsets: NDArray[np.int64]) -> NDArray[np.int64]:
        """The record of each offset (non-decreasing when the offsets are ascending)."""
        return np.searchsorted(self.starts, offsets, side="right") - 1

    def record(self, i: int) -> str:
        """The string of record ``i`` as it was added."""
        start = int(self.starts[i])
        end = int(self.starts[i + 1]) - 1 if i + 1 < len(self.starts) else len(self.codes)
        return self.codes[start:end].astype("<u4").tobytes().decode("utf-32-le")


@dataclass
class _Filters:
    """A metric's filter values as integer codes per column (``-1``: no value), so a filtered
    search is array comparisons. Other kinds have no values and pass no filter."""

    codes: dict[str, dict[Any, int]]  # column -> value -> code
    columns: dict[str, NDArray[np.int32]]

    def mask(self, records: NDArray[np.int64], query: SearchQuery) -> NDArray[np.bool_]:
        """Which of ``records`` pass the query's filters (the rule of :func:`ranking.passes`)."""
        keep = np.ones(len(records), dtype=bool)
        wanted = {
            "domain": query.domain,
            "level": query.level,
            "status": query.status,
            "priority": query.priority,
            "role": query.role,
            "horizon": query.horizon,
        }
        for column, value in wanted.items():
            if value is not None:
                keep &= self._column(column, records) == self.codes[column].get(value, -2)
        if query.department is not None:
            owner = self._column("owner", records) == self.codes["owner"].get(query.department, -2)
            reviewer = self.codes["reviewer"].get(query.department, -2)
            keep &= owner | (self._column("reviewer", records) == reviewer)
        return keep

    def decoder(self) -> Callable[[int], tuple[Any, ...] | None]:
        """record → its filter values as :func:`store.ranking.filter_values` gave them."""
        if not self.columns:
            return lambda _record: None
        values = {c: {code: v for v, code in self.codes[c].items()} for c in FILTER_COLUMNS}
        columns = [(self.columns[c].tolist(), values[c]) for c in FILTER_COLUMNS]

        def of(record: int) -> tuple[Any, ...]:
            return tuple(None if col[record] < 0 else vals[col[record]] for col, vals in columns)

        return of

    def _column(self, column: str, records: NDArray[np.int64]) -> NDArray[np.int32]:
        values = self.columns.get(column)
        return values[records] if values is not None else np.full(len(records), -1, np.int32)


@dataclass
class _KindSearch:
    """Search data for the nodes of one kind, built once per load.

    Titles and bodies are kept in two blobs. In ``titles`` every title is preceded and followed
    by ``FIELD_SEP`` (``\x02id\x02name\x02``), so the ranks of :func:`store.ranking.match_rank`
    come from one scan: an occurrence with a separator on both sides is an exact title (0),
    before it only starts one (1), otherwise it is inside one (2); in ``bodies`` only, rank 3.
    No query text contains a separator. ``order`` is each record's place in (level, ref) order,
    the tie-break of the ranking.
    """

    refs: list[str]
    levels: array[int]
    order: NDArray[np.int64]  # record -> place in (level, ref) order
    by_order: NDArray[np.int64]  # place -> record
    filters: _Filters
    titles: _Blob
    bodies: _Blob

    def ranked(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(records, ranks) of every record matching ``text`` (all records, rank 0, if empty)."""
        if not text:
            return np.arange(len(self.refs), dtype=np.int64), np.zeros(len(self.refs), np.int64)
        at = self.titles.find_all(text)
        rank_at = np.full(len(at), 2, dtype=np.int64)
        if at.size:
            codes = self.titles.codes
            opens = codes[at - 1] == _SEP  # every title is framed by separators
            rank_at[opens] = 1
            rank_at[opens & (codes[at + len(text)] == _SEP)] = 0
        in_title = self.titles.records(at)
        first = np.flatnonzero(np.diff(in_title, prepend=-1))  # first occurrence per record
        title_records = in_title[first]
        title_ranks = np.minimum.reduceat(rank_at, first) if first.size else _NONE
        in_body = self.bodies.records(self.bodies.find_all(text))
        in_body = in_body[np.diff(in_body, prepend=-1) != 0]  # each record once (non-decreasing)
        body_only = np.setdiff1d(in_body, title_records, assume_unique=True)
        return (
            np.concatenate([title_records, body_only]),
            np.concatenate([title_ranks, np.full(len(body_only), 3, dtype=np.int64)]),
        )

    def top(
        self, text: str, query: SearchQuery, count: int
    ) -> tuple[int, list[tuple[int, int, str]]]:
        """(number of matches, the first ``count`` as (rank, level, ref), best first)."""
        records, ranks = self.ranked(text)
        if query.filtered:
            keep = self.filters.mask(records, query)
            records, ranks = records[keep], ranks[keep]
        total = len(records)
        if count <= 0 or not total:
            return total, []
        keys = ranks * len(self.refs) + self.order[records]
        if total > count:
            keys = keys[np.argpartition(keys, count - 1)[:count]]
        keys.sort()
        n = len(self.refs)
        out = []
        for key in keys.tolist():
            record = int(self.by_order[key % n])
            out.append((key // n, self.levels[record], self.refs[record]))
        return total, out


class SearchIndex:
    """Every kind's search data; answers a :class:`SearchQuery` with a page of refs."""

    def __init__(self, kinds: dict[str, _KindSearch]) -> None:
        self.kinds = kinds
        #: "built" from the nodes, or read from a "file" (:mod:`store.search_file`)
        self.source = "built"

    def page(self, query: SearchQuery) -> tuple[int, list[str]]:
        """(number of matches, the refs of the requested page, best first)."""
        text = normalize_text(query.text)
        if RECORD_SEP in text or FIELD_SEP in text:  # never inside one search string
            return 0, []
        total, hits = 0, []
        for kind in sorted(k.value for k in query.kinds):
            data = self.kinds.get(kind)
            if data is not None:
                found, best = data.top(text, query, query.offset + query.limit)
                total += found
                hits += best
        hits.sort()
        return total, [ref for _, _, ref in hits[query.offset : query.offset + query.limit]]


class SearchIndexBuilder:
    """Accumulates nodes one at a time (no peak of parsed nodes), then builds the index."""

    def __init__(self) -> None:
        self.kinds: dict[str, _SearchBuilder] = {}

    def add(self, kind: NodeKind, ref: str, props: Mapping[str, Any]) -> None:
        builder = self.kinds.get(kind.value)
        if builder is None:
            builder = self.kinds[kind.value] = _SearchBuilder(kind)
        builder.add(ref, props)

    def build(self) -> SearchIndex:
        return SearchIndex({kind: builder.build() for kind, builder in self.kinds.items()})

    @classmethod
    def of_nodes(cls, nodes: Iterable[BaseNode]) -> SearchIndex:
        """The index of a loaded graph's nodes (what a load process has in memory)."""
        builder = cls()
        for node in nodes:
            builder.add(node.kind, str(node.ref), node.props())
        return builder.build()


def patched(
    index: SearchIndex, changes: Iterable[tuple[NodeKind, str, Mapping[str, Any] | None]]
) -> SearchIndex:
    """``index`` with the nodes of ``changes`` (kind, ref, properties; ``None``: removed)
    replaced, added or removed; every other record is copied from ``index`` as it is, not made
    again from its node (a delta's generation, :meth:`store.embedded.EmbeddedStore.apply`).
    It answers every query as an index built from the resulting nodes does.

    Examples
    --------
    >>> old = SearchIndexBuilder()
    >>> old.add(NodeKind.METRIC, "Metric:atp", {"id": "atp", "name": "客单价", "level": "L1"})
    >>> old.add(NodeKind.METRIC, "Metric:gmv", {"id": "gmv", "name": "成交额"})
    >>> new = patched(old.build(), [
    ...     (NodeKind.METRIC, "Metric:gmv", None),
    ...     (NodeKind.METRIC, "Metric:atp_m", {"id": "atp_m", "name": "月客单价"})])
    >>> new.page(SearchQuery(text="客单价")), new.page(SearchQuery(text="成交"))
    ((2, ['Metric:atp', 'Metric:atp_m']), (0, []))
    """
    by_kind: dict[str, dict[str, Mapping[str, Any] | None]] = {}
    for kind, ref, props in changes:
        by_kind.setdefault(kind.value, {})[ref] = props
    builder = SearchIndexBuilder()
    kept: dict[str, _KindSearch] = {}
    for name in [*index.kinds, *(k for k in by_kind if k not in index.kinds)]:
        kind, changed = NodeKind(name), by_kind.get(name, {})
        data = index.kinds.get(name)
        if data is not None and not changed:  # a kind the delta leaves alone: shared as it is
            kept[name] = data
            continue
        if data is not None:
            values_of = data.filters.decoder()
            for i, ref in enumerate(data.refs):
                if ref not in changed:
                    if name not in builder.kinds:
                        builder.kinds[name] = _SearchBuilder(kind)
                    builder.kinds[name].add_record(
                        ref,
                        int(data.levels[i]),
                        values_of(i),
                        data.titles.record(i),
                        data.bodies.record(i),
                    )
        for ref, props in changed.items():
            if props is not None:
                builder.add(kind, ref, props)
    built = builder.build()
    return SearchIndex({**kept, **built.kinds})


class _SearchBuilder:
    """Accumulates one kind's search data node by node."""

    COLUMNS = FILTER_COLUMNS  # of ranking.filter_values

    def __init__(self, kind: NodeKind) -> None:
        self.kind = kind
        self.refs: list[str] = []
        self.levels: array[int] = array("b")
        self.codes: dict[str, dict[Any, int]] = {c: {} for c in self.COLUMNS}
        self.columns: dict[str, array[int]] = {c: array("i") for c in self.COLUMNS}
        self.titles = _BlobBuilder()
        self.bodies = _BlobBuilder()

    def add(self, ref: str, p: Mapping[str, Any]) -> None:
        t, b = search_fields(self.kind, p)
        title, body = FIELD_SEP + FIELD_SEP.join(t) + FIELD_SEP, FIELD_SEP.join(b)
        self.add_record(ref, level_index(p), filter_values(self.kind, p), title, body)

    def add_record(
        self, ref: str, level: int, values: tuple[Any, ...] | None, title: str, body: str
    ) -> None:
        """A record as :meth:`add` makes it from a node's properties (or as an index holds
        it: :func:`patched`)."""
        self.refs.append(ref)
        self.levels.append(level)
        if values is not None:
            for column, value in zip(self.COLUMNS, values, strict=True):
                codes = self.codes[column]
                code = -1 if value is None else codes.setdefault(value, len(codes))
                self.columns[column].append(code)
        self.titles.add(title)
        self.bodies.add(body)

    def build(self) -> _KindSearch:
        by_order = np.array(
            sorted(range(len(self.refs)), key=lambda i: (self.levels[i], self.refs[i])),
            dtype=np.int64,
        )
        order = np.empty_like(by_order)
        order[by_order] = np.arange(len(by_order), dtype=np.int64)
        columns = {c: np.array(v, dtype=np.int32) for c, v in self.columns.items() if v}
        return _KindSearch(
            self.refs,
            self.levels,
            order,
            by_order,
            _Filters(self.codes, columns),
            self.titles.build(),
            self.bodies.build(),
        )


class _BlobBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: array[int] = array("q")
        self.offset = 0

    def add(self, record: str) -> None:
        self.starts.append(self.offset)
        self.parts.append(record)
        self.offset += len(record) + 1

    def build(self) -> _Blob:
        text = RECORD_SEP.join(self.parts)
        self.parts = []
        codes: NDArray[np.unsignedinteger[Any]] = np.frombuffer(
            text.encode("utf-32-le"), dtype="<u4"
        )
        if codes.size and int(codes.max()) < 1 << 16:  # two bytes a character when they fit
            codes = codes.astype(np.uint16)
        starts = np.frombuffer(self.starts, dtype=np.int64).copy()
        return _Blob(codes, starts, np.bincount(codes, minlength=1 << 16))
