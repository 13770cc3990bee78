"""Root-cause searches over huge cubes take a slot each (analysis/localize_gate.py): a server
process runs at most ``localize_slots`` of them at once (each holds several GB on a cube of
millions of leaves); one more is refused at once with a 503, ``Retry-After`` and a message in
the request's language, while explanations without ``localize`` and the explain page (which
notes the refusal) still answer. Over HTTP, against a real uvicorn server; "huge" is lowered to
one leaf so that the demo's cube counts, and the test holds the slots itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from analysis import localize_gate
from analysis.localize_columns import COLUMNAR_LEAVES
from api.app import create_app
from core.settings import Settings
from tests.governance_helpers import running_server
from tests.helpers import DEMO

QUERY = "period=2026-06&base=mom&by=store,order_type"


def _server(tmp_path_factory: pytest.TempPathFactory, slots: int) -> Iterator[str]:
    from loaders.catalog import load_catalog
    from store.embedded import EmbeddedStore

    db = tmp_path_factory.mktemp("slots") / "kpi.sqlite"
    store = EmbeddedStore(db)
    store.load(load_catalog(DEMO))
    settings = Settings(backend="embedded", db=db, notify=False, localize_slots=slots)
    with running_server(create_app(settings, store=store)) as url:
        yield url
    localize_gate.configure(localize_gate.DEFAULT_SLOTS)


@pytest.fixture
def tiny_huge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localize_gate, "BIG_LEAVES", 1)  # the demo's cube takes a slot
    monkeypatch.setattr(localize_gate, "WAIT_SECONDS", 0.2)


@pytest.fixture
def one_slot(tmp_path_factory: pytest.TempPathFactory, tiny_huge: None) -> Iterator[str]:
    yield from _server(tmp_path_factory, 1)


@pytest.fixture
def two_slots(tmp_path_factory: pytest.TempPathFactory, tiny_huge: None) -> Iterator[str]:
    yield from _server(tmp_path_factory, 2)


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=120)


def test_the_gate_starts_where_cubes_are_read_column_wise() -> None:
    assert localize_gate.BIG_LEAVES == COLUMNAR_LEAVES


def test_a_search_past_the_slots_is_a_503_in_the_requests_language(one_slot: str) -> None:
    api = f"{one_slot}/api/metrics/revenue/explain?{QUERY}"
    free = _get(f"{api}&localize=true")
    assert free.status_code == 200, free.text
    assert free.json()["root_causes"], free.json()
    with localize_gate.slot(10**9):  # another request's search holds the one slot
        for lang, words in (("en", "busy: this server already runs 1 root-cause search"),
                            ("zh", "繁忙：本服务器已在运行 1 个")):  # fmt: skip
            busy = _get(f"{api}&localize=true&lang={lang}")
            assert busy.status_code == 503, busy.text
            assert busy.headers["Retry-After"].isdigit()
            error = busy.json()["error"]
            assert error["code"] == "localize_busy" and words in error["message"], error
            assert error["details"]["slots"] == 1
        plain = _get(api)  # no search asked: answered
        assert plain.status_code == 200 and "root_causes" not in plain.json()
        page = _get(f"{one_slot}/explain/revenue?{QUERY}&lang=en")
        assert page.status_code == 200, page.text[:500]
        assert "localize: busy" in page.text
    again = _get(f"{api}&localize=true")  # the slot freed: searched again
    assert again.status_code == 200 and again.json()["root_causes"] == free.json()["root_causes"]


def test_the_number_of_slots_is_configured(two_slots: str) -> None:
    api = f"{two_slots}/api/metrics/revenue/explain?{QUERY}&localize=true"
    with ExitStack() as held:
        held.enter_context(localize_gate.slot(10**9))
        assert _get(api).status_code == 200  # one of two taken: searched
        held.enter_context(localize_gate.slot(10**9))
        refused = _get(api)
        assert refused.status_code == 503 and refused.json()["error"]["details"]["slots"] == 2
    with pytest.raises(ValueError, match="at least 1"):
        localize_gate.configure(0)
