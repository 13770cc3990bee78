"""What the ledger keeps of an API token, on both backends (review probe, issue #14): a token is
shown once; the store holds its public id and an Argon2id hash of the secret, never the token
or the secret itself — checked in the raw SQLite file bytes and in every Neo4j property."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from governance.users import add_user
from graph_schema.graph import CatalogGraph
from store.base import GraphStore
from tests.governance_helpers import fresh_ledger


def stored_text(store: Any) -> str:
    """Everything the store holds, as text: the SQLite file (and its WAL), or every property
    of every Neo4j node."""
    path = getattr(store, "path", None)
    if path is not None:
        files = [Path(path), Path(f"{path}-wal")]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    records, _, _ = store.driver.execute_query(
        "MATCH (n) RETURN properties(n) AS p", database_=store.database
    )
    return "\n".join(str(r["p"]) for r in records)


def test_the_store_holds_no_token_only_an_argon2_hash(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> None:
    store = make_store()
    store.load(demo_graph)
    ledger = fresh_ledger(store)
    user, token = add_user(ledger, "reviewer_probe", "committee")
    secret = token.split("_", 2)[2]
    text = stored_text(store)
    assert user.token_id in text  # the public id is there: the probe looks in the right place
    assert "$argon2id$" in text
    assert token not in text and secret not in text
