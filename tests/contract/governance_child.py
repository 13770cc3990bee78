"""Opening a store from a spec, for child processes of the governance tests."""

from __future__ import annotations

from typing import Any

from store.base import GraphStore


def open_store(spec: dict[str, Any]) -> GraphStore:
    if spec["backend"] == "embedded":
        from store.embedded import EmbeddedStore

        return EmbeddedStore(spec["path"])
    from store.neo4j import Neo4jStore, connect

    return Neo4jStore(connect(spec["uri"], spec["user"], spec["password"]), uri=spec["uri"])
