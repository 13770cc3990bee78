"""Reports (issue 28): monthly usage per department with anonymous reads apart, the quarterly
digest of metrics added or changed per department, and ``--send`` through the outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from cli import cli
from core import i18n
from governance import reports as svc
from governance.usage import by_department
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.governance_helpers import with_webhooks
from tests.helpers import DEMO
from tests.i18n_text import CJK

MONTH = dt.datetime.now(dt.UTC).strftime("%Y-%m")
TODAY = dt.datetime.now(dt.UTC).date().isoformat()


def _store(tmp_path: Path) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path / "r.sqlite")
    graph = with_webhooks(
        load_catalog(DEMO),
        {
            "ops": [{"url": "https://hooks.example/ops", "format": "wecom"}],
            "finance": [{"url": "https://hooks.example/fin"}],
        },
    )
    store.load(graph)
    return store


def test_monthly_usage_per_department(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ledger = ledger_for(store)
    for metric, kind, dept, n in [
        ("atp", "view", "ops", 5),
        ("visits", "api", "ops", 2),
        ("revenue", "view", "finance", 1),
    ]:
        ledger.count_use(TODAY, metric, kind, n)
        ledger.count_use(TODAY, metric, by_department(kind, dept), n)
    ledger.count_use(TODAY, "atp", "view", 4)  # four anonymous reads
    ledger.count_use(TODAY, "atp", "question", 3)  # not a read
    report = svc.monthly_report(store.catalog(), ledger, MONTH)
    rows = {r.department: r for r in report.rows}
    assert report.rows[0].department == "ops" and rows["ops"].reads == 7
    assert rows["ops"].top[0] == {"metric": "atp", "name": "客单价", "reads": 5}
    assert rows["finance"].reads == 1 and rows["finance"].low  # 1 < 20% of 7
    assert rows["it"].reads == 0 and report.anonymous == 4

    items = svc.monthly_items(store.catalog(), report)
    assert {i.url for i in items} == {"https://hooks.example/ops", "https://hooks.example/fin"}
    wecom = next(i for i in items if i.format == "wecom")
    assert "客单价 5" in wecom.body["markdown"]["content"]
    assert ledger.enqueue(items) == 2 and ledger.enqueue(items) == 0  # a second send adds none


def test_quarterly_digest_and_send(tmp_path: Path) -> None:
    store = _store(tmp_path)
    root = tmp_path / "cat"
    import shutil

    shutil.copytree(DEMO, root)
    atp = root / "metrics" / "revenue" / "atp.yaml"
    text = atp.read_text(encoding="utf-8")
    atp.write_text(text.replace("definition: ", "definition: （修订）", 1), encoding="utf-8")
    graph = with_webhooks(
        load_catalog(root), {"ops": [{"url": "https://hooks.example/ops", "format": "json"}]}
    )
    store.load(graph)
    today = dt.datetime.now(dt.UTC).date()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    digest = svc.quarterly_digest(store, quarter)
    ops = {e.id: e for e in digest.by_department["ops"]}
    assert ops["atp"].op == "added"  # the first load of the quarter added it, then changed
    assert len(ops["atp"].revisions) == 2

    runner = CliRunner()
    db = str(store.path)
    result = runner.invoke(cli, ["report", "quarterly", "--quarter", quarter, "--db", db, "--send"])
    assert result.exit_code == 0, result.output
    outbox = ledger_for(store).outbox()
    assert [i.event for i in outbox] == ["report.quarterly"]
    assert outbox[0].body["department"] == "ops"
    result = runner.invoke(cli, ["report", "monthly", "--month", MONTH, "--db", db, "--json"])
    assert result.exit_code == 0 and '"anonymous"' in result.output


def test_report_pages_and_json(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.settings import Settings

    store = _store(tmp_path)
    with TestClient(create_app(Settings(backend="embedded"), store=store)) as client:
        data = client.get("/api/reports/monthly", params={"month": MONTH}).json()
        assert data["month"] == MONTH and len(data["departments"]) == 6
        assert client.get("/api/reports/monthly", params={"month": "2026-13"}).status_code == 422
        page = client.get("/reports/monthly", params={"month": MONTH}).text
        assert "匿名查阅" in page and "运营部" in page
        page = client.get("/reports/quarterly", params={"quarter": "2001-Q1"}).text
        assert 'id="no-changes"' in page


def test_reports_are_sent_in_the_catalogs_language(tmp_path: Path) -> None:
    """#24: a report goes out in the catalog's ``language`` — one language per message — and
    not in the language of whoever asked for it to be sent."""
    store = _store(tmp_path)
    ledger = ledger_for(store)
    ledger.count_use(TODAY, "atp", by_department("view", "ops"), 3)
    graph = store.catalog()
    report = svc.monthly_report(graph, ledger, MONTH)
    with i18n.use("en"):  # an English-speaking sender; the catalog speaks zh
        zh = next(i for i in svc.monthly_items(graph, report) if i.format == "wecom")
    text = zh.body["markdown"]["content"]
    assert "指标字典使用通报" in text and "本月查阅 3 次" in text and "reads" not in text
    english = dataclasses.replace(graph, meta={**graph.meta, "language": "en"})
    en = next(i for i in svc.monthly_items(english, report) if i.format == "wecom")
    text = en.body["markdown"]["content"]
    assert "Metric dictionary use" in text and "3 reads this month" in text
    assert not CJK.search(text.replace("客单价", "").replace("运营部", ""))
