"""Node kinds, ids and typed node references (``Kind:id``)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from core.i18n import _
from graph_schema.errors import InvalidRefError


class NodeKind(StrEnum):
    """The closed set of node kinds. Also the Neo4j labels; never built from user input."""

    METRIC = "Metric"
    DIMENSION = "Dimension"
    SYSTEM = "System"
    TABLE = "Table"
    FIELD = "Field"
    DEPARTMENT = "Department"
    DASHBOARD = "Dashboard"


#: A slug: lower-case ASCII letter first, then letters, digits and underscores.
SLUG_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
#: One segment of a source id (system, table or field name); may start with ``_``.
SOURCE_SEGMENT_RE = re.compile(r"[a-z_][a-z0-9_]*\Z")

#: The longest id of any kind, checked when a catalog is validated; every route accepts ids
#: (and ``Kind:id`` refs) up to this long.
MAX_ID_LENGTH = 200
#: The longest ``Kind:id``.
MAX_REF_LENGTH = max(len(k.value) for k in NodeKind) + 1 + MAX_ID_LENGTH

#: How many dot-separated segments each kind's id has.
_SEGMENTS: dict[NodeKind, int] = {
    NodeKind.SYSTEM: 1,
    NodeKind.TABLE: 2,
    NodeKind.FIELD: 3,
}

_KIND_BY_LOWER = {k.value.lower(): k for k in NodeKind}
_KIND_BY_VALUE = {k.value: k for k in NodeKind}


def is_valid_id(kind: NodeKind, node_id: str) -> bool:
    """Whether ``node_id`` is a well-formed id for ``kind``.

    Examples
    --------
    >>> is_valid_id(NodeKind.METRIC, "atp")
    True
    >>> is_valid_id(NodeKind.FIELD, "dms.dms_orders.total_amount")
    True
    >>> is_valid_id(NodeKind.METRIC, "客单价")
    False
    >>> is_valid_id(NodeKind.METRIC, "a" * (MAX_ID_LENGTH + 1))
    False
    """
    if len(node_id) > MAX_ID_LENGTH:
        return False
    segments = _SEGMENTS.get(kind)
    if segments is None:
        return bool(SLUG_RE.match(node_id))
    parts = node_id.split(".")
    return len(parts) == segments and all(SOURCE_SEGMENT_RE.match(p) for p in parts)


class NodeRef(NamedTuple):
    """A typed reference to a node: its kind and its id, written ``Kind:id``.

    Examples
    --------
    >>> NodeRef.parse("Metric:atp")
    NodeRef(kind=<NodeKind.METRIC: 'Metric'>, id='atp')
    >>> str(NodeRef.parse("atp"))
    'Metric:atp'
    >>> str(NodeRef.parse("field:dms.dms_orders.order_id"))
    'Field:dms.dms_orders.order_id'
    """

    kind: NodeKind
    id: str

    def __str__(self) -> str:
        return self.kind + ":" + self.id  # NodeKind is a str: no enum lookup (hot in loads)

    @classmethod
    def parse(cls, text: str, default_kind: NodeKind = NodeKind.METRIC) -> NodeRef:
        """Parse ``Kind:id``; a bare id means ``default_kind``. Kind names are case-insensitive.

        Raises
        ------
        InvalidRefError
            When the kind is unknown or the id is malformed for that kind.
        """
        raw = text.strip()
        if ":" in raw:
            kind_text, _sep, node_id = raw.partition(":")
            kind = _KIND_BY_LOWER.get(kind_text.strip().lower())
            if kind is None:
                kinds = ", ".join(k.value for k in NodeKind)
                raise InvalidRefError(
                    _(
                        "unknown node kind {kind} in {text}; use one of {kinds}",
                        kind=repr(kind_text),
                        text=repr(text),
                        kinds=kinds,
                    )
                )
            node_id = node_id.strip()
        else:
            kind, node_id = default_kind, raw
        if not is_valid_id(kind, node_id):
            raise InvalidRefError(
                _(
                    "malformed {kind} id {id} in {text}; {rule}",
                    kind=kind.value,
                    id=repr(node_id),
                    text=repr(text),
                    rule=id_rule(kind),
                )
            )
        return cls(kind, node_id)

    @classmethod
    def from_stored(cls, text: str) -> NodeRef:
        """``str(ref)`` read back from a store that wrote it: no validation (it was validated on
        the way in), and a dict lookup instead of ``NodeKind(...)`` — this runs per edge.

        >>> NodeRef.from_stored("Field:dms.t.f")
        NodeRef(kind=<NodeKind.FIELD: 'Field'>, id='dms.t.f')
        """
        kind, _, node_id = text.partition(":")
        return cls(_KIND_BY_VALUE[kind], node_id)


def id_rule(kind: NodeKind) -> str:
    """A one-line description of the id format for ``kind``, for error messages."""
    most = MAX_ID_LENGTH
    if kind is NodeKind.SYSTEM:
        return _(
            "a system id is lower-case letters, digits and '_', e.g. 'dms' (at most {most} "
            "characters)",
            most=most,
        )
    if kind is NodeKind.TABLE:
        return _(
            "a table id is 'system.table', e.g. 'dms.dms_orders' (at most {most} characters)",
            most=most,
        )
    if kind is NodeKind.FIELD:
        return _(
            "a field id is 'system.table.field', e.g. 'dms.dms_orders.total_amount' (at most "
            "{most} characters)",
            most=most,
        )
    return _(
        "an id starts with a lower-case letter, then lower-case letters, digits or '_' (at "
        "most {most} characters)",
        most=most,
    )
