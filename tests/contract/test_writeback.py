"""One source of truth (issue 22), on both backends: an applied change request is written back
into the catalog files (pull), a load of files that lack it is refused, a load after pull
records nothing, the three-way comparison merges disjoint fields and refuses overlapping ones,
and --commit leaves one commit per request with the requester as author."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.publish import publish
from core.sync import StaleFilesError, SyncConflictError, check_load, store_ahead
from core.writeback import WriteBackError, apply_plan, plan_pull, write_back
from governance.changes import Governance
from graph_schema.governance import Action, ChangeRequest
from graph_schema.ids import NodeRef
from graph_schema.revisions import RevisionDraft
from loaders.catalog import load_catalog
from loaders.git_source import source_info
from store.base import GraphStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO

ATP = NodeRef.parse("Metric:atp")
ATP_FILE = "metrics/revenue/atp.yaml"
EXTRA = "延保代收款（厂家延保产品的代收款项）"


def load_dir(store: GraphStore, directory: Path, **source: Any) -> int | None:
    """What ``kpigraph load DIR`` does: the sync check, then publish with the file source."""
    graph = load_catalog(directory)
    force = bool(source.pop("force_files", False))
    check_load(store, graph, force_files=force)
    info = source_info(directory) | ({"force_files": True} if force else {})
    draft = RevisionDraft(author="tester", source=info)
    return publish(store, graph, draft).revision


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def make_catalog(tmp_path: Path, *, repo: bool = False) -> Path:
    top = tmp_path / "repo"
    directory = top / "catalog"
    shutil.copytree(DEMO, directory)
    if repo:
        git(top, "init", "-q", "-b", "main")
        git(top, "config", "user.name", "Maintainer")
        git(top, "config", "user.email", "m@example.invalid")
        git(top, "add", "-A")
        git(top, "commit", "-q", "-m", "catalog")
    return directory


def apply_change(
    store: GraphStore, edit: Callable[[dict[str, Any]], None], reason: str = "排除延保代收款"
) -> ChangeRequest:
    """Propose ``edit`` of atp as zhang, approve it (li, qian, wang), apply it as root."""
    gov, users = governance_for(store)
    props = store.get_nodes([ATP])[ATP].props()
    definition = {k: v for k, v in props.items() if k != "version"}
    edit(definition)
    change = gov.submit(users["zhang"], Action.UPDATE, ATP, definition, props["version"], reason)
    for name in ("li", "qian", "wang"):
        gov.approve(users[name], change.id, "ok")
    return gov.apply(users["root"], change.id)


_PEOPLE: dict[int, tuple[Governance, dict[str, Any]]] = {}


def governance_for(store: GraphStore) -> tuple[Governance, dict[str, Any]]:
    """One ledger with the test people per store (made on first use)."""
    if id(store) not in _PEOPLE:
        ledger = fresh_ledger(store)
        _PEOPLE[id(store)] = (Governance(store, ledger), make_people(ledger)[0])
    return _PEOPLE[id(store)]


def exclude_extra(definition: dict[str, Any]) -> None:
    caliber = definition["caliber"]
    caliber["numerator"]["excludes"] = [*caliber["numerator"]["excludes"], EXTRA]


@pytest.fixture
def loaded(make_store: Callable[[], GraphStore], tmp_path: Path) -> tuple[GraphStore, Path]:
    directory = make_catalog(tmp_path, repo=True)
    store = make_store()
    fresh_ledger(store)
    assert load_dir(store, directory) is not None
    return store, directory


def test_apply_then_pull_edits_one_file_in_place(loaded: tuple[GraphStore, Path]) -> None:
    store, directory = loaded
    apply_change(store, exclude_extra)
    before = (directory / ATP_FILE).read_text(encoding="utf-8")
    plan = plan_pull(directory, store)
    assert [s.request.change_request for s in plan.steps] == [1]
    assert EXTRA in plan.diff()
    result = apply_plan(plan)
    assert result.files == [ATP_FILE]
    diff = git(directory, "diff", "--unified=0", "--", ".")
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    # only the changed keys: the excludes list, the version and one new 版本记录 entry
    assert len(changed) == 5, diff
    assert any("excludes:" in line and EXTRA in line for line in changed)
    assert "-version: 1.1.0" in changed and "+version: 2.0.0" in changed
    assert any(line.startswith("+  - {version: 2.0.0") for line in changed)
    after = (directory / ATP_FILE).read_text(encoding="utf-8")
    assert after.splitlines()[0] == before.splitlines()[0]  # the comment on top stays
    assert "# observed 客单价 by store and month" in after
    load_catalog(directory)  # validates
    # a second pull does nothing; a load after pull records nothing
    assert plan_pull(directory, store).empty
    head = store.head()
    assert load_dir(store, directory) is None
    assert store.head() == head


def test_load_of_stale_files_is_refused_naming_the_request(
    loaded: tuple[GraphStore, Path],
) -> None:
    store, directory = loaded
    apply_change(store, exclude_extra)
    with pytest.raises(StaleFilesError) as info:
        load_dir(store, directory)
    message = info.value.message
    assert "变更申请 #1" in message and "Metric:atp" in message  # zh: the default
    assert "caliber.numerator" in message and "kpigraph pull" in message
    assert "--force-files" in message
    head = store.head()
    # --force-files overwrites (the version rules still hold: the files' version moves on)
    path = directory / ATP_FILE
    path.write_text(path.read_text("utf-8").replace("version: 1.1.0", "version: 3.0.0"), "utf-8")
    assert load_dir(store, directory, force_files=True) == head + 1
    assert store.revision(head + 1).source.get("force_files") is True
    assert EXTRA not in str(store.get_nodes([ATP])[ATP].props()["caliber"])


def test_three_way_merges_disjoint_fields_and_refuses_overlapping(
    loaded: tuple[GraphStore, Path],
) -> None:
    store, directory = loaded
    apply_change(store, exclude_extra)
    path = directory / ATP_FILE
    text = path.read_text(encoding="utf-8")
    # the files changed another field: pull merges (keeps the files' edit, adds the store's)
    path.write_text(text.replace("unit: CNY", "unit: 元"), encoding="utf-8")
    ahead = store_ahead(store, load_catalog(directory))
    assert [m.id for m in ahead.missing] == ["atp"] and not ahead.conflicts
    apply_plan(plan_pull(directory, store))
    merged = path.read_text(encoding="utf-8")
    assert "unit: 元" in merged and EXTRA in merged
    # the same field changed on both sides: a conflict named field by field
    path.write_text(text.replace("代收代付款项（如保险、年检代办等）]", "其他]"), encoding="utf-8")
    with pytest.raises(SyncConflictError) as info:
        plan_pull(directory, store)
    assert "atp.caliber.numerator.excludes" in info.value.message
    with pytest.raises(StaleFilesError) as stale:
        load_dir(store, directory)
    assert "冲突：atp.caliber.numerator.excludes" in stale.value.message  # zh: the default


def test_commit_one_commit_per_request_with_the_requester(
    loaded: tuple[GraphStore, Path],
) -> None:
    store, directory = loaded
    apply_change(store, exclude_extra, "排除延保代收款")
    second = apply_change(store, lambda d: d.update(definition="单次进厂的平均消费金额。"), "措辞")
    head_before = git(directory, "rev-parse", "HEAD").strip()
    result = write_back(directory, second, store, "commit")
    assert len(result.commits) == 2 and result.commit == result.commits[-1]
    log = git(directory, "log", "--format=%an <%ae>|%s|%b", f"{head_before}..HEAD")
    entries = [line for line in log.splitlines() if "|" in line]
    assert len(entries) == 2
    assert entries[0].startswith("zhang <zhang@kpigraph.invalid>|措辞")
    assert entries[1].startswith("zhang <zhang@kpigraph.invalid>|排除延保代收款")
    assert "change request #1" in log and "change request #2" in log
    assert git(directory, "status", "--porcelain").strip() == ""  # work tree and index agree
    files = git(directory, "show", "--name-only", "--format=", "HEAD").split()
    assert files == [f"catalog/{ATP_FILE}"]
    assert write_back(directory, second, store, "commit").files == []  # nothing left to do
    assert load_dir(store, directory) is None


def test_write_backs_one_after_another_of_the_same_field(
    loaded: tuple[GraphStore, Path],
) -> None:
    """Review of issue 22: request #1 written back, then request #2 changing the same field
    was refused as a conflict (the files "changed" it since their last load — by writing #1
    back). The files' state of a metric is now compared from the request they last took."""
    store, directory = loaded
    first = apply_change(store, lambda d: d.update(caveats=[*d.get("caveats", []), "甲"]))
    assert write_back(directory, first, store, "commit").commits
    second = apply_change(store, lambda d: d.update(caveats=[*d.get("caveats", []), "乙"]))
    result = write_back(directory, second, store, "commit")
    assert result.requests == [2] and len(result.commits) == 1
    text = (directory / ATP_FILE).read_text(encoding="utf-8")
    assert "甲" in text and "乙" in text
    assert write_back(directory, second, store, "commit").files == []
    assert load_dir(store, directory) is None  # the files equal the store


