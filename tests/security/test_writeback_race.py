"""Two write-backs into one catalog directory at once (review, issue 22): two servers with
``--writeback`` on one catalog, or ``kpigraph pull`` while a server writes back. Each planned
its edits from the files as they were, then wrote: the later writer's files replaced the
earlier one's, so request B's edit — reported on B's timeline as written — was gone from the
files. Write-backs into one directory now take turns (a lock on the directory), and each plans
from what the other wrote."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import core.writeback as wb
from loaders.yaml_lines import load_yaml
from store.embedded import EmbeddedStore
from tests.contract.test_writeback import ATP_FILE, apply_change, load_dir, make_catalog
from tests.governance_helpers import fresh_ledger


def test_two_write_backs_at_once_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = make_catalog(tmp_path)
    store = EmbeddedStore(tmp_path / "kpigraph.sqlite")
    fresh_ledger(store)
    load_dir(store, directory)
    first = apply_change(store, lambda d: d.update(caveats=[*d.get("caveats", []), "甲"]))
    second = apply_change(store, lambda d: d.update(definition=d["definition"] + "（乙）"))
    assert first.applied_revision is not None and second.applied_revision is not None

    both_planned = threading.Barrier(2)
    real_apply = wb.apply_plan

    def apply_plan(plan: Any, **kw: Any) -> Any:
        # both plans made before either writes (as two processes may); with the lock the
        # other one waits for its turn instead, and the barrier breaks
        with contextlib.suppress(threading.BrokenBarrierError):
            both_planned.wait(timeout=2)
        if plan.steps and plan.steps[-1].request.change_request == first.id:
            time.sleep(0.3)  # the request planned up to the first revision writes last
        return real_apply(plan, **kw)

    monkeypatch.setattr(wb, "apply_plan", apply_plan)
    errors: list[BaseException] = []

    def run(change: Any) -> None:
        try:
            wb.write_back(directory, change, store, "files")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    atp = load_yaml((directory / ATP_FILE).read_text(encoding="utf-8"))
    assert "甲" in atp["caveats"]
    assert atp["definition"].endswith("（乙）"), "the second request's edit was overwritten"
    store.close()
