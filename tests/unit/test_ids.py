from __future__ import annotations

import pytest

from core.i18n import use
from graph_schema.errors import InvalidQueryError, InvalidRefError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import LINEAGE_RELATIONS, Relation, parse_kinds, parse_relations


def test_parse_refs() -> None:
    assert NodeRef.parse("atp") == NodeRef(NodeKind.METRIC, "atp")
    assert (
        str(NodeRef.parse("FIELD:dms.dms_orders.total_amount"))
        == "Field:dms.dms_orders.total_amount"
    )
    assert NodeRef.parse(" Table:dms.dms_orders ") == NodeRef(NodeKind.TABLE, "dms.dms_orders")


@pytest.mark.parametrize(
    "text",
    [
        "Nope:atp",
        "Metric:",
        "Metric:ATP",
        "Field:dms.orders",
        "Table:a.b.c",
        "x') DETACH DELETE n //",
        "Metric:a b",
        "客单价",
    ],
)
def test_malformed_refs(text: str) -> None:
    with pytest.raises(InvalidRefError):
        NodeRef.parse(text)


def test_relation_vocabulary() -> None:
    assert Relation.OWNS not in LINEAGE_RELATIONS
    assert Relation.SLICED_BY not in LINEAGE_RELATIONS
    assert len(LINEAGE_RELATIONS) == 8
    assert parse_relations("input_to,DRIVES") == {Relation.INPUT_TO, Relation.DRIVES}
    assert parse_relations("") == LINEAGE_RELATIONS
    with use("en"), pytest.raises(InvalidQueryError, match="unknown relation"):
        parse_relations("INPUT_TO]->(m) DETACH DELETE m//")
    with use("zh"), pytest.raises(InvalidQueryError, match=r"关系 .* 未知"):
        parse_relations("FOO")
    assert parse_kinds("metric, field") == {NodeKind.METRIC, NodeKind.FIELD}
    with pytest.raises(InvalidQueryError):
        parse_kinds("Metric:Foo")