def test_failed_write_leaves_files_untouched(
    loaded: tuple[GraphStore, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, directory = loaded
    apply_change(store, exclude_extra)
    before = (directory / ATP_FILE).read_bytes()
    # an edit that would not validate: the whole plan is refused before any byte is written
    import core.writeback as wb

    real = wb.patch

    def broken(text: str, *args: Any, **kwargs: Any) -> str:
        return real(text, *args, **kwargs).replace("rolls_up_to: revenue", "rolls_up_to: nope")

    monkeypatch.setattr(wb, "patch", broken)
    with pytest.raises(WriteBackError):
        plan_pull(directory, store)
    monkeypatch.setattr(wb, "patch", real)
    # a failure while writing (disk full, killed): temporary files go, the target stays
    plan = plan_pull(directory, store)

    def failing_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(wb.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        apply_plan(plan)
    assert (directory / ATP_FILE).read_bytes() == before
    assert not [p for p in (directory / "metrics/revenue").iterdir() if p.name.startswith(".")]


def test_created_metric_gets_a_file_beside_its_siblings_and_deprecation_edits_status(
    loaded: tuple[GraphStore, Path],
) -> None:
    store, directory = loaded
    gov, users = governance_for(store)
    new = NodeRef.parse("Metric:atp_extended_warranty")
    definition = {
        "id": new.id,
        "name": "延保渗透率",
        "level": "L3",
        "domain": "门店运营",
        "owner": "ops",
        "definition": "售出延保的台次占进厂台次的比例。",
        "formula": "visits / visits",
    }
    created = gov.submit(users["zhang"], Action.CREATE, new, definition, None, "新增延保指标")
    gov.approve(users["li"], created.id, "ok")
    if gov.get(created.id).status.value != "approved":
        gov.approve(users["wang"], created.id, "ok")
    gov.apply(users["root"], created.id)
    deprecated = gov.submit(users["zhang"], Action.DEPRECATE, ATP, None, "1.1.0", "停用")
    for name in ("li", "qian", "wang"):
        if gov.get(deprecated.id).status.value != "approved":
            gov.approve(users[name], deprecated.id, "ok")
    gov.apply(users["root"], deprecated.id)
    result = apply_plan(plan_pull(directory, store))
    [created_file] = [f for f in result.files if f.endswith(f"/{new.id}.yaml")]
    siblings = [p.read_text("utf-8") for p in (directory / created_file).parent.glob("*.yaml")]
    assert sum("domain: 门店运营" in t for t in siblings) > 1  # beside metrics of its domain
    text = (directory / created_file).read_text(encoding="utf-8")
    assert text.startswith(f"id: {new.id}\nname: 延保渗透率\n")
    assert "status: deprecated" in (directory / ATP_FILE).read_text(encoding="utf-8")
    graph = load_catalog(directory)
    assert any(n.ref == new for n in graph.nodes)
    assert plan_pull(directory, store).empty
    assert load_dir(store, directory) is None
