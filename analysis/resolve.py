"""Turning user-typed references into existing nodes, with suggestions when they miss."""

from __future__ import annotations

import difflib

from analysis.cjk_match import has_cjk
from analysis.cjk_match import probes as cjk_probes
from analysis.cjk_match import similarity as name_similarity
from graph_schema.errors import AmbiguousRefError, InvalidRefError, NodeNotFoundError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode
from store.base import GraphReader, SearchQuery

ALL_KINDS = frozenset(NodeKind)


def require_node(store: GraphReader, ref: NodeRef) -> BaseNode:
    """The node at ``ref``, or :class:`NodeNotFoundError` listing close matches.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> require_node(demo_store(), NodeRef.parse("atp")).name
    '客单价'
    >>> try:
    ...     require_node(demo_store(), NodeRef.parse("revenu"))
    ... except NodeNotFoundError as exc:
    ...     exc.suggestions[0]
    'Metric:revenue'
    """
    found = store.get_nodes([ref]).get(ref)
    if found is not None:
        return found
    raise not_found(store, ref)


def not_found(store: GraphReader, ref: NodeRef) -> NodeNotFoundError:
    """The error for a missing ``ref``, with close matches; raises ``EmptyStoreError`` instead
    when nothing is loaded at all (say that, not "no node")."""
    store.info()
    hits = suggest(store, ref.id, ref.kind)
    return NodeNotFoundError(str(ref), hits, names=names_of(store, hits))


def names_of(store: GraphReader, refs: list[str]) -> dict[str, str]:
    """Ref → the node's name, for suggestions worded ``Metric:revenue（营收）``."""
    parsed = []
    for r in refs:
        try:
            parsed.append(NodeRef.parse(r))
        except InvalidRefError:
            continue
    return {str(ref): node.name for ref, node in store.get_nodes(parsed).items() if node.name}


#: how close (0..1, :func:`analysis.cjk_match.similarity`) a CJK text and a name must be for
#: the name to be suggested: 营搜 → 营收 0.94, 营收额 → 营收 0.9; 客户满意度 → 客单价 0.56 is not
CJK_CLOSE = 0.6


def suggest(store: GraphReader, text: str, kind: NodeKind | None = None, n: int = 3) -> list[str]:
    """Up to ``n`` refs close to ``text``, the most similar ids first (same kind preferred).

    Candidates come from the store's search (the text and a shortened prefix of it, so that a
    typo near the end still finds them), then are ordered by string similarity of the id.
    """
    probes = [text]
    if len(text) > 3:
        probes.append(text[: max(3, len(text) * 2 // 3)])
    probes += cjk_probes(text)  # 营搜: what 营 and 搜 find, ranked by characters and pinyin
    candidates: dict[str, BaseNode] = {}
    for probe in probes:
        for node in store.search(SearchQuery(text=probe, kinds=ALL_KINDS, limit=25)).items:
            candidates.setdefault(str(node.ref), node)
    low = text.lower()

    def score(item: tuple[str, BaseNode]) -> tuple[int, float, str]:
        ref, node = item
        same_kind = 0 if kind is None or node.kind is kind else 1
        similarity = max(
            difflib.SequenceMatcher(None, low, node.id.lower()).ratio(),
            name_similarity(low, node.name),
        )
        return (same_kind, -similarity, ref)

    ranked = sorted(candidates.items(), key=score)
    if has_cjk(text):
        # a Chinese name shares a character, and a syllable's sound, with many others
        # (客户满意度 / 客单价): only names that are close as a whole are suggested
        ranked = [item for item in ranked if -score(item)[1] >= CJK_CLOSE]
    return [ref for ref, _ in ranked[:n]]


def resolve_ref(store: GraphReader, text: str) -> NodeRef:
    """The node a person means by ``text``: an exact ``Kind:id`` or bare id first, then an
    exact name, English name or abbreviation (case-insensitive).

    Raises :class:`AmbiguousRefError` listing the candidates' refs when a name matches several
    nodes, and :class:`NodeNotFoundError` with close matches (and a pointer to search) when
    nothing matches.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> store = demo_store()
    >>> str(resolve_ref(store, "客单价")), str(resolve_ref(store, "atp"))
    ('Metric:atp', 'Metric:atp')
    >>> str(resolve_ref(store, "ATP"))
    'Metric:atp'
    >>> try:
    ...     resolve_ref(store, "dms_orders.total_amount")
    ... except NodeNotFoundError as exc:
    ...     exc.suggestions[0]
    'Field:dms.dms_orders.total_amount'
    """
    raw = text.strip()
    parsed: NodeRef | None = None
    try:
        parsed = NodeRef.parse(raw)
    except InvalidRefError:
        if ":" in raw:
            raise  # a typed Kind:id that is malformed: say so, don't guess
    if parsed is not None and store.get_nodes([parsed]):
        return parsed
    matches = named(store, raw)
    if len(matches) == 1:
        return matches[0].ref
    if matches:
        raise AmbiguousRefError(
            raw, [str(n.ref) for n in matches], {str(n.ref): n.name for n in matches}
        )
    store.info()  # nothing loaded at all: say that instead
    kind = parsed.kind if parsed is not None and ":" in raw else None
    hits = suggest(store, raw, kind)
    hits += [r for r in _id_suffix_matches(store, raw) if r not in hits]
    hits = sorted(hits, key=lambda r: not r.endswith("." + raw) and not r.endswith(":" + raw))
    raise NodeNotFoundError(raw, hits[:3], search_hint=True, names=names_of(store, hits[:3]))


def named(store: GraphReader, text: str) -> list[BaseNode]:
    """Nodes whose id, name, English name or abbreviation equals ``text`` (case-insensitive),
    metrics first, then by ref."""
    low = text.strip().lower()
    if not low:
        return []
    page = store.search(SearchQuery(text=text.strip(), kinds=ALL_KINDS, limit=50))
    found = [
        n
        for n in page.items
        if low
        in {
            n.id.lower(),
            n.name.lower(),
            str(getattr(n, "name_en", None) or "").lower(),
            str(getattr(n, "abbr", None) or "").lower(),
        }
    ]
    return sorted(found, key=lambda n: (n.kind is not NodeKind.METRIC, str(n.ref)))


def _id_suffix_matches(store: GraphReader, text: str) -> list[str]:
    """Source nodes whose dotted id ends with ``text`` (``dms_orders.total_amount`` →
    ``Field:dms.dms_orders.total_amount``)."""
    last = text.rsplit(".", 1)[-1]
    if not last:
        return []
    kinds = frozenset({NodeKind.FIELD, NodeKind.TABLE, NodeKind.SYSTEM})
    page = store.search(SearchQuery(text=last, kinds=kinds, limit=50))
    return [str(n.ref) for n in page.items if n.id == text or n.id.endswith("." + text)]


def resolve_metric(store: GraphReader, text: str) -> NodeRef:
    """Like :func:`resolve_ref`, for places that show metrics only (``/metrics/{id}``):
    a name that names a node of another kind is not found here.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> str(resolve_metric(demo_store(), "营收"))
    'Metric:revenue'
    """
    ref = resolve_ref(store, text)
    if ref.kind is not NodeKind.METRIC:
        raise NodeNotFoundError(str(NodeRef(NodeKind.METRIC, text)), [str(ref)])
    return ref
