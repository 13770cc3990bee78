"""``kpigraph notifications list|retry``: the persisted notification outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import emit_json, json_option, out, safe, store_options
from cli.help_text import Group
from core.i18n import N_, _

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore


#: message ids (shown through ``_`` in the language in use)
TEXT = {
    "retried": N_("{queued} failed item(s) queued again; {delivered} delivered now"),
}
#: the outbox table's columns
COLUMNS = (
    N_("outbox id"),
    N_("outbox status"),
    N_("event"),
    N_("change request"),
    N_("webhook url"),
    N_("message format"),
    N_("attempts"),
    N_("last error"),
)
#: an item's status in words
STATUS_WORDS = {
    "pending": N_("outbox: pending"),
    "delivered": N_("outbox: delivered"),
    "failed": N_("outbox: failed"),
}


@click.group("notifications", cls=Group)
def notifications_group() -> None:
    """Webhook notifications of change requests (departments' ``notify:``)."""


@notifications_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "delivered", "failed"]),
    default=None,
    help="only notifications in this delivery state",
)
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=50, help="at most this many, newest first"
)
@store_options
@json_option
def list_items(
    status: str | None, limit: int, as_json: bool, store: GraphStore, settings: Settings
) -> None:
    """Outbox items, newest first: where to, what, how many attempts, the last error."""
    from rich.table import Table

    from governance.notify import failure_note
    from graph_schema.governance import OutboxStatus
    from store.ledger import ledger_for

    ledger = ledger_for(store)
    try:
        items = ledger.outbox(OutboxStatus(status) if status else None, limit)
    finally:
        ledger.close()
    if as_json:  # the failure note in the reader's language, as in the table
        emit_json(
            [
                i.model_dump(mode="json", exclude={"body", "last_error_said"})
                | {"last_error": failure_note(i)}
                for i in items
            ]
        )
        return
    table = Table(*(_(c) for c in COLUMNS))
    for i in items:
        table.add_row(
            str(i.id),
            _(STATUS_WORDS[i.status.value]) if i.status.value in STATUS_WORDS else i.status.value,
            i.event,
            f"#{i.change_id}",
            safe(i.url),
            i.format,
            str(i.attempts),
            safe(failure_note(i) or ""),
        )
    out().print(table)


@notifications_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option(
    "--deliver/--no-deliver", default=True, help="deliver now (default) or leave it to the server"
)
@store_options
def retry(ids: tuple[int, ...], deliver: bool, store: GraphStore, settings: Settings) -> None:
    """Queue failed items again (all, or the given ids) and try to deliver what is due."""
    from governance.notify import Deliverer
    from store.ledger import ledger_for

    ledger = ledger_for(store)
    try:
        deliverer = Deliverer(ledger)
        queued = deliverer.retry(ids or None)
        delivered = deliverer.deliver_due(limit=1000) if deliver else 0
    finally:
        ledger.close()
    out().print(_(TEXT["retried"], queued=queued, delivered=delivered))
