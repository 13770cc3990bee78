"""Secrets out of reach (issue 21): the session-signing key is not kept in the store (not in
the SQLite file nor its WAL) but derived from ``KPIGRAPH_SECRET_KEY`` or kept in a 0600 file;
API tokens are stored only as hashes — the raw database and WAL bytes hold no token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.session_key import SessionKeyError, derived_key, file_key, session_key
from core.settings import Settings
from governance.users import add_user
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.helpers import DEMO


def _raw(db: Path) -> bytes:
    """The store's database file, WAL and shared memory, as bytes."""
    files = [p for p in db.parent.glob(db.name + "*") if not p.name.endswith(".session-key")]
    assert any(p.name.endswith("-wal") for p in files)
    return b"".join(p.read_bytes() for p in files if p.is_file())


def test_tokens_and_the_session_key_are_not_in_the_database_or_its_wal(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    store = EmbeddedStore(db)
    store.load(load_catalog(DEMO))
    ledger = ledger_for(store)
    _admin, token = add_user(ledger, "root", "admin")
    settings = Settings(backend="embedded", db=db, notify=False)
    with TestClient(create_app(settings, store=store)) as client:
        page = client.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = client.post(
            "/signin",
            data={"token": token, "csrf": csrf.group(1)},
            follow_redirects=False,
        )
        assert r.status_code in (302, 303), r.text
        assert client.get("/api/me").json()["role"] == "admin"
        signing_key = client.app.state.auth.signer  # type: ignore[attr-defined]
        assert signing_key is not None
        key = client.app.state.auth.secret  # type: ignore[attr-defined]
        raw = _raw(db)  # read while the server runs: its WAL is there
        secret_part = token.split("_", 2)[2]
        assert token.encode() not in raw and secret_part.encode() not in raw
        assert key.encode() not in raw
        key_file = Path(f"{db}.session-key")
        assert key_file.read_text().strip().encode() not in raw
        assert (key_file.stat().st_mode & 0o777) == 0o600
    store.close()


def test_the_key_is_derived_from_the_configured_secret(tmp_path: Path) -> None:
    secret = "x" * 40
    assert session_key(secret, tmp_path / "db.sqlite") == derived_key(secret) != secret
    assert not (tmp_path / "db.sqlite.session-key").exists()  # no file when configured
    with pytest.raises(SessionKeyError, match="at least 16"):
        session_key("short", tmp_path / "db.sqlite")


def test_the_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k"
    first = file_key(path)
    assert file_key(path) == first
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    path.chmod(0o644)  # loosened by someone: made private again
    assert file_key(path) == first and (path.stat().st_mode & 0o777) == 0o600
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(SessionKeyError, match="symbolic link"):
        file_key(link)
