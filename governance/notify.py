"""Notifications: message bodies per webhook format, and delivery from the persisted outbox.

Outbox items are written in the same ledger transaction as the event that causes them
(:mod:`governance.changes`); :class:`Deliverer` sends what is due, outside any request, with
retries and exponential back-off, and marks an item ``failed`` after ``max_attempts``. Items
survive restarts (they are rows in the store); ``kpigraph notifications retry`` puts failed items
back in the queue.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from core.i18n import DEFAULT_LANGUAGE, N_, Said, _, normalize, use
from governance import webhook_send
from graph_schema.governance import ChangeRequest, OutboxItem, OutboxStatus, now_iso
from store.ledger import Ledger

log = logging.getLogger("kpigraph.notify")

FORMATS = ("json", "wecom", "dingtalk", "feishu", "slack")
#: message ids, in the catalog's language when the notification is written (:func:`outbox_items`)
EVENT_TITLES = {
    "submit": N_("Change request submitted"),
    "approve": N_("Change request approved (stage)"),
    "approved": N_("Change request approved"),
    "reject": N_("Change request rejected"),
    "apply": N_("Change applied"),
    "withdraw": N_("Change request withdrawn"),
}
STATUSES = {
    "submitted": N_("submitted"),
    "owner_approved": N_("owner approved"),
    "approved": N_("approved"),
    "applied": N_("applied"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
#: C0/C1 control characters and bidi overrides: shown as U+FFFD, never passed to a chat client
#: (an RTL override makes a reason read backwards; ESC sequences reach terminals via curl).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def md_escape(text: str | None) -> str:
    r"""User text inside a Markdown message: special characters escaped, one line.

    Examples
    --------
    >>> md_escape("[click](http://evil) <b>*x*</b>\nnext")
    '\\[click\\]\\(http://evil\\) \\<b\\>\\*x\\*\\</b\\> next'
    """
    flat = _CONTROL.sub("\ufffd", " ".join((text or "").split()))
    return _MD_SPECIAL.sub(r"\\\1", flat)[:500]


def slack_escape(text: str | None) -> str:
    """User text inside a Slack ``mrkdwn`` message: Slack ignores backslashes and reads
    ``<url|label>`` as a link and ``<!channel>`` as a mention, so ``&``, ``<``, ``>`` become the
    entities Slack documents; one line, control characters replaced.

    Examples
    --------
    >>> slack_escape("<https://evil.example|approve here> <!channel> & *x*")
    '&lt;https://evil.example|approve here&gt; &lt;!channel&gt; &amp; *x*'
    """
    flat = _CONTROL.sub("\ufffd", " ".join((text or "").split()))
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")[:500]


def payload(
    change: ChangeRequest, event: str, actor: str, comment: str | None, base_url: str
) -> dict[str, Any]:
    """The generic JSON body (also what the Markdown bodies are made from)."""
    return {
        "event": event,
        "title": _(EVENT_TITLES[event]) if event in EVENT_TITLES else event,
        "at": now_iso(),
        "actor": actor,
        "comment": comment,
        "change": {
            "id": change.id,
            "ref": change.ref,
            "action": change.action.value,
            "status": change.status.value,
            "reason": change.reason,
            "requester": change.requester,
            "change_class": change.change_class,
            "new_version": change.new_version,
            "url": f"{base_url.rstrip('/')}/changes/{change.id}",
        },
    }


def markdown(body: dict[str, Any], md_escape: Callable[[str | None], str] = md_escape) -> str:
    c = body["change"]
    action, change_class = _(c["action"]), c["change_class"] or _("new")
    lines = [
        f"### {body['title']}",
        "- " + _("Request: {value}", value=f"#{c['id']} {md_escape(c['ref'])} ({action})"),
        "- " + _("Status: {value}", value=_(STATUSES.get(c["status"], c["status"]))),
        "- "
        + _(
            "Version: {value}",
            value=f"{md_escape(c['new_version'])} ({change_class})",
        ),
        "- "
        + _(
            "Requester: {requester}; by: {actor}",
            requester=md_escape(c["requester"]),
            actor=md_escape(body["actor"]),
        ),
        "- " + _("Reason: {value}", value=md_escape(c["reason"])),
    ]
    if body.get("comment"):
        lines.append("- " + _("Comment: {value}", value=md_escape(body["comment"])))
    lines.append("- " + _("Details: {value}", value=c["url"]))
    return "\n".join(lines)


def render(fmt: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body a webhook of format ``fmt`` accepts."""
    if fmt == "json":
        return body
    text = markdown(body)
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": body["title"], "text": text}}
    if fmt == "feishu":
        return {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": body["title"]}},
                "elements": [{"tag": "markdown", "content": text}],
            },
        }
    if fmt == "slack":
        return {"text": markdown(body, slack_escape)}
    raise ValueError(f"unknown notification format {fmt!r}; use one of {', '.join(FORMATS)}")


