"""Building a store from settings. The only place that knows which backend class to use."""

from __future__ import annotations

from core.settings import Backend, Settings
from graph_schema.errors import KpigraphError
from store.base import GraphStore
from store.embedded import EmbeddedStore


def build_store(settings: Settings) -> GraphStore:
    """The store the settings ask for; connections are opened lazily."""
    if settings.backend is Backend.EMBEDDED:
        return EmbeddedStore(settings.db)
    if settings.backend is Backend.NEO4J:
        from neo4j import Driver

        from store.neo4j import Neo4jStore, connect

        def driver() -> Driver:
            return connect(
                settings.neo4j_uri,
                settings.neo4j_user,
                settings.neo4j_password.get_secret_value(),
                timeout=settings.neo4j_timeout,
            )

        offline = None
        if settings.neo4j_import_min > 0:  # a local server (kpigraph neo4j start) it may restart
            from neo4j_local.offline_import import local_server

            offline = local_server(settings.neo4j_uri, settings.neo4j_data)
        return Neo4jStore(
            driver(),
            database=settings.neo4j_database,
            uri=settings.neo4j_uri,
            reconnect=driver,
            plan=settings.neo4j_plan,
            offline=offline,
            import_min=settings.neo4j_import_min,
        )
    raise KpigraphError(f"unknown backend {settings.backend!r}")
