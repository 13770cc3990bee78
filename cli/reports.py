"""``kpigraph report monthly|quarterly [--send]`` (seed 001 第五步): the monthly usage report per
department and the quarterly digest; ``--send`` puts one notice per department webhook into the
notification outbox (delivered by a running server, or ``kpigraph notifications``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import emit_json, json_option, out, safe, store_options
from cli.help_text import Group
from core.i18n import N_, _

if TYPE_CHECKING:
    from core.settings import Settings
    from graph_schema.governance import OutboxItem
    from store.base import GraphStore
    from store.ledger import Ledger

#: message ids (shown through ``_`` in the language in use)
TEXT = {
    "queued": N_("{n} notice(s) queued in the outbox ({m} already there)"),
    "monthly_row": N_("{rank}. {name}: {reads} reads, {metrics} metrics{low}"),
    "low": N_("  (reminder: little use)"),
    "anonymous": N_("    anonymous: {n} reads"),
    "digest_dept": "{name}:",
    "digest_row": "   {op:<8} {name} ({id}) {version}",
}


@click.group(name="report", cls=Group)
def report_group() -> None:
    """Monthly usage per department, the quarterly digest."""


@report_group.command("monthly")
@click.option("--month", default=None, help="YYYY-MM (default: last month)")
@click.option("--send", is_flag=True, help="queue one notice per department webhook")
@store_options
@json_option
def monthly(
    month: str | None, send: bool, as_json: bool, store: GraphStore, settings: Settings
) -> None:
    """Reads per department in a month (the monthly bulletin), anonymous reads apart."""
    from governance import reports as svc
    from store.ledger import ledger_for

    ledger = ledger_for(store)
    try:
        graph = store.catalog()
        report = svc.monthly_report(graph, ledger, month or svc.last_month())
        if send:
            _queue(ledger, svc.monthly_items(graph, report))
    finally:
        ledger.close()
    if as_json:
        emit_json(report.to_json())
        return
    for rank, r in enumerate(report.rows, 1):
        low = _(TEXT["low"]) if r.low or not r.reads else ""
        line = _(
            TEXT["monthly_row"],
            rank=f"{rank:>2}",
            name=r.name,
            reads=r.reads,
            metrics=r.metrics,
            low=low,
        )
        out().print(safe(line))
    out().print(_(TEXT["anonymous"], n=report.anonymous))


@report_group.command("quarterly")
@click.option("--quarter", default=None, help="YYYY-Qn (default: last quarter)")
@click.option("--send", is_flag=True, help="queue one notice per department webhook")
@store_options
@json_option
def quarterly(
    quarter: str | None, send: bool, as_json: bool, store: GraphStore, settings: Settings
) -> None:
    """Metrics added or changed this quarter, per department that owns or reviews them."""
    from governance import reports as svc
    from store.ledger import ledger_for

    digest = svc.quarterly_digest(store, quarter or svc.last_quarter())
    if send:
        ledger = ledger_for(store)
        try:
            _queue(ledger, svc.quarterly_items(store.catalog(), digest))
        finally:
            ledger.close()
    if as_json:
        emit_json(digest.to_json())
        return
    for dept in digest.to_json()["departments"]:
        out().print(safe(TEXT["digest_dept"].format(name=dept["name"])))
        for m in dept["metrics"]:
            line = TEXT["digest_row"].format(
                op=svc.said(m["op"]) if m["op"] in svc.TEXT else m["op"],
                name=m["name"],
                id=m["id"],
                version=m["version"] or "",
            )
            out().print(safe(line))


def _queue(ledger: Ledger, items: list[OutboxItem]) -> None:
    added = ledger.enqueue(items)
    out().print(_(TEXT["queued"], n=added, m=len(items) - added))