def outbox_items(
    change: ChangeRequest,
    event_seq: int,
    event: str,
    targets: Iterable[tuple[str, str]],
    actor: str,
    comment: str | None,
    base_url: str,
    language: str | None = None,
) -> list[OutboxItem]:
    """One item per distinct (url, format) target, keyed so a retried write adds none twice.
    The words are in the catalog's ``language`` (zh when it has none), whoever's browser or
    command caused the event."""
    with use(normalize(language) or DEFAULT_LANGUAGE):
        body = payload(change, event, actor, comment, base_url)
        rendered = {fmt: render(fmt, body) for _url, fmt in set(targets)}
    at = now_iso()
    items = []
    for url, fmt in sorted(set(targets)):
        items.append(
            OutboxItem(
                key=f"change:{change.id}:{event_seq}:{fmt}:{url}",
                url=url,
                format=fmt,
                event=event,
                change_id=change.id,
                body=rendered[fmt],
                next_at=at,
                created_at=at,
            )
        )
    return items


def _later(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat(
        timespec="microseconds"
    )


def failure_note(item: OutboxItem) -> str | None:
    """Why ``item``'s last attempt failed, in the language in use — its reader's, not the
    language of the server that sent it (a zh server's note reads in English for ``--lang
    en``); a failure the system words (a refused connection) as it was kept."""
    if item.last_error_said:
        return str(Said.from_json(item.last_error_said))[:300]
    return item.last_error


class Deliverer:
    """Sends due outbox items. ``deliver_due`` does one pass; ``start`` runs passes in a
    daemon thread every ``interval`` seconds until ``stop``.

    Back-off after the n-th failed attempt: ``base * 2**(n-1)`` seconds, at most ``cap``;
    after ``max_attempts`` the item is ``failed`` (kept, listable, retryable).
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        max_attempts: int = 5,
        base: float = 2.0,
        cap: float = 300.0,
        timeout: float = 5.0,
        interval: float = 1.0,
    ) -> None:
        self.ledger = ledger
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self.timeout = timeout
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def send(self, item: OutboxItem) -> None:
        """POST the item's body to its checked public address (:mod:`governance.webhook_send`);
        raises on anything but a ``2xx`` answer — a redirect is not followed."""
        data = json.dumps(item.body, ensure_ascii=False).encode()
        webhook_send.post(
            item.url,
            data,
            {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "kpigraph-notify",
            },
            self.timeout,
        )

    def deliver_due(self, limit: int = 20) -> int:
        """Deliver what is due now; the number delivered."""
        delivered = 0
        for _turn in range(limit):
            # one item a claim, its lease taken right before it is sent: a lease taken for a
            # whole batch ran out while the batch's earlier items were sent, and another server
            # process claimed and sent the rest again (a send ends by its deadline, within it)
            lease = _later(self.timeout * (webhook_send.DEADLINE_TIMEOUTS + 1) + 5)
            claimed = self.ledger.claim_due(now_iso(), lease, 1)
            if not claimed:
                break
            item = claimed[0]
            attempts = item.attempts + 1
            try:
                self.send(item)
            except Exception as exc:  # any failure is a failed attempt; the batch goes on
                error = f"{type(exc).__name__}: {exc}"[:300]
                said = exc.args[0] if len(exc.args) == 1 else None
                kept = (
                    Said.join(f"{type(exc).__name__}: ", said).to_json()
                    if isinstance(said, Said)
                    else None
                )
                failed = attempts >= self.max_attempts
                wait = min(self.base * 2 ** (attempts - 1), self.cap)
                self.ledger.update_outbox(
                    item.model_copy(
                        update={
                            "attempts": attempts,
                            "last_error": error,
                            "last_error_said": kept,
                            "status": OutboxStatus.FAILED if failed else OutboxStatus.PENDING,
                            "next_at": now_iso() if failed else _later(wait),
                        }
                    )
                )
                log.warning("notification %s to %s: %s", item.id, item.url, error)
                continue
            self.ledger.update_outbox(
                item.model_copy(
                    update={
                        "attempts": attempts,
                        "status": OutboxStatus.DELIVERED,
                        "delivered_at": now_iso(),
                        "last_error": None,
                        "last_error_said": None,
                    }
                )
            )
            delivered += 1
        return delivered

    def retry(self, ids: Iterable[int] | None = None) -> int:
        """Put failed items (all, or those with ``ids``) back in the queue, due now."""
        wanted = set(ids) if ids is not None else None
        count = 0
        for item in self.ledger.outbox(OutboxStatus.FAILED, limit=10_000):
            if wanted is not None and item.id not in wanted:
                continue
            self.ledger.update_outbox(
                item.model_copy(
                    update={"status": OutboxStatus.PENDING, "attempts": 0, "next_at": now_iso()}
                )
            )
            count += 1
        return count

    def poke(self) -> None:
        """Deliver soon (after a commit that added items)."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return

        def loop() -> None:
            failures = 0
            while not self._stop.is_set():
                try:
                    self.deliver_due()
                    failures = 0
                except Exception as exc:  # a down store must not kill the loop
                    if failures == 0:
                        log.warning("notification delivery paused: %s", exc)
                    failures += 1
                # after failures, wait longer (at most a minute) before the next pass
                self._wake.wait(min(self.interval * 2**failures, 60.0))
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="kpigraph-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 2)
            self._thread = None
