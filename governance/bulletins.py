"""Notices to departments that belong to no change request — the monthly usage report, the
quarterly digest, the review's change notices (#28) — as notification outbox items, one per
department webhook, in the formats of :mod:`governance.notify`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from governance.notify import md_escape, slack_escape
from graph_schema.governance import OutboxItem, now_iso
from graph_schema.graph import CatalogGraph
from graph_schema.models import Department


def wrap(fmt: str, title: str, lines: list[str], body: dict[str, Any]) -> dict[str, Any]:
    """The body a webhook of format ``fmt`` accepts: ``body`` itself for ``json``, else a
    Markdown message of ``title`` and ``lines`` (catalog text in them is escaped here)."""
    if fmt == "json":
        return body
    escape = slack_escape if fmt == "slack" else md_escape
    text = "\n".join([f"### {escape(title)}", *(f"- {escape(line)}" for line in lines)])
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if fmt == "feishu":
        return {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": [{"tag": "markdown", "content": text}],
            },
        }
    return {"text": text}


def department_items(
    graph: CatalogGraph,
    key: str,
    event: str,
    notices: dict[str, tuple[str, list[str], dict[str, Any]]],
) -> list[OutboxItem]:
    """One outbox item per webhook of each department of ``notices`` (department id →
    (title, lines, JSON body)); ``key`` makes a second send of the same notice add nothing."""
    at = now_iso()
    items = []
    for dept in _departments(graph):
        if dept.id not in notices:
            continue
        title, lines, body = notices[dept.id]
        for target in sorted({(t.url, t.format) for t in dept.notify}):
            url, fmt = target
            items.append(
                OutboxItem(
                    key=f"{key}:{dept.id}:{fmt}:{url}",
                    url=url,
                    format=fmt,
                    event=event,
                    body=wrap(fmt, title, lines, body),
                    next_at=at,
                    created_at=at,
                )
            )
    return items


def _departments(graph: CatalogGraph) -> Iterable[Department]:
    return sorted((n for n in graph.nodes if isinstance(n, Department)), key=lambda d: d.id)
