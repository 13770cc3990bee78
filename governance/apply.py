"""Applying an approved change: is the metric still as the request found it (conflict), or
already as the request wants it (recorded by an older apply)? The write itself is a delta
(:mod:`governance.delta`, :meth:`store.base.GraphStore.apply`)."""

from __future__ import annotations

from typing import Any

from graph_schema.empty import same
from graph_schema.governance import Action, ChangeRequest
from loaders.validate import plain_mapping
from loaders.yaml_lines import LDict
from store.base import GraphStore


def ldict(data: dict[str, Any]) -> LDict:
    return plain_mapping(data)


def already_applied(change: ChangeRequest, current: dict[str, Any] | None) -> bool:
    """The metric already holds the request's definition (an apply that died after the load)."""
    if current is None:
        return False
    strip = ("history",)
    a = {k: v for k, v in current.items() if k not in strip}
    b = {k: v for k, v in change.definition.items() if k not in strip}
    return same(a, b)


def conflict_of(change: ChangeRequest, current: dict[str, Any] | None) -> str | None:
    if change.action is Action.CREATE:
        return f"{change.ref} was created meanwhile" if current is not None else None
    if current is None:
        return f"{change.ref} no longer exists"
    if current.get("version") != change.base_version:
        return (
            f"{change.ref} changed since this request was made: it is at version "
            f"{current.get('version') or '(none)'}, the request was based on "
            f"{change.base_version or '(none)'}; propose the change again from the current "
            "definition"
        )
    for d in change.diff:
        if not same(field_value(current, d["field"]), d["old"]):
            return f"{change.ref}.{d['field']} changed since this request was made"
    return None


def field_value(props: dict[str, Any], dotted: str) -> Any:
    """A (dotted, e.g. ``caliber.numerator``) field of stored properties; ``None`` if absent."""
    value: Any = props
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def head_of(store: GraphStore) -> int | None:
    """The current revision number, when the store keeps revisions."""
    fn = getattr(store, "head", None) or getattr(store, "head_revision", None)
    if fn is None:
        return None
    try:
        value = fn()
    except Exception:
        return None
    return getattr(value, "number", value) if value is not None else None
