"""#24, no silent errors on the API: an unknown dimension, metric, period or grain named in a
*query parameter* is a 422 (``unknown_name`` / ``no_values``) whose body names the close matches
(CJK by characters and pinyin, as the command line finds them); an unknown metric in the *path*
is a resource that does not exist, a 404 — with the same close matches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.helpers import demo_store


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(store=demo_store())) as c:
        yield c


def _error(client: TestClient, url: str, status: int, **params: Any) -> dict[str, Any]:
    r = client.get(url, params=params, headers={"Accept-Language": "en"})
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    return error


@pytest.mark.parametrize(
    ("url", "params", "first"),
    [
        ("/api/compare", {"a": "atp", "b": "revenu"}, "Metric:revenue"),
        ("/api/compare", {"a": "atp", "b": "营搜"}, "Metric:revenue"),  # 营收 by pinyin
        ("/api/paths", {"from": "visits", "to": "net_profi"}, "Metric:net_profit"),
    ],
)
def test_an_unknown_metric_in_a_query_is_422_with_close_matches(
    client: TestClient, url: str, params: dict[str, str], first: str
) -> None:
    e = _error(client, url, 422, **params)
    assert e["code"] == "unknown_name"
    assert e["details"]["suggestions"][0] == first
    assert "did you mean" in e["message"]


@pytest.mark.parametrize("what", ["values", "eval"])
def test_an_unknown_dimension_is_422_with_close_matches(client: TestClient, what: str) -> None:
    """``by=shop`` answered 422 ``no_values`` "metric 'labor_revenue' has no values by shop",
    in English, naming an input metric and no dimension to use instead."""
    e = _error(client, f"/api/metrics/revenue/{what}", 422, by="shop", period="2026-06")
    assert e["code"] == "unknown_name" and e["details"]["suggestions"][0] == "store"
    assert "did you mean store" in e["message"]


def test_an_unknown_grain_is_422_with_close_matches(client: TestClient) -> None:
    e = _error(client, "/api/metrics/revenue/values", 422, grain="weak")
    assert e["code"] == "unknown_name" and e["details"]["suggestions"][0] == "week"


def test_a_period_without_values_names_the_periods_that_have_them(client: TestClient) -> None:
    """eval used to say only "metric 'revenue' has no value for 2026-07" (in English)."""
    e = _error(client, "/api/metrics/revenue/eval", 422, period="2026-07")
    assert e["code"] == "no_values" and "2024-07 … 2026-06" in e["message"]


def test_an_unknown_metric_in_the_path_stays_404_with_close_matches(client: TestClient) -> None:
    for url in ("/api/metrics/revenu", "/api/metrics/revenu/values", "/api/metrics/营搜/eval"):
        e = _error(client, url, 404, period="2026-06")
        assert e["code"] == "not_found" and e["details"]["suggestions"][0] == "Metric:revenue"


@pytest.mark.parametrize(
    "what", [("values", "revenue"), ("eval", "revenue", "--period", "2026-06")]
)
def test_the_command_line_answers_an_unknown_dimension_the_same_way(
    what: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """``kpigraph values revenue --by shop`` (and ``eval``): a usage error, exit 2, "store?"."""
    from cli import cli
    from cli.common import run_guarded

    db = str(demo_store().path)
    assert run_guarded(cli, ["--lang", "en", *what, "--by", "shop", "--db", db]) == 2
    assert "did you mean store" in capsys.readouterr().err
