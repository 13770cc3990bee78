"""The ledger write of one transition of a change request: its new state (compare-and-set on
its ``seq``), its timeline event and the notifications of the departments it concerns, in
the catalog's language (:class:`TransitionWriter`, the base of
:class:`governance.changes.Governance`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from governance import workflow
from governance.notify import outbox_items
from graph_schema.governance import (
    ChangeEvent,
    ChangeRequest,
    ChangeStateError,
    LedgerCommit,
    User,
    now_iso,
)
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Department
from store.base import GraphStore
from store.ledger import Ledger


class TransitionWriter:
    """Writes a change request's transitions into ``ledger``: the request, its event and its
    notifications in one ledger transaction (departments are read from ``store``, or from
    the graph a proposal was checked against)."""

    store: GraphStore
    ledger: Ledger
    base_url: str
    #: called after a commit that queued notifications
    on_commit: Any

    def _departments(self, change: ChangeRequest, *, impacted: bool = False) -> list[str]:
        depts = {s.department for s in change.approvals_required if s.department}
        if impacted:
            for d in change.impact.get("departments", []):
                depts.add(str(d.get("ref", "")).split(":", 1)[-1])
        return sorted(d for d in depts if d)

    def _department_names(self, change: ChangeRequest) -> dict[str, str]:
        """id → name of the departments whose approval ``change`` requires (财务部, not finance)."""
        refs = [NodeRef(NodeKind.DEPARTMENT, d) for d in self._departments(change)]
        return {ref.id: node.name for ref, node in self.store.get_nodes(refs).items()}

    def _language(self, graph: CatalogGraph | None) -> str | None:
        """The catalog's ``language`` (notifications are written in it)."""
        meta = graph.meta if graph is not None else self.store.info().meta
        lang = meta.get("language") if isinstance(meta, dict) else None
        return lang if isinstance(lang, str) else None

    def _targets(
        self, departments: Iterable[str], graph: CatalogGraph | None
    ) -> list[tuple[str, str]]:
        refs = [NodeRef(NodeKind.DEPARTMENT, d) for d in departments]
        if graph is not None:
            nodes = {n.ref: n for n in graph.nodes if n.ref in set(refs)}
        else:
            nodes = dict(self.store.get_nodes(refs))
        out: list[tuple[str, str]] = []
        for node in nodes.values():
            if isinstance(node, Department):
                out += [(t.url, t.format) for t in node.notify]
        return out

    def _prepare(
        self,
        new: ChangeRequest,
        old: ChangeRequest | None,
        user: User,
        event: str,
        comment: str | None,
        stage: str | None,
        department: str | None,
        tell: Iterable[str],
        graph: CatalogGraph | None = None,
    ) -> LedgerCommit:
        """The ledger write of one transition: the request's new state (next ``seq``), its
        timeline event and its notifications, compare-and-set on the old ``seq``."""
        if (
            old is not None
            and not workflow.can_move(old.status, new.status)
            and event not in ("conflict", "writeback", "writeback_failed")
        ):
            raise ChangeStateError(
                f"change request #{old.id}: {old.status.value} → {new.status.value} is not a "
                "transition of the workflow"
            )
        seq = (old.seq if old else 0) + 1
        at = now_iso()
        new = new.model_copy(update={"seq": seq, "updated_at": at})
        record = ChangeEvent(
            change_id=new.id,
            seq=seq,
            at=at,
            actor=user.name,
            event=event,
            from_status=old.status.value if old else None,
            to_status=new.status.value,
            stage=stage,
            department=department,
            comment=comment,
        )
        items = (
            outbox_items(
                new,
                seq,
                event,
                self._targets(tell, graph),
                user.name,
                comment,
                self.base_url,
                language=self._language(graph),
            )
            if event not in ("conflict", "writeback", "writeback_failed")
            else []
        )
        return LedgerCommit(new, old.seq if old else None, record, items)

    def _committed(self, commit: LedgerCommit) -> None:
        if commit.outbox and self.on_commit is not None:
            self.on_commit()

    def _commit(
        self,
        new: ChangeRequest,
        old: ChangeRequest | None,
        user: User,
        event: str,
        comment: str | None,
        stage: str | None,
        department: str | None,
        tell: Iterable[str],
        graph: CatalogGraph | None = None,
    ) -> bool:
        commit = self._prepare(new, old, user, event, comment, stage, department, tell, graph)
        ok = self.ledger.commit_change(
            commit.change, commit.expected_seq, commit.event, commit.outbox
        )
        if ok:
            self._committed(commit)
        return ok
