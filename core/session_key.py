"""Where the session-signing key comes from: never from the store.

A key kept in the store (SQLite ``gov_meta``, or a Neo4j node) sits in files a query, a
backup or a copy of the database may read — and with it anyone can sign a session cookie for
any user. So the key is

1. derived from ``KPIGRAPH_SECRET_KEY`` when it is set (HMAC-SHA256 with a purpose label, so
   the configured secret itself is never the signing key) — what an operator running several
   processes or machines must set, the same on each; or else
2. read from a key file made on first use with mode 0600 in a 0700 directory beside the
   embedded store (``<db>.session-key``; ``KPIGRAPH_SESSION_KEY_FILE`` overrides the path) and
   shared by the processes of one machine. The values engine never reads it: its SQL runs with
   no file access but the catalog's ``data/`` files (see :mod:`values.sandbox`).

Examples
--------
>>> derived_key("correct horse battery staple") == derived_key("correct horse battery staple")
True
>>> derived_key("a" * 32) != "a" * 32
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from graph_schema.errors import KpigraphError

#: the shortest ``KPIGRAPH_SECRET_KEY`` accepted
MIN_SECRET_CHARS = 16


class SessionKeyError(KpigraphError):
    """The session key cannot be set up (a short secret, an unreadable or unsafe key file)."""

    code = "session_key"


def derived_key(secret: str, purpose: str = "kpigraph session v1") -> str:
    """The signing key for ``purpose`` derived from the operator's secret."""
    if len(secret) < MIN_SECRET_CHARS:
        raise SessionKeyError(
            f"KPIGRAPH_SECRET_KEY has {len(secret)} characters; use at least "
            f"{MIN_SECRET_CHARS} random ones (e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')"
        )
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def key_file_for(db: Path) -> Path:
    """The default key file of an embedded store file."""
    env = os.environ.get("KPIGRAPH_SESSION_KEY_FILE")
    return Path(env) if env else db.with_name(db.name + ".session-key")


def file_key(path: Path) -> str:
    """The key in ``path``, made (0600, directory 0700 when new) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
    if path.is_symlink():
        raise SessionKeyError(f"{path} is a symbolic link; the session key file must be a file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)  # ours, readable by others: made private
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_SECRET_CHARS:
        raise SessionKeyError(
            f"{path} holds no usable key; delete it (a new one is made) or set KPIGRAPH_SECRET_KEY"
        )
    return derived_key(key)


def session_key(secret: str | None, db: Path) -> str:
    """The session-signing key: derived from ``secret`` (``KPIGRAPH_SECRET_KEY``) when set,
    else from the key file beside ``db``."""
    if secret:
        return derived_key(secret)
    return file_key(key_file_for(db))
