"""A delta of metric files read alone (issue #23, loaders/partial.py, analysis/lint_delta.py):
an edit is checked against the index of the last load — a duplicate id, a reference another
file breaks, a cycle — and refused with the same file:line errors as a full load; lint by scope
gives the same findings as a full lint on random edit sequences."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.lint import lint_source
from core import reload
from core.i18n import use
from graph_schema.errors import CatalogError
from loaders.catalog import read_catalog
from loaders.catalog_cache import FileCache, catalog_files
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.contract import delta_catalog as dc


def _errors(catalog: Path, store: GraphStore) -> list[tuple[str, int | None, str]]:
    with pytest.raises(CatalogError) as caught:
        dc.load(catalog, store, delta=True)
    return [(i.file, i.line, i.message) for i in caught.value.issues]


def _full_errors(catalog: Path) -> list[tuple[str, int | None, str]]:
    with pytest.raises(CatalogError) as caught, use("en"):  # as _load reads it
        read_catalog(catalog)
    return [(i.file, i.line, i.message) for i in caught.value.issues]


def test_an_edit_is_read_alone(make_store: Callable[[], GraphStore], tmp_path: Path) -> None:
    catalog, metrics = dc.base_catalog(tmp_path)
    store = make_store()
    dc.load(catalog, store, delta=True)
    metrics["metrics/group2.yaml"][0]["definition"] = "改"
    dc.write(catalog, metrics)
    result = dc.load(catalog, store, delta=True)
    assert result.delta and result.how == "delta: 1 file, 1 metric changed", result.how


def test_delta_errors_are_those_of_a_full_load(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    catalog, metrics = dc.base_catalog(tmp_path)
    store = make_store()
    dc.load(catalog, store, delta=True)
    before = dc.state(store)

    # a duplicate id added in an edited file (the id is declared by another, unchanged file)
    metrics["metrics/group3.yaml"].append({"id": "m1", "name": "重复", "owner": "ops"})
    dc.write(catalog, metrics)
    errors = _errors(catalog, store)
    assert errors == _full_errors(catalog) and "duplicate" in errors[0][2], errors
    assert dc.state(store) == before
    metrics["metrics/group3.yaml"].pop()

    # an edit removes a metric an unchanged file's formula uses: reported where it is used
    removed = metrics["metrics/group4.yaml"].pop(0)  # m4, used by m5 and m6
    dc.write(catalog, metrics)
    errors = _errors(catalog, store)
    assert errors == _full_errors(catalog), errors
    assert any(f == "metrics/group5.yaml" and "'m4'" in m for f, _line, m in errors), errors
    assert dc.state(store) == before
    metrics["metrics/group4.yaml"].insert(0, removed)

    # an edit closes a formula cycle (m0 ← m1 ← m2 ← m0)
    metrics["metrics/group0.yaml"][0]["formula"] = "m2 * 1"
    dc.write(catalog, metrics)
    errors = _errors(catalog, store)
    assert errors == _full_errors(catalog) and "cycle" in errors[0][2], errors
    assert dc.state(store) == before

    # fixed: a delta again
    metrics["metrics/group0.yaml"][0]["formula"] = "revenue / visits"
    metrics["metrics/group0.yaml"][0]["definition"] = "改"
    dc.write(catalog, metrics)
    result = dc.load(catalog, store, delta=True)
    assert result.delta and result.revision == before["head"] + 1, result.how


def _record_lint(catalog: Path) -> tuple[Any, ...] | None:
    cache = FileCache.for_catalog(catalog)
    assert cache is not None
    files = catalog_files(catalog)
    record = cache.record(f"{files.digest}-{reload.RECORD_FORMAT}")
    assert isinstance(record, reload.LoadRecord)
    return record.lint


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lint_by_scope_equals_full_lint(tmp_path: Path, seed: int) -> None:
    """Random edits (names that collide and stop colliding, levels and parents, statuses,
    definitions, metrics added and removed, moved between files); after each delta load the
    findings kept for the next one equal a full lint's."""
    rng = random.Random(seed)
    catalog, metrics = dc.base_catalog(tmp_path)
    store = EmbeddedStore(tmp_path / "store.sqlite")
    dc.load(catalog, store, delta=True)
    deltas = 0
    for step in range(14):
        files = list(metrics)
        rel = rng.choice(files)
        items = metrics[rel]
        kind = rng.choice(["name", "level", "status", "definition", "add", "move", "remove"])
        used = {w for its in metrics.values() for m in its for w in str(m.get("formula")).split()}
        if kind == "name" and items:
            rng.choice(items)["name"] = rng.choice(["营收（A店）", "营收（B店）", f"名{step}"])
        elif kind == "level" and items:
            m = rng.choice(items)
            m["level"] = rng.choice(["L0", "L1", "L2", "L3"])
            if m["level"] != "L0":
                ids = [x["id"] for its in metrics.values() for x in its if x["id"] < m["id"]]
                if ids:
                    m["rolls_up_to"] = rng.choice(ids)
        elif kind == "status" and items:
            rng.choice(items)["status"] = rng.choice(["draft", "active", "deprecated"])
        elif kind == "definition" and items:
            rng.choice(items)["definition"] = rng.choice(["营收除以台次", "营收 除以 台次", "x"])
        elif kind == "add":
            items.append({"id": f"n{seed}{step}", "name": f"新{step}", "formula": "m0 + m1"})
        elif kind == "move" and items:
            metrics[rng.choice(files)].append(items.pop())
        elif kind == "remove" and items:
            victim = items[-1]
            if victim["id"] not in used and not any(
                m.get("rolls_up_to") == victim["id"] for its in metrics.values() for m in its
            ):
                items.pop()
        dc.write(catalog, metrics)
        try:
            result = dc.load(catalog, store, delta=True)
        except Exception:  # lint errors (a rollup to a lower level): the gate refused it
            continue
        if result.revision is None:  # nothing changed: no record of its own
            continue
        deltas += bool(result.delta and result.how and "whole catalog" not in result.how)
        with use("en"):
            full = lint_source(read_catalog(catalog), "warning").issues
        assert _record_lint(catalog) == full, (step, kind, result.how)
    assert deltas >= 3
