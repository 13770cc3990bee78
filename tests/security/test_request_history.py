"""A metric's ``history`` is its record of changes: written by loads and by applied change
requests, each entry naming who and when. A change request's definition carrying a
``history`` of its own replaced the metric's whole record — the approvers never saw it (the
field-by-field diff leaves ``history`` out), and the applied metric then showed the forged
entries in place of the real ones. A proposal's history is now the metric's own; one that
differs is refused by name."""

from __future__ import annotations

import pytest

from graph_schema.errors import CatalogError
from graph_schema.governance import Action
from graph_schema.ids import NodeRef
from tests.governance_helpers import GovernedMetric

ATP = NodeRef.parse("Metric:atp")
FORGED = [
    {"version": "1.0.0", "date": "2020-01-01", "change": "口径经财务总监批准", "author": "cfo"}
]


def test_a_request_cannot_rewrite_the_metrics_history(governed_atp: GovernedMetric) -> None:
    g = governed_atp
    store, users, gov, props = g.store, g.users, g.gov, g.props
    real = props.get("history")
    assert real and real != FORGED
    definition = {k: v for k, v in props.items() if k != "version"}
    definition["caveats"] = [*props.get("caveats", []), "x"]
    definition["history"] = FORGED
    with pytest.raises(CatalogError) as caught:
        gov.submit(users["zhang"], Action.UPDATE, ATP, definition, props["version"], "r")
    assert [i.field for i in caught.value.issues] == ["history"]
    # left out, it is the metric's own too
    definition.pop("history")
    left_out = gov.submit(users["zhang"], Action.UPDATE, ATP, definition, props["version"], "r")
    assert left_out.definition["history"] == real
    gov.withdraw(users["zhang"], left_out.id, None)
    # the metric's own history, sent back as read, is accepted, and kept at apply
    definition["history"] = real
    change = g.approved(definition)
    gov.apply(users["root"], change.id)
    after = store.get_nodes([ATP])[ATP].props()["history"]
    assert after[: len(real)] == real and len(after) == len(real) + 1
