"""Every way into the graph validates through one unit, :func:`loaders.delta_check.check_delta`
(issue #23): the errors ``load``, the importers (Excel, dbt), a git source, ``pull``,
``propose`` and a one-file reload report are the issues that unit noted — one code path, so one
wording and one file:line for each problem."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import loaders.catalog
import loaders.metric_check
import loaders.partial
from graph_schema.errors import CatalogError, CatalogIssue
from loaders.delta_check import Problem, check_delta
from loaders.validate import CatalogState
from tests.helpers import DEMO, ROOT, write_catalog

Call = tuple[str, Path, list[CatalogIssue]]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Call]]:
    """The unit's calls from each module that validates through it: (module, the state's
    root, the issues the unit noted)."""
    seen: list[Call] = []

    def spy(module: str) -> Callable[..., set[Problem]]:
        def wrapped(state: CatalogState, lookup: Any, **kw: Any) -> set[Problem]:
            before = len(state.issues)
            found = check_delta(state, lookup, **kw)
            seen.append((module, state.root, state.issues[before:]))
            return found

        return wrapped

    for module in (loaders.catalog, loaders.partial, loaders.metric_check):
        monkeypatch.setattr(module, "check_delta", spy(module.__name__))
    yield seen


def _noted(calls: list[Call], module: str) -> list[str]:
    return [i.message for m, _root, issues in calls if m == module for i in issues]


@pytest.mark.usefixtures("english")
def test_load_errors_are_the_units(calls: list[Call], tmp_path: Path) -> None:
    cat = write_catalog(
        tmp_path / "cat", {"metrics/atp.yaml": "id: atp\nname: 客单价\nowner: nobody\n"}
    )
    with pytest.raises(CatalogError) as err:
        loaders.catalog.load_catalog(cat)
    noted = _noted(calls, "loaders.catalog")
    assert any("owner refers to unknown department 'nobody'" in m for m in noted), noted
    reported = [i.message for i in err.value.issues]
    assert set(noted) <= set(reported)
    assert [i for _m, _r, issues in calls for i in issues if i.line] == [
        i for i in err.value.issues if i.message in noted and i.line
    ]


@pytest.mark.usefixtures("english")
def test_excel_import_errors_are_the_units(calls: list[Call], tmp_path: Path) -> None:
    from loaders.excel import export_excel, import_excel

    path = tmp_path / "demo.xlsx"
    export_excel(DEMO, path)
    book = load_workbook(path)
    for row in book["atp"].iter_rows(min_row=1):
        if len(row) > 3 and row[2].value == "owner":
            row[3].value = "nobody"
            break
    index = next(r for r in book["指标索引"].iter_rows(min_row=2) if r[0].value == "atp")
    index[6].value = "nobody"  # the index sheet says the owner too
    book.save(path)
    with pytest.raises(CatalogError) as err:
        import_excel(path, tmp_path / "out")
    noted = _noted(calls, "loaders.catalog")
    assert any("owner refers to unknown department 'nobody'" in m for m in noted), noted
    reported = [i.message for i in err.value.issues]  # placed on the sheet, worded as noted
    assert all(any(r.startswith(m) for r in reported) for m in noted), (noted, reported)


def test_dbt_import_validates_through_the_unit(calls: list[Call], tmp_path: Path) -> None:
    from loaders.dbt import import_dbt

    import_dbt(ROOT / "tests" / "fixtures" / "dbt_project", tmp_path / "out")
    assert [m for m, _root, issues in calls if not issues] == ["loaders.catalog"]


@pytest.mark.usefixtures("english")
def test_git_source_errors_are_the_units(calls: list[Call], tmp_path: Path) -> None:
    from loaders.git_source import load_git_catalog

    repo = tmp_path / "repo"
    write_catalog(repo / "catalog", {"metrics/atp.yaml": "id: atp\nname: 客单价\nformula: x\n"})
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "v1"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True
        )
    with pytest.raises(CatalogError) as err:
        load_git_catalog("git:HEAD:catalog", cwd=repo)
    noted = _noted(calls, "loaders.catalog")
    assert any("formula refers to unknown metric 'x'" in m for m in noted), noted
    assert set(noted) <= {i.message for i in err.value.issues}


def test_pull_validates_through_the_unit(
    calls: list[Call], make_store: Callable[[], Any], tmp_path: Path
) -> None:
    from core.writeback import apply_plan, plan_pull
    from tests.contract.test_writeback import apply_change, exclude_extra, load_dir

    store = make_store()
    directory = tmp_path / "cat"
    shutil.copytree(DEMO, directory)
    load_dir(store, directory)
    apply_change(store, exclude_extra)
    calls.clear()
    apply_plan(plan_pull(directory, store))
    roots = [root for m, root, _issues in calls if m == "loaders.catalog"]
    assert any(r.name == "catalog" and r.parent.name.startswith("kpigraph-pull-") for r in roots)


@pytest.mark.usefixtures("english")
def test_propose_errors_are_the_units(calls: list[Call], store: Any) -> None:
    from governance.proposal import propose
    from graph_schema.governance import Action
    from graph_schema.ids import NodeKind, NodeRef

    ref = NodeRef(NodeKind.METRIC, "atp")
    definition = {k: v for k, v in store.get_nodes([ref])[ref].props().items() if k != "version"}
    definition["formula"] = "revenue / vists"
    with pytest.raises(CatalogError) as err:
        propose(store, Action.UPDATE, ref, definition, None)
    noted = _noted(calls, "loaders.metric_check")
    assert any("formula refers to unknown metric 'vists'" in m for m in noted), noted
    assert [(i.file, i.line, i.message, i.hint) for i in err.value.issues] == [
        (i.file, i.line, i.message, i.hint) for _m, _r, issues in calls for i in issues
    ]


def test_a_reload_of_one_file_validates_through_the_unit(
    calls: list[Call], make_store: Callable[[], Any], tmp_path: Path
) -> None:
    from tests.contract import delta_catalog as dc

    catalog, metrics = dc.base_catalog(tmp_path)
    store = make_store()
    dc.load(catalog, store, delta=True)
    metrics["metrics/group2.yaml"][0]["definition"] = "改"
    dc.write(catalog, metrics)
    calls.clear()
    assert dc.load(catalog, store, delta=True).delta
    assert [(m, issues) for m, _root, issues in calls] == [("loaders.partial", [])]
    # a duplicate id: the unit notes it against the index, the whole read then reports it
    metrics["metrics/group3.yaml"].append({"id": "m1", "name": "重复", "owner": "ops"})
    dc.write(catalog, metrics)
    calls.clear()
    with pytest.raises(CatalogError) as err:
        dc.load(catalog, store, delta=True)
    assert [m for m, _root, _issues in calls] == ["loaders.partial", "loaders.catalog"]
    assert "duplicate metric id 'm1'" in calls[0][2][0].message
    assert "duplicate metric id 'm1'" in err.value.issues[0].message
