"""Users and their API tokens: a token is shown once, only its Argon2id hash is kept."""

from __future__ import annotations

import re

from core.i18n import _
from core.security import new_token
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import Role, User, now_iso
from store.ledger import Ledger

#: Letters, digits and Chinese characters, with ``_ . - @`` inside (never first or last:
#: ``root.`` beside ``root`` is a look-alike), at most 64.
NAME = re.compile(
    r"^[A-Za-z0-9\u4e00-\u9fff]([A-Za-z0-9_.@\-\u4e00-\u9fff]{0,62}[A-Za-z0-9\u4e00-\u9fff])?$"
)


def name_key(name: str) -> str:
    """What makes two user names the same: trimmed and case-folded (``ROOT`` is ``root``)."""
    return name.strip().casefold()


def add_user(
    ledger: Ledger, name: str, role: Role | str, department: str | None = None
) -> tuple[User, str]:
    """Create a user; returns it and its token (the only time the token is seen).

    The name is trimmed; it must be unique among active users ignoring case (``ROOT`` cannot
    be added beside ``root``). A revoked name may be added again: that is a new user (a new
    :attr:`User.id`) who inherits nothing of the old one's. An ``owner`` must name a
    department. Raises :class:`InvalidQueryError` on a bad or taken name.
    """
    role = Role(role)
    name = name.strip()
    if not NAME.match(name):
        raise InvalidQueryError(
            _(
                "user name {name}: letters, digits, Chinese characters, and '_', '.', "
                "'-', '@' between them (not first or last); at most 64",
                name=repr(name),
            )
        )
    if role is Role.OWNER and not department:
        raise InvalidQueryError(_("an owner reviews for a department: add --department ID"))
    taken = [u.name for u in ledger.users() if u.active and name_key(u.name) == name_key(name)]
    if taken:
        same = taken[0] == name
        raise InvalidQueryError(
            _("user {name} exists; revoke it first to issue a new token", name=repr(name))
            if same
            else _(
                "user {name} clashes with user {other}: names are unique ignoring case",
                name=repr(name),
                other=repr(taken[0]),
            ),
            {"name": name},
        )
    token = new_token()
    user = User(
        name=name,
        role=role,
        department=department,
        token_id=token.token_id,
        created_at=now_iso(),
    )
    try:
        ledger.add_user(user, token.secret_hash)
    except KeyError as exc:
        raise InvalidQueryError(_("user {name} exists", name=repr(name)), {"name": name}) from exc
    return user, token.value
