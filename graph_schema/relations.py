"""The closed relation vocabulary. Relationship types are never built from user input."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from core.i18n import _
from graph_schema.errors import InvalidQueryError
from graph_schema.ids import NodeKind


class Relation(StrEnum):
    """Edge types. Lineage edges point upstream → downstream (the way data flows)."""

    HAS_TABLE = "HAS_TABLE"
    HAS_FIELD = "HAS_FIELD"
    FEEDS = "FEEDS"
    INPUT_TO = "INPUT_TO"
    DRIVES = "DRIVES"
    CAUSES = "CAUSES"
    ROLLS_UP_TO = "ROLLS_UP_TO"
    SHOWN_ON = "SHOWN_ON"
    OWNS = "OWNS"
    REVIEWS = "REVIEWS"
    SLICED_BY = "SLICED_BY"

    @property
    def is_lineage(self) -> bool:
        """Whether traversals follow this relation by default."""
        return self not in NON_LINEAGE

    @property
    def endpoints(self) -> tuple[NodeKind, NodeKind]:
        """The (source kind, target kind) every edge of this type connects."""
        return ENDPOINTS[self]


#: Relation by its stored value: a dict lookup, for hot loops (``Relation(value)`` is slow).
RELATION_BY_VALUE: dict[str, Relation] = {r.value: r for r in Relation}
NON_LINEAGE: frozenset[Relation] = frozenset({Relation.OWNS, Relation.REVIEWS, Relation.SLICED_BY})

#: Every relation traversed by default: all but OWNS, REVIEWS and SLICED_BY.
LINEAGE_RELATIONS: frozenset[Relation] = frozenset(r for r in Relation if r not in NON_LINEAGE)

#: Relations along which a change *recomputes* what is reached (impact "via definition").
DEFINITION_RELATIONS: frozenset[Relation] = frozenset(
    {Relation.FEEDS, Relation.HAS_FIELD, Relation.HAS_TABLE, Relation.INPUT_TO, Relation.SHOWN_ON}
)
#: Relations along which a change may make what is reached *read differently* ("via influence").
INFLUENCE_RELATIONS: frozenset[Relation] = frozenset(
    {Relation.DRIVES, Relation.CAUSES, Relation.ROLLS_UP_TO}
)

#: Metric-to-metric relations.
METRIC_RELATIONS: frozenset[Relation] = frozenset(
    {Relation.INPUT_TO, Relation.DRIVES, Relation.CAUSES, Relation.ROLLS_UP_TO}
)

ENDPOINTS: dict[Relation, tuple[NodeKind, NodeKind]] = {
    Relation.HAS_TABLE: (NodeKind.SYSTEM, NodeKind.TABLE),
    Relation.HAS_FIELD: (NodeKind.TABLE, NodeKind.FIELD),
    Relation.FEEDS: (NodeKind.FIELD, NodeKind.METRIC),
    Relation.INPUT_TO: (NodeKind.METRIC, NodeKind.METRIC),
    Relation.DRIVES: (NodeKind.METRIC, NodeKind.METRIC),
    Relation.CAUSES: (NodeKind.METRIC, NodeKind.METRIC),
    Relation.ROLLS_UP_TO: (NodeKind.METRIC, NodeKind.METRIC),
    Relation.SHOWN_ON: (NodeKind.METRIC, NodeKind.DASHBOARD),
    Relation.OWNS: (NodeKind.DEPARTMENT, NodeKind.METRIC),
    Relation.REVIEWS: (NodeKind.DEPARTMENT, NodeKind.METRIC),
    Relation.SLICED_BY: (NodeKind.METRIC, NodeKind.DIMENSION),
}


def _names(names: Iterable[str] | str | None) -> list[str]:
    """Non-empty, stripped names from a list or one comma-separated string."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    return [n.strip() for n in items if n and n.strip()]


def parse_relations(names: Iterable[str] | str | None) -> frozenset[Relation]:
    """Parse relation names (a list, or one comma-separated string); ``None`` or empty → lineage.

    Examples
    --------
    >>> sorted(parse_relations("input_to, drives"))
    [<Relation.DRIVES: 'DRIVES'>, <Relation.INPUT_TO: 'INPUT_TO'>]
    >>> parse_relations(None) == LINEAGE_RELATIONS
    True
    """
    wanted = _names(names)
    if not wanted:
        return LINEAGE_RELATIONS
    out: set[Relation] = set()
    for name in wanted:
        try:
            out.add(Relation(name.upper()))
        except ValueError:
            known = ", ".join(r.value for r in Relation)
            raise InvalidQueryError(
                _("unknown relation {name}; use one of {known}", name=repr(name), known=known),
                {"relation": name},
            ) from None
    return frozenset(out)


def parse_kinds(names: Iterable[str] | str | None) -> frozenset[NodeKind] | None:
    """Parse node kind names (case-insensitive); ``None`` or empty means every kind."""
    wanted = _names(names)
    if not wanted:
        return None
    by_lower = {k.value.lower(): k for k in NodeKind}
    out: set[NodeKind] = set()
    for name in wanted:
        kind = by_lower.get(name.lower())
        if kind is None:
            known = ", ".join(k.value for k in NodeKind)
            raise InvalidQueryError(
                _("unknown node kind {name}; use one of {known}", name=repr(name), known=known),
                {"kind": name},
            )
        out.add(kind)
    return frozenset(out)
