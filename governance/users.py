"""Users and their API tokens: a token is shown once, only its Argon2id hash is kept."""

from __future__ import annotations

import re

from core.security import new_token
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import Role, User, now_iso
from store.ledger import Ledger

NAME = re.compile(r"^[A-Za-z0-9_.@\-\u4e00-\u9fff]{1,64}$")


def add_user(
    ledger: Ledger, name: str, role: Role | str, department: str | None = None
) -> tuple[User, str]:
    """Create a user; returns it and its token (the only time the token is seen).

    An ``owner`` must name a department. Raises :class:`InvalidQueryError` on a bad name or an
    existing active user of that name.
    """
    role = Role(role)
    if not NAME.match(name):
        raise InvalidQueryError(
            f"user name {name!r}: letters, digits, Chinese characters, '_', '.', '-', '@' "
            "(at most 64)"
        )
    if role is Role.OWNER and not department:
        raise InvalidQueryError("an owner reviews for a department: add --department ID")
    if ledger.user(name) is not None:
        raise InvalidQueryError(
            f"user {name!r} exists; revoke it first to issue a new token",
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
        raise InvalidQueryError(f"user {name!r} exists", {"name": name}) from exc
    return user, token.value
