"""The exfiltration and escalation chain of issue 21, item 1, end to end: an editor proposes a
metric whose SQL reads the server's files (``read_text('/proc/self/cmdline')``, the store's
WAL) or ends with ``; COPY … TO``. Each step of the chain is closed:

- the proposal is refused at submit (422, naming the function or statement), nothing stored;
- a catalog holding such SQL fails ``validate`` and ``load`` — and ``lint: disable`` cannot
  switch the rule off;
- the values engine refuses it again before running (a catalog loaded with ``--no-lint``), runs
  with no file access but its data files, and stops a runaway query within its time limit while
  other values keep being served."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from cli.lint import load_linted
from core import i18n
from core.settings import Settings
from graph_schema.errors import InvalidQueryError
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO, write_catalog
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.sandbox import SandboxLimits

HOSTILE = {
    "cmdline": ("SELECT content AS period, 1 AS value FROM read_text('/proc/self/cmdline')",
                "read_text"),
    "wal": ("SELECT 'x' AS period, length(content) AS value FROM read_blob('{db}-wal')",
            "read_blob"),
    "copy": ("SELECT strftime(complete_date, '%Y-%m') AS period, sum(total_amount) AS value "
             "FROM dms_orders GROUP BY 1; COPY (SELECT 1) TO '{out}'", "COPY"),
    "scalar": ("SELECT read_text('/etc/hostname') AS period, 1 AS value FROM dms_orders",
               "read_text"),
}  # fmt: skip


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    db = tmp_path / "gov.sqlite"
    store = EmbeddedStore(db)
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(fresh_ledger(store))
    settings = Settings(backend="embedded", db=db, notify=False)
    with TestClient(create_app(settings, store=store)) as client:
        yield client, tokens, db
    store.close()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_an_editor_proposal_with_hostile_sql_is_refused_at_submit(
    gov: tuple[TestClient, dict[str, str], Path], tmp_path: Path, case: str
) -> None:
    client, tokens, db = gov
    out = tmp_path / "pwned.csv"
    sql, names = HOSTILE[case]
    metric = client.get("/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
    definition["sql"] = sql.format(db=db, out=out)
    r = client.post(
        "/api/changes",
        json={
            "action": "update",
            "ref": "Metric:atp",
            "base_version": metric["version"],
            "definition": definition,
            "reason": "口径",
        },
        headers={"Authorization": f"Bearer {tokens['zhang']}"},
    )
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert "SQL 被拒绝" in message and names in message, message  # in the catalog's zh
    assert client.get("/api/changes").json()["items"] == []
    assert not out.exists()
    # and the values of the metric are untouched (its stored SQL is the demo's)
    values = client.get("/api/metrics/atp/values?by=store")
    assert values.status_code == 200 and values.json()["rows"]


def _hostile_catalog(root: Path, sql: str, lint: str = "") -> Path:
    return write_catalog(
        root,
        {
            "kpigraph.yaml": f"name: hostile\n{lint}",
            "metrics/evil.yaml": (
                f"id: evil\nname: 恶意\nlevel: L2\nfields: [dms.orders.amount]\nsql: {sql!r}\n"
            ),
        },
    )


@pytest.mark.parametrize("lint", ["", "lint: {disable: [sql]}\n", "lint: {severity: {sql: off}}\n"])
def test_a_catalog_with_hostile_sql_is_refused_at_validate_and_load(
    tmp_path: Path, lint: str
) -> None:
    from cli import cli as main

    root = _hostile_catalog(
        tmp_path / "cat", "SELECT sum(amount) AS value FROM orders; COPY orders TO '/tmp/x'", lint
    )
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code == 1, result.output
    assert "sql.unsafe" in result.output or "sql.parse-error" in result.output
    assert "COPY" in result.output
    with pytest.raises(click.ClickException, match="lint error"), i18n.use("en"):
        load_linted(root)
    reader = "SELECT content AS period, 1 AS value FROM read_text('/etc/passwd')"
    root2 = _hostile_catalog(tmp_path / "cat2", reader, lint)
    result = CliRunner().invoke(main, ["validate", str(root2)])
    assert result.exit_code == 1 and "sql.unsafe" in result.output
    assert re.search(
        "table function read_text is not allowed|不允许表函数 read_text", result.output
    )


def _values_catalog(root: Path, evil_sql: str, rows: int = 12) -> Path:
    lines = ["period,order_id,amount"] + [
        f"2026-{(i % 12) + 1:02d},o{i},{10 + i}" for i in range(rows)
    ]
    root = write_catalog(
        root,
        {
            "metrics/revenue.yaml": (
                "id: revenue\nname: 营收\nlevel: L0\nowner: finance\n"
                "fields: [dms.orders.amount]\n"
                "sql: SELECT period, sum(amount) AS value FROM orders GROUP BY period\n"
            ),
            "metrics/evil.yaml": f"id: evil\nname: 恶意\nlevel: L2\nsql: {evil_sql!r}\n",
        },
    )
    (root / "data").mkdir()
    (root / "data" / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT content AS period, 1 AS value FROM read_text('/proc/self/cmdline')", "read_text"),
        ("SELECT period, 1 AS value FROM orders; COPY orders TO '{out}'", "COPY"),
        ("SELECT period, 1 AS value FROM orders /* ; ATTACH '{out}' AS x */", "comment|注释"),
        ("SELECT * FROM '{out}'", "not a table of the catalog|不是本目录的表"),
    ],
)
def test_the_values_engine_refuses_what_a_no_lint_load_let_in(
    tmp_path: Path, sql: str, reason: str
) -> None:
    out = tmp_path / "out.csv"
    root = _values_catalog(tmp_path / "cat", sql.format(out=out))
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    try:
        # in the language in use (zh here: no catalog chose one)
        with pytest.raises(InvalidQueryError, match=r"its sql is refused|其 SQL 被拒绝") as caught:
            engine.frame("evil")
        assert re.search(reason, str(caught.value)), str(caught.value)
        assert not out.exists()
        assert engine.frame("revenue")[()]["2026-01"] == 10.0  # the engine is fine
    finally:
        engine.close()


def test_a_runaway_query_is_stopped_and_values_keep_being_served(tmp_path: Path) -> None:
    evil = (
        "SELECT a.period, count(*) AS value FROM orders a, orders b, orders c, orders d, "
        "orders e GROUP BY a.period"
    )
    root = _values_catalog(tmp_path / "cat", evil, rows=400)  # 400^5 rows: hours unchecked
    limits = SandboxLimits(sql_timeout=1.0)
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)), limits)
    try:
        started = time.monotonic()
        with pytest.raises(
            InvalidQueryError, match=r"longer than 1 s and was stopped|运行超过 1 秒，已被停止"
        ):
            engine.frame("evil")
        assert time.monotonic() - started < 15  # 1 s, plus a loaded machine's slack
        assert engine.frame("revenue")[()]["2026-01"] > 0  # the engine stays usable
        again = time.monotonic()
        with pytest.raises(InvalidQueryError, match=r"was stopped|已被停止"):
            engine.frame("evil")  # remembered: not run a second time
        assert time.monotonic() - again < 1
    finally:
        engine.close()


def test_no_sql_reads_the_session_key_or_the_store(
    gov: tuple[TestClient, dict[str, str], Path], tmp_path: Path
) -> None:
    """Even unchecked SQL on the values engine's connection reaches no file but its data."""
    import duckdb

    client, _tokens, db = gov
    client.get("/signin")  # the key file is made on first use
    state: Any = client.app.state.auth  # type: ignore[attr-defined]
    state.signer  # noqa: B018 (made now)
    key_file = Path(str(db) + ".session-key")
    assert key_file.is_file() and (key_file.stat().st_mode & 0o777) == 0o600
    root = _values_catalog(tmp_path / "cat", "SELECT period, 1 AS value FROM orders")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    try:
        con = engine._con  # the test reaches past the checks on purpose
        for target in (key_file, db, Path(f"{db}-wal"), Path("/proc/self/cmdline")):
            with pytest.raises(duckdb.Error, match=r"disabled by configuration|Permission"):
                con.execute(f"SELECT * FROM read_blob('{target}')").fetchall()
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("sql", "lint", "expected"),
    [
        # an undeclared table is said once, by sql.unknown-table ...
        ("SELECT sum(amount) AS value FROM nowhere", "", {"sql.unknown-table"}),
        # ... by sql.unsafe when that rule is turned off (the sandbox still refuses it)
        (
            "SELECT sum(amount) AS value FROM nowhere",
            "lint: {disable: [sql.unknown-table]}\n",
            {"sql.unsafe"},
        ),
        # and an undeclared table does not hide a file reader
        (
            "SELECT read_text('/etc/passwd') AS value FROM nowhere",
            "",
            {"sql.unknown-table", "sql.unsafe"},
        ),
        ("SELECT sum(amount) AS value FROM orders", "", set()),
    ],
)
def test_lint_reports_each_problem_once(
    tmp_path: Path, sql: str, lint: str, expected: set[str]
) -> None:
    from analysis.lint import lint_catalog

    root = _hostile_catalog(tmp_path / "cat", sql, lint)
    report = lint_catalog(root)
    found = {i.rule for i in report.issues if i.severity.value == "error" and "evil" in i.message}
    assert found == expected, [i.message for i in report.issues]
