from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from store.base import GraphStore


@pytest.fixture
def client(store: GraphStore) -> Iterator[TestClient]:
    """An HTTP client on an app serving the demo catalog from the current backend."""
    app = create_app(Settings(backend=store.backend), store=store)
    with TestClient(app) as c:
        yield c
