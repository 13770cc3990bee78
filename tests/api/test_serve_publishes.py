"""Issue #22 (4): ``serve --demo`` and ``serve --catalog`` publish exactly as ``kpigraph load``.

Before, both loaded without automatic versions, so the first change applied afterwards
"changed" every unversioned metric (``version: — → 1.0.0`` on ~31 nodes attributed to change
#1). Now revision 1 carries the automatic versions and its source, and one applied change
records exactly one modified node.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.changes import Governance
from graph_schema.governance import Action, ChangeStatus
from graph_schema.ids import NodeRef
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO
from tests.serve_process import serving


def _serve_once(args: list[str], db: Path, log: Path) -> None:
    """Start ``kpigraph serve ARGS`` over the store ``db``, wait until it answers, stop it."""
    with serving(args, db, log):
        pass


@pytest.mark.parametrize("mode", ["demo", "catalog"])
def test_first_applied_change_records_one_modified_node(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "kpigraph.sqlite"
    args = ["--demo"] if mode == "demo" else ["--catalog", str(DEMO)]
    _serve_once(args, db, tmp_path / "serve.log")
    path = db.parent / "kpigraph-demo.sqlite" if mode == "demo" else db
    store = EmbeddedStore(path)
    try:
        assert store.head() == 1
        first = store.revision(1)
        assert first.auto_versions, "revision 1 records the automatic versions"
        assert first.source.get("path") == str(DEMO.resolve())
        atp = NodeRef.parse("Metric:atp")
        unversioned = [
            ref for ref, node in store.get_nodes([atp]).items() if not node.props().get("version")
        ]
        assert not unversioned
        ledger = fresh_ledger(store)
        users, _ = make_people(ledger)
        gov = Governance(store, ledger)
        props = store.get_nodes([atp])[atp].props()
        definition = {k: v for k, v in props.items() if k not in ("version", "history")}
        definition["caveats"] = [*props.get("caveats", []), "不含延保代收款"]
        change = gov.submit(
            users["zhang"], Action.UPDATE, atp, definition, props["version"], "排除延保代收款"
        )
        for name in ("li", "qian", "wang"):
            gov.approve(users[name], change.id, "ok")
        applied = gov.apply(users["root"], change.id)
        assert applied.status is ChangeStatus.APPLIED
        second = store.revision(2)
        assert second.nodes.modified == 1 and second.nodes.added == 0
        assert [c.ref for c in second.node_changes] == ["Metric:atp"]
        if mode == "demo":  # a restart serves the demo as changed, not the files again
            _serve_once(args, db, tmp_path / "serve2.log")
            assert store.head() == 2
    finally:
        store.close()
