"""/api/lint and /lint over HTTP: the report of the directory the store was loaded from."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.unit.test_lint_rules import FIVE_STORES, catalog


@pytest.fixture
def linted(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    root = catalog(
        tmp_path / "cat",
        FIVE_STORES + "- {id: lonely, name: 孤儿<b>x</b>}\n- {id: twin, name: 孤儿<b>x</b>}\n",
    )
    store = EmbeddedStore(tmp_path / "db.sqlite")
    store.load(load_catalog(root))
    with TestClient(create_app(Settings(), store=store)) as client:
        yield client, root
    store.close()


def test_api_lint_reports_and_filters(linted: tuple[TestClient, Path]) -> None:
    client, _ = linted
    data = client.get("/api/lint").json()
    assert data["counts"]["error"] == 2  # the five 客单价, and the two hostile twins
    [conflict] = [
        i for i in data["issues"] if i["rule"] == "conflict.name" and "客单价" in i["message"]
    ]
    assert conflict["refs"] == [f"Metric:atp_{s}" for s in "abcde"]
    assert conflict["file"] == "metrics/all.yaml" and conflict["line"] > 0 and conflict["fix"]
    only = client.get("/api/lint", params={"severity": "info"}).json()
    assert only["issues"] and {i["severity"] for i in only["issues"]} == {"info"}
    assert only["counts"] == data["counts"]
    by_rule = client.get("/api/lint", params={"rule": "orphans.metric"}).json()["issues"]
    assert [i["refs"] for i in by_rule] == [["Metric:lonely"], ["Metric:twin"]]
    assert client.get("/api/lint", params={"severity": "loud"}).status_code == 422


def test_lint_page_escapes_catalog_text(linted: tuple[TestClient, Path]) -> None:
    client, _ = linted
    html = client.get("/lint").text
    assert 'id="count-error">2<' in html and "conflict.name" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'href="/metrics/atp_a"' in html


def test_lint_when_the_directory_is_gone(linted: tuple[TestClient, Path]) -> None:
    client, root = linted
    with_files = client.get("/api/lint").json()
    assert with_files["source"] == str(root.resolve()) or with_files["source"] == str(root)
    shutil.rmtree(root)
    data = client.get("/api/lint?lang=en").json()  # the loaded graph is linted instead
    assert data["source"] is None and "not available" in data["note"]
    zh = client.get("/api/lint").json()  # the catalog's language
    assert "本机没有加载此图谱时所用的目录" in zh["note"]
    assert data["counts"] == with_files["counts"]
    assert {i["rule"] for i in data["issues"]} == {i["rule"] for i in with_files["issues"]}
    assert all(i["file"] is None for i in data["issues"])
    page = client.get("/lint")
    assert page.status_code == 200 and 'id="lint-note"' in page.text


def test_lint_with_nothing_loaded(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "empty.sqlite")
    with TestClient(create_app(Settings(), store=store)) as client:
        response = client.get("/api/lint")  # like every read of an empty store
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "empty_store"
    store.close()


def test_an_edited_catalog_is_linted_again(linted: tuple[TestClient, Path]) -> None:
    client, root = linted
    before = client.get("/api/lint").json()["counts"]
    assert client.get("/api/lint").json()["counts"] == before  # cached, same answer
    extra = root / "metrics" / "extra.yaml"
    extra.write_text("id: ns\nname: 北极星\nlevel: L0\nrolls_up_to: visits\n", encoding="utf-8")
    after = client.get("/api/lint").json()
    assert after["counts"]["error"] == before["error"] + 1  # levels.rollup-lower (L0 under L1)
