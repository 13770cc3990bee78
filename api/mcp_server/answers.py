"""What each MCP tool answers: the API's own functions, called on one published graph.

Every function takes a :class:`~store.pinned.PinnedStore` (one snapshot for the whole answer)
and returns the JSON the matching HTTP endpoint returns (same functions, same models, dumped the
same way), so an assistant and a browser never disagree. No business logic lives here: searching,
cards, lineage, impact, paths, comparisons, history, values and lint are the API's and
:mod:`analysis`' functions; this module only chooses them and bounds what comes back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.compare import compare_refs
from analysis.impact import impact as impact_of
from analysis.lineage import lineage as lineage_of
from analysis.resolve import resolve_metric, resolve_ref
from analysis.results import Direction
from api.routes.ask import formula_in_names
from api.routes.metrics import metric_card, search_metrics
from api.routes.paths import paths as paths_route
from api.routes.revisions import history_of
from core.i18n import _
from graph_schema.errors import InvalidQueryError, InvalidRefError, KpigraphError
from graph_schema.ids import NodeRef
from graph_schema.models import Metric
from graph_schema.relations import parse_kinds, parse_relations
from store.base import GraphStore
from store.pinned import PinnedStore

#: An answer larger than this (characters of JSON) is refused with a hint to narrow the
#: question: an assistant's context is not the place for a 5 MB lineage.
MAX_ANSWER_CHARS = 200_000
#: Lineage is cut at the farthest hop past this many nodes (the API allows 5000).
MAX_LINEAGE_NODES = 500


class AnswerTooLargeError(KpigraphError):
    """An answer past :data:`MAX_ANSWER_CHARS`."""

    code = "answer_too_large"


def bounded(data: Any) -> Any:
    """``data`` if its JSON stays under :data:`MAX_ANSWER_CHARS`, else a clear refusal."""
    size = len(json.dumps(data, ensure_ascii=False, default=str))
    if size > MAX_ANSWER_CHARS:
        raise AnswerTooLargeError(
            _(
                "the answer is {size} characters (limit {MAX_ANSWER_CHARS}); narrow the "
                "question (fewer relations, a smaller depth or limit)",
                size=size,
                MAX_ANSWER_CHARS=MAX_ANSWER_CHARS,
            ),
            {"size": size, "limit": MAX_ANSWER_CHARS},
        )
    return data


def pinned(store: GraphStore) -> PinnedStore:
    """One published graph for one answer."""
    return store if isinstance(store, PinnedStore) else PinnedStore(store)


def node_ref(store: GraphStore, text: str) -> NodeRef:
    """A ``ref`` as the API reads one: ``Kind:id``, a bare metric id, or a name people know
    (``api.dependencies.node_ref``)."""
    try:
        return NodeRef.parse(text)
    except InvalidRefError:
        return resolve_ref(store, text)


def search(store: GraphStore, **query: Any) -> Any:
    return search_metrics(store, **query).model_dump(mode="json")


def metric(store: GraphStore, ref: str) -> dict[str, Any]:
    """The card of ``GET /api/metrics/{id}`` plus ``formula_in_names``."""
    card = metric_card(store, ref).model_dump(mode="json")
    node = store.get_nodes([resolve_metric(store, ref)])
    found = next(iter(node.values()), None)
    card["formula_in_names"] = formula_in_names(store, found) if isinstance(found, Metric) else None
    return card


def lineage(
    store: GraphStore,
    ref: str,
    direction: str,
    depth: int,
    relations: str | None,
    kinds: str | None,
    limit: int,
) -> Any:
    result = lineage_of(
        store,
        node_ref(store, ref),
        Direction(direction),
        depth,
        parse_relations(relations),
        parse_kinds(kinds),
        min(limit, MAX_LINEAGE_NODES),
    )
    return json.loads(result.model_dump_json())


def impact(store: GraphStore, ref: str, relations: str | None) -> Any:
    report = impact_of(store, node_ref(store, ref), parse_relations(relations))
    return json.loads(report.model_dump_json())


def path(store: GraphStore, **query: Any) -> Any:
    return paths_route(store, **query).model_dump(mode="json")


def compare(store: GraphStore, a: str, b: str) -> Any:
    return compare_refs(store, resolve_ref(store, a), resolve_ref(store, b)).model_dump(mode="json")


def history(store: GraphStore, ref: str, limit: int) -> Any:
    entries = history_of(store, node_ref(store, ref))
    return [json.loads(e.model_dump_json()) for e in entries[-limit:]]


def eval_values(
    store: GraphStore, values_dir: Path | None, ref: str, period: str, by: str | None
) -> Any:
    from values.service import engine_for, eval_report

    engine = engine_for(_live(store), values_dir)
    return eval_report(engine, resolve_metric(store, ref).id, period, by)


def explain(
    store: GraphStore,
    values_dir: Path | None,
    base_url: str,
    ref: str,
    period: str,
    base: str | None,
    by: str | None,
    depth: int,
) -> Any:
    """As ``GET /api/metrics/{id}/explain``: with the definition changes between the months."""
    from analysis.definition_marks import metric_marks, with_definition_changes
    from values.service import engine_for, explain_report

    engine = engine_for(_live(store), values_dir)
    dims = [d for d in by.split(",") if d] if by else None
    mid = resolve_metric(store, ref).id
    report = explain_report(store, engine, mid, period, base, dims, depth)
    return with_definition_changes(report, metric_marks(_live(store), mid, base_url))


def lint_definition(store: GraphStore, definition: dict[str, Any]) -> Any:
    """Lint one metric definition (the YAML file's mapping) against the published catalog,
    as a change request does (reading what the rules' scopes need, not the whole catalog); an
    invalid definition is a 422-style error naming the field."""
    from pydantic import ValidationError

    from analysis.lint_store import lint_in_store

    try:
        issues = lint_in_store(store.snapshot(), definition)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "definition"
        raise InvalidQueryError(
            f"definition.{where}: {first['msg']}",  # pydantic's own words, as the API's 422
            {"field": where, "errors": exc.error_count()},
        ) from exc
    return {"issues": [i.to_json() for i in issues]}


def _live(store: GraphStore) -> GraphStore:
    """The values engine reads definitions through the live store (as the API's does)."""
    return store.store if isinstance(store, PinnedStore) else store
