"""schemathesis over the governance endpoints, authenticated (an admin token, so every
operation gets past the role checks and into the handlers), and once anonymous: no input may
produce a server error, and every JSON error has the standard shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO

EXAMPLES = 40
GOVERNANCE_PREFIXES = ("/api/changes", "/api/comments", "/api/stats", "/api/me")


def _is_governance(path: str) -> bool:
    return path.startswith(GOVERNANCE_PREFIXES) or path.endswith("/comments")


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[schemathesis.BaseSchema, str]:
    store = EmbeddedStore(Path(tmp_path_factory.mktemp("govfuzz")) / "fuzz.sqlite")
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(fresh_ledger(store))
    app = create_app(Settings(notify=False), store=store)
    return schemathesis.openapi.from_asgi("/openapi.json", app), tokens["root"]


def test_governance_operations_are_in_the_schema(
    fuzz_app: tuple[schemathesis.BaseSchema, str],
) -> None:
    schema, _token = fuzz_app
    paths = {r.ok().path for r in schema.get_all_operations()}
    assert {
        "/api/changes",
        "/api/changes/{change_id}",
        "/api/changes/{change_id}/approve",
        "/api/changes/{change_id}/apply",
        "/api/metrics/{metric_id}/comments",
        "/api/comments/{comment_id}/faq",
        "/api/stats/metrics",
    } <= paths


@pytest.mark.parametrize("authenticated", [True, False])
def test_no_server_errors(
    fuzz_app: tuple[schemathesis.BaseSchema, str], authenticated: bool
) -> None:
    schema, token = fuzz_app
    headers = {"Authorization": f"Bearer {token}"} if authenticated else {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if not _is_governance(operation.path):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.path, case.body, response.text[:500])
            if not authenticated and case.method != "GET":
                assert response.status_code == 401, (case.path, response.status_code)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}, response.text[:300]

        run()
