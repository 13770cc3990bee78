"""The change workflow end to end on both backends: propose → owner approvals → committee →
apply (new version, revision, 版本记录) → departments notified through a real local webhook;
and the reliability cases: concurrent approvals, two requests on one metric, an apply killed
midway, a restart with undelivered notifications, a webhook that is down."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from core.publish import publish
from governance.changes import Governance
from governance.notify import Deliverer
from graph_schema.governance import (
    Action,
    AlreadyProposedError,
    ChangeStateError,
    ChangeStatus,
    OutboxStatus,
    PermissionDeniedError,
)
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import Metric
from graph_schema.relations import Relation
from store.base import GraphStore, Walk
from store.ledger import ledger_for
from tests.governance_helpers import (
    Receiver,
    free_port,
    fresh_ledger,
    make_people,
    receiver,
    with_webhooks,
)
from tests.helpers import ROOT

ATP = NodeRef.parse("Metric:atp")


def atp_props(store: GraphStore) -> dict[str, Any]:
    node = store.get_nodes([ATP])[ATP]
    assert isinstance(node, Metric)
    return node.props()


def propose_formula(gov: Governance, user: Any, store: GraphStore, formula: str) -> Any:
    props = atp_props(store)
    definition = {k: v for k, v in props.items() if k != "version"}
    definition["formula"] = formula
    return gov.submit(user, Action.UPDATE, ATP, definition, props.get("version"), "口径调整")


def approve_all(gov: Governance, users: dict[str, Any], change_id: int) -> Any:
    change = None
    for name in ("li", "qian", "wang"):
        change = gov.approve(users[name], change_id, f"ok from {name}")
    return change


@pytest.fixture
def hooked(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> Callable[[Receiver], tuple[GraphStore, Governance, dict[str, Any]]]:
    """A store holding the demo whose ops/finance/it departments post to ``rec``."""

    def build(rec: Receiver) -> tuple[GraphStore, Governance, dict[str, Any]]:
        store = make_store()
        hooks = {
            "ops": [{"url": rec.url("/ops"), "format": "wecom"}],
            "finance": [{"url": rec.url("/finance"), "format": "json"}],
            "it": [{"url": rec.url("/it"), "format": "slack"}],
        }
        publish(store, with_webhooks(demo_graph, hooks))  # as 'kpigraph load' does
        ledger = fresh_ledger(store)
        users, _tokens = make_people(ledger)
        return store, Governance(store, ledger), users

    return build


def test_whole_cycle_notifies_departments(hooked: Any) -> None:
    with receiver() as rec:
        store, gov, users = hooked(rec)
        before = atp_props(store)
        change = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        assert change.status is ChangeStatus.SUBMITTED
        assert change.change_class == "major" and change.new_version == "2.0.0"
        assert [s.stage for s in change.approvals_required] == ["owner", "owner", "committee"]
        assert change.diff == [
            {
                "field": "formula",
                "old": before["formula"],
                "new": "revenue / visits * 1",
                "change_class": "major",
            }
        ]
        with pytest.raises(PermissionDeniedError):
            gov.approve(users["zhang"], change.id, None)  # own request
        with pytest.raises(PermissionDeniedError):
            gov.approve(users["wang"], change.id, None)  # committee before the owners
        assert approve_all(gov, users, change.id).status is ChangeStatus.APPROVED
        with pytest.raises(PermissionDeniedError):
            gov.apply(users["wang"], change.id)
        head = store.head()
        applied = gov.apply(users["root"], change.id)
        assert applied.status is ChangeStatus.APPLIED
        assert applied.applied_revision == store.head() == head + 1
        revision = store.revision(store.head())
        assert revision.author == "zhang" and "change request #1" in (revision.message or "")
        assert revision.source["change_request"] == change.id
        assert [c.ref for c in revision.node_changes] == ["Metric:atp"]
        after = atp_props(store)
        assert after["formula"] == "revenue / visits * 1" and after["version"] == "2.0.0"
        assert after["history"][-1]["version"] == "2.0.0"
        assert after["history"][-1]["change"] == "口径调整"
        events = [(e.event, e.to_status) for e in gov.timeline(change.id)]
        assert events == [
            ("submit", "submitted"),
            ("approve", "submitted"),
            ("approve", "owner_approved"),
            ("approved", "approved"),
            ("apply", "applied"),
        ]
        Deliverer(gov.ledger).deliver_due(limit=100)
        ops = rec.bodies("/ops")
        assert [b["msgtype"] for b in ops] == ["markdown"] * 5
        assert "2.0.0" in ops[-1]["markdown"]["content"]
        finance = rec.bodies("/finance")
        assert [b["event"] for b in finance] == [
            "submit",
            "approve",
            "approve",
            "approved",
            "apply",
        ]
        assert finance[-1]["change"]["status"] == "applied"
        assert all(i.status is OutboxStatus.DELIVERED for i in gov.ledger.outbox())


def test_concurrent_approvals_one_wins(hooked: Any) -> None:
    with receiver() as rec:
        store, gov, users = hooked(rec)
        change = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        gov.approve(users["li"], change.id, None)
        gov.approve(users["qian"], change.id, None)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def committee(name: str) -> None:
            other = Governance(gov.store, ledger_for(gov.store))  # its own connection
            barrier.wait()
            try:
                other.approve(users[name], change.id, name)
                outcomes.append("won")
            except (ChangeStateError, PermissionDeniedError) as exc:
                outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=committee, args=(n,)) for n in ("wang", "zhao")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count("won") == 1, outcomes
        final = gov.get(change.id)
        assert final.status is ChangeStatus.APPROVED
        assert [a.stage for a in final.approvals].count("committee") == 1
        assert [e.event for e in gov.timeline(change.id)].count("approved") == 1


def test_second_request_on_a_metric_gets_409(hooked: Any) -> None:
    with receiver() as rec:
        store, gov, users = hooked(rec)
        first = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        second = propose_formula(gov, users["zhang"], store, "revenue / visits * 2")
        approve_all(gov, users, first.id)
        approve_all(gov, users, second.id)
        gov.apply(users["root"], first.id)
        with pytest.raises(ChangeStateError, match="changed since"):
            gov.apply(users["root"], second.id)
        assert atp_props(store)["formula"] == "revenue / visits * 1"
        stuck = gov.get(second.id)
        assert stuck.status is ChangeStatus.APPROVED and stuck.conflict
        assert gov.timeline(second.id)[-1].event == "conflict"
        gov.reject(users["wang"], second.id, "superseded")
        assert gov.get(second.id).status is ChangeStatus.REJECTED


def test_the_same_proposal_again_is_refused_naming_the_open_request(hooked: Any) -> None:
    """A committee approves each request on its own: a second request asking exactly what an
    open one asks (same metric, version and definition — whoever asks) would split their
    approvals, so it is refused naming the first. Another definition is another request, and
    once the first is closed the same proposal may be made again."""
    with receiver() as rec:
        store, gov, users = hooked(rec)
        first = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        with pytest.raises(AlreadyProposedError) as refused:
            propose_formula(gov, users["li"], store, "revenue / visits * 1")
        assert refused.value.details["id"] == first.id
        assert refused.value.details["requester"] == "zhang"
        assert f"#{first.id}" in refused.value.message
        assert len(gov.ledger.changes(None, str(ATP))) == 1
        other = propose_formula(gov, users["zhang"], store, "revenue / visits * 2")
        assert other.id != first.id
        gov.withdraw(users["zhang"], first.id, None)
        again = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        assert again.id not in (first.id, other.id)


def test_two_processes_submitting_one_proposal_at_once_make_one_request(hooked: Any) -> None:
    """Both servers read before either wrote (their quick check found nothing): the check in
    the ledger's write transaction still lets one through and names it to the other."""
    with receiver() as rec:
        store, gov, users = hooked(rec)
        barrier = threading.Barrier(2)
        outcomes: list[Any] = []

        def server(name: str) -> None:
            ledger = ledger_for(gov.store)  # its own connection
            ledger.changes = lambda *_a, **_k: []  # type: ignore[method-assign]
            other = Governance(gov.store, ledger)
            barrier.wait()
            try:
                outcomes.append(propose_formula(other, users[name], store, "revenue / visits * 3"))
            except AlreadyProposedError as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=server, args=(n,)) for n in ("zhang", "li")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        made = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, AlreadyProposedError)]
        assert len(made) == 1 and len(refused) == 1, outcomes
        assert refused[0].details["id"] == made[0].id
        assert [c.id for c in gov.ledger.changes(None, str(ATP))] == [made[0].id]


