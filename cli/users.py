"""``kpigraph users add|list|revoke``: people, roles and API tokens (shown once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import emit_json, json_option, out, safe, store_options
from cli.help_text import Group
from core.i18n import N_, _

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore

ROLES = ["viewer", "editor", "owner", "committee", "admin"]

#: message ids (shown through ``_`` in the language in use)
TEXT = {
    "no_department": N_(
        "warning: no department {department} in the loaded catalog (or nothing is loaded yet); "
        "the owner reviews for it once departments.yaml defines it"
    ),
    "created": N_(
        "user {name} ({role}) created in {where} (servers on this store sign them in, and so "
        "does 'kpigraph serve --demo' with the same store options)."
    ),
    "token": N_("token (shown once; give it to the user, store it nowhere else):"),
    "revoked": N_("user {name} revoked"),
    "no_user": N_("no active user {name}; see 'kpigraph users list'"),
    "col_name": N_("user name"),
    "col_role": N_("role"),
    "col_department": N_("department"),
    "col_created": N_("created at"),
    "col_revoked": N_("revoked at"),
}
#: the roles in words
ROLE_WORDS = {
    "viewer": N_("user role: viewer"),
    "editor": N_("user role: editor"),
    "owner": N_("user role: owner"),
    "committee": N_("user role: committee"),
    "admin": N_("user role: admin"),
}


def role_words(role: str) -> str:
    return _(ROLE_WORDS[role]) if role in ROLE_WORDS else role


@click.group("users", cls=Group)
def users_group() -> None:
    """Users and roles: viewer, editor (proposes, comments), owner (reviews for a
    department), committee (final approval), admin."""


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="viewer reads; editor proposes; owner approves for its department; "
    "admin applies and manages users",
)
@click.option("--department", default=None, help="department id (required for an owner)")
@store_options
@json_option
def add(
    name: str,
    role: str,
    department: str | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Create a user and print its API token — once; only a hash is stored."""
    from cli.common import err, where
    from governance.users import add_user
    from graph_schema.errors import StoreError
    from graph_schema.ids import NodeKind, NodeRef
    from store.ledger import ledger_for

    if department is not None:
        ref = NodeRef(NodeKind.DEPARTMENT, department)
        try:
            known = bool(store.get_nodes([ref]))
        except StoreError:  # nothing loaded yet: owners may be created before the first load
            known = False
        if not known:
            err().print(_(TEXT["no_department"], department=safe(repr(department))))
    ledger = ledger_for(store)
    try:
        user, token = add_user(ledger, name, role, department)
    finally:
        ledger.close()
    if as_json:
        emit_json({**user.model_dump(mode="json"), "token": token})
        return
    shown = department_names(store, [user.department] if user.department else [])
    role = role_words(user.role.value) + (
        _(", ") + shown[user.department] if user.department else ""
    )
    text = _(TEXT["created"], name=user.name, role=role, where=where(settings))
    out().print(safe(text))
    out().print(_(TEXT["token"]))
    click.echo(token)


def department_names(store: GraphStore, ids: list[str]) -> dict[str, str]:
    """Each department id as people read it: its name with the id in brackets (the id alone
    when the loaded catalog has no such department, or nothing is loaded)."""
    from graph_schema.errors import StoreError
    from graph_schema.ids import NodeKind, NodeRef

    refs = {d: NodeRef(NodeKind.DEPARTMENT, d) for d in dict.fromkeys(ids)}
    try:
        labels = store.labels(refs.values()) if refs else {}
    except StoreError:  # nothing loaded yet
        labels = {}
    out = {}
    for d, ref in refs.items():
        name = labels[ref].name if ref in labels else None
        out[d] = _("{name} ({id})", name=name, id=d) if name and name != d else d
    return out


@users_group.command("list")
@store_options
@json_option
def list_users(as_json: bool, store: GraphStore, settings: Settings) -> None:
    """Every user with role, department and whether revoked (never tokens)."""
    from rich.table import Table

    from store.ledger import ledger_for

    ledger = ledger_for(store)
    try:
        users = ledger.users()
    finally:
        ledger.close()
    if as_json:
        emit_json([u.model_dump(mode="json") for u in users])
        return
    table = Table(
        *(_(TEXT[k]) for k in ("col_name", "col_role", "col_department", "col_created")),
        _(TEXT["col_revoked"]),
    )
    shown = department_names(store, [u.department for u in users if u.department])
    for u in users:
        table.add_row(
            safe(u.name),
            role_words(u.role.value),
            safe(shown[u.department] if u.department else ""),
            u.created_at[:19],
            u.revoked_at[:19] if u.revoked_at else "",
        )
    out().print(table)


@users_group.command("revoke")
@click.argument("name")
@store_options
def revoke(name: str, store: GraphStore, settings: Settings) -> None:
    """Revoke the user's token at once (every process sharing the store refuses it)."""
    from graph_schema.errors import InvalidQueryError
    from graph_schema.governance import now_iso
    from store.ledger import ledger_for

    ledger = ledger_for(store)
    try:
        if not ledger.revoke_user(name, now_iso()):
            raise InvalidQueryError(_(TEXT["no_user"], name=repr(name)))
    finally:
        ledger.close()
    out().print(safe(_(TEXT["revoked"], name=name)))
