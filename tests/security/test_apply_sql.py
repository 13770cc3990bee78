"""Issue #21: a change request stored before the SQL sandbox existed (or a ledger edited by
hand) cannot bring unsafe SQL into the graph at apply — the delta refuses it by name."""

from __future__ import annotations

from typing import Any

import pytest

from graph_schema.governance import ChangeStateError, ChangeStatus
from graph_schema.ids import NodeRef
from tests.governance_helpers import GovernedMetric

ATP = NodeRef.parse("Metric:atp")


def _edit(props: dict[str, Any]) -> dict[str, Any]:
    definition = {k: v for k, v in props.items() if k not in ("version", "history")}
    definition["caveats"] = [*props.get("caveats", []), "x"]
    return definition


def test_a_stored_request_with_unsafe_sql_is_refused_at_apply(governed_atp: GovernedMetric) -> None:
    g = governed_atp
    store, ledger, users, gov, props = g.store, g.ledger, g.users, g.gov, g.props
    change = g.approved(_edit(props))
    # the stored request is altered as an old ledger could hold it: the sandbox never saw it
    hostile = {**change.definition, "sql": "SELECT read_text('/proc/self/cmdline')"}
    forged = change.model_copy(update={"definition": hostile})
    current = gov.get(change.id)
    event = gov.timeline(change.id)[-1].model_copy(update={"seq": current.seq + 1})
    assert ledger.commit_change(
        forged.model_copy(update={"seq": current.seq + 1}), current.seq, event, []
    )
    before = store.head()
    with pytest.raises(ChangeStateError, match="read_text"):
        gov.apply(users["root"], change.id)
    assert store.head() == before
    assert store.get_nodes([ATP])[ATP].props().get("sql") == props.get("sql")
    assert gov.get(change.id).status is ChangeStatus.APPROVED


def test_a_stored_request_naming_another_metric_is_refused_at_apply(
    governed_atp: GovernedMetric,
) -> None:
    """The definition's id is checked at submit; a ledger edited by hand could name another
    metric, whose edges the delta would then write under this request's metric."""
    g = governed_atp
    store, ledger, users, gov, props = g.store, g.ledger, g.users, g.gov, g.props
    change = g.approved(_edit(props))
    hostile = {**change.definition, "id": "customer_satisfaction"}
    current = gov.get(change.id)
    event = gov.timeline(change.id)[-1].model_copy(update={"seq": current.seq + 1})
    forged = change.model_copy(update={"definition": hostile, "seq": current.seq + 1})
    assert ledger.commit_change(forged, current.seq, event, [])
    before = store.head()
    other = NodeRef.parse("Metric:customer_satisfaction")
    was = store.get_nodes([other])[other].props()
    with pytest.raises(ChangeStateError, match="customer_satisfaction"):
        gov.apply(users["root"], change.id)
    assert store.head() == before
    assert store.get_nodes([other])[other].props() == was
    assert store.get_nodes([ATP])[ATP].props() == props