CHILD = r"""
import os, sys
sys.path.insert(0, {root!r})
from tests.contract.governance_child import open_store
from governance.changes import Governance
from store.ledger import ledger_for
store = open_store({spec!r})
gov = Governance(store, ledger_for(store))
from store import embedded_history, neo4j_history
def dying_record(*args, **kwargs):
    os._exit(9)   # killed inside the apply's transaction, its rows written, before commit
embedded_history.record = dying_record
neo4j_history.record = dying_record
admin = ledger_for(store).user("root")
gov.apply(admin, {change_id})
"""


def test_apply_killed_midway_changes_nothing(
    hooked: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    with receiver() as rec:
        store, gov, users = hooked(rec)
        before = atp_props(store)
        change = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        approve_all(gov, users, change.id)
        spec = _spec(store, request)
        code = CHILD.format(root=str(ROOT), spec=spec, change_id=change.id)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        assert proc.returncode == 9, proc.stderr.decode()[-2000:]
        assert atp_props(store) == before
        assert gov.get(change.id).status is ChangeStatus.APPROVED
        assert gov.apply(users["root"], change.id).status is ChangeStatus.APPLIED
        assert atp_props(store)["version"] == "2.0.0"


def test_apply_dying_at_the_ledger_write_changes_nothing(
    hooked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The revision and the request's "applied" are one transaction: a failure writing the
    request rolls the revision back too (it used to leave the graph changed and the request
    approved), and the next apply writes both once."""
    from store import embedded_ledger, neo4j_ledger

    with receiver() as rec:
        store, gov, users = hooked(rec)
        change = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        approve_all(gov, users, change.id)
        before = atp_props(store)
        head = store.head()

        def dies(*args: Any, **kwargs: Any) -> bool:
            raise SystemExit("killed while writing the request in the revision's transaction")

        for module in (embedded_ledger, neo4j_ledger):
            monkeypatch.setattr(module, "write_change", dies)
        with pytest.raises(SystemExit):
            gov.apply(users["root"], change.id)
        monkeypatch.undo()
        assert atp_props(store) == before
        assert store.head() == head
        assert gov.get(change.id).status is ChangeStatus.APPROVED
        applied = gov.apply(users["root"], change.id)
        assert applied.status is ChangeStatus.APPLIED
        assert applied.applied_revision == head + 1 == store.head()
        assert len([h for h in atp_props(store)["history"] if h["version"] == "2.0.0"]) == 1


def test_undelivered_notifications_survive_a_restart(
    hooked: Any, reopen_store: Callable[[GraphStore], GraphStore]
) -> None:
    port = free_port()
    with receiver(port) as rec:
        rec.fail = True  # nothing gets through before the "restart"
        store, gov, users = hooked(rec)
        propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        assert [i.status for i in gov.ledger.outbox()] == [OutboxStatus.PENDING] * 2
    # a new process: another handle on the same store, a new deliverer
    again = reopen_store(store)
    with receiver(port) as rec2:
        delivered = Deliverer(ledger_for(again)).deliver_due()
        assert delivered == 2
        assert [b["event"] for b in rec2.bodies("/finance")] == ["submit"]
        assert rec2.bodies("/ops")[0]["msgtype"] == "markdown"
    again.close()


def test_webhook_down_is_retried_then_failed_then_retried_by_hand(hooked: Any) -> None:
    port = free_port()
    with receiver(port) as rec:
        store, gov, users = hooked(rec)
    # the receiver is gone: connection refused
    propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
    deliverer = Deliverer(gov.ledger, max_attempts=3, base=0.0, timeout=2)
    for _ in range(3):
        assert deliverer.deliver_due() == 0
    items = gov.ledger.outbox()
    assert {i.status for i in items} == {OutboxStatus.FAILED}
    assert {i.attempts for i in items} == {3}
    assert all("refused" in (i.last_error or "").lower() or i.last_error for i in items)
    assert deliverer.retry() == 2
    with receiver(port) as back:
        assert deliverer.deliver_due() == 2
        assert len(back.received) == 2


def _spec(store: GraphStore, request: pytest.FixtureRequest) -> dict[str, Any]:
    if store.backend == "embedded":
        return {"backend": "embedded", "path": str(store.path)}  # type: ignore[attr-defined]
    conn = request.getfixturevalue("neo4j_connection")
    return {"backend": "neo4j", "uri": conn.uri, "user": conn.user, "password": conn.password}


def test_a_load_that_changes_the_metric_conflicts_pending_requests(
    hooked: Any, demo_graph: CatalogGraph
) -> None:
    with receiver() as rec:
        store, gov, users = hooked(rec)
        change = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        assert gov.with_live_conflict(gov.get(change.id)).conflict is None
        nodes = []
        for node in demo_graph.nodes:  # a load from git bumps atp
            if node.ref == ATP:
                node = Metric.model_validate({**node.props(), "unit": "元", "version": "1.2.0"})
            nodes.append(node)
        store.load(CatalogGraph(demo_graph.name, tuple(nodes), demo_graph.edges, demo_graph.meta))
        shown = gov.with_live_conflict(gov.get(change.id))
        assert shown.conflict and "1.2.0" in shown.conflict
        approve_all(gov, users, change.id)
        with pytest.raises(ChangeStateError):
            gov.apply(users["root"], change.id)
        assert atp_props(store)["unit"] == "元"


def test_caliber_change_applies(hooked: Any) -> None:
    with receiver() as rec:
        store, gov, users = hooked(rec)
        props = atp_props(store)
        definition = {k: v for k, v in props.items() if k != "version"}
        caliber = dict(definition["caliber"])
        caliber["numerator"] = {
            **caliber["numerator"],
            "excludes": [*caliber["numerator"]["excludes"], "延保代收款"],
        }
        definition["caliber"] = caliber
        change = gov.submit(
            users["zhang"], Action.UPDATE, ATP, definition, props["version"], "排除延保代收款"
        )
        assert [d["field"] for d in change.diff] == ["caliber.numerator"]
        approve_all(gov, users, change.id)
        assert gov.apply(users["root"], change.id).status is ChangeStatus.APPLIED
        assert "延保代收款" in atp_props(store)["caliber"]["numerator"]["excludes"]


def test_create_and_deprecate_apply(hooked: Any) -> None:
    with receiver() as rec:
        store, gov, users = hooked(rec)
        new = NodeRef.parse("Metric:atp_store5")
        created = gov.submit(
            users["zhang"],
            Action.CREATE,
            new,
            {"name": "第五店客单价", "level": "L3", "owner": "ops", "formula": "revenue / visits"},
            None,
            "第五家门店的口径",
        )
        assert [s.department for s in created.approvals_required] == ["ops"]
        gov.approve(users["li"], created.id, None)  # L3, one owner: no committee stage
        assert gov.get(created.id).status is ChangeStatus.APPROVED
        gov.apply(users["root"], created.id)
        node = store.get_nodes([new])[new]
        assert isinstance(node, Metric) and node.version == "1.0.0"
        inputs = store.edges_of([new], Walk.BACKWARD, [Relation.INPUT_TO])
        assert sorted(str(e.source) for e in inputs) == ["Metric:revenue", "Metric:visits"]
        gone = gov.submit(users["zhang"], Action.DEPRECATE, new, None, "1.0.0", "合并到客单价")
        assert gone.diff[0]["field"] == "status" and gone.new_version == "1.1.0"
        gov.approve(users["li"], gone.id, None)
        gov.apply(users["root"], gone.id)
        node = store.get_nodes([new])[new]
        assert isinstance(node, Metric) and node.status.value == "deprecated"


def test_a_proposal_from_a_stale_file_is_refused_naming_the_request(hooked: Any) -> None:
    """Issue #22 (2): ``propose FILE`` with a file still at 1.1.0 after change #1 took the store
    to 2.0.0 became a major request silently removing #1's change; now 409 naming #1."""
    with receiver() as rec:
        store, gov, users = hooked(rec)
        old = atp_props(store)
        change = propose_formula(gov, users["zhang"], store, "revenue / visits * 1")
        approve_all(gov, users, change.id)
        gov.apply(users["root"], change.id)
        stale = {k: v for k, v in old.items() if k not in ("version", "history")}
        stale["definition"] = "改了措辞"
        with pytest.raises(ChangeStateError) as caught:
            gov.submit(users["zhang"], Action.UPDATE, ATP, stale, old["version"], "wording")
        message = caught.value.message
        assert f"#{change.id}" in message and "kpigraph pull" in message
        assert old["version"] in message and "2.0.0" in message
