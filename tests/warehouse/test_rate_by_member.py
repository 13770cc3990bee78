"""A rate (``aggregation: none``) whose SQL groups by a dimension gives values by its members
only: ``eval --by store`` answers from those rows (no total, said so), and the total asked of
it — ``eval``/``values``/``explain`` — is a clear error that says to ask ``--by store`` or have
the SQL give the total too, not the engine's "not rolled up"/"no values". On the embedded
DuckDB engine (the catalog's ``data/`` files) and on a real PostgreSQL (hand-computed: A's
June 2/3 against May 1/2, B's June 1/2 against May 1/1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.explain import explain
from core import i18n
from graph_schema.errors import NoTotalError
from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from tests.warehouse.servers import PgServer
from values.cache import refresh_engine
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.service import eval_report, values_report

ORDERS = [
    ("2026-05-02", "A", 1), ("2026-05-03", "A", 0), ("2026-05-15", "B", 1),
    ("2026-06-01", "A", 0), ("2026-06-30", "A", 1), ("2026-06-02", "A", 1),
    ("2026-06-05", "B", 0), ("2026-06-06", "B", 1),
]  # fmt: skip
SQL = (
    "SELECT strftime(day, '%Y-%m') AS period, store, SUM(ok) * 1.0 / COUNT(*) AS value "
    "FROM orders GROUP BY ALL"
)


def _files(connection: bool) -> dict[str, str | bytes | None]:
    return {
        "dimensions.yaml": "- {id: time, name: 时间}\n- {id: store, name: 门店}\n",
        "sources.yaml": (
            "- id: wh\n  name: 数仓\n  dialect: duckdb\n"
            + ("  connection: {env: KPIGRAPH_CONN_WH}\n" if connection else "")
            + "  tables:\n    - id: orders\n      name: 工单表\n      fields:\n"
            "        - {id: day, name: 完成日期, type: date}\n"
            "        - {id: store, name: 门店, type: string}\n"
            "        - {id: ok, name: 是否完工, type: integer}\n"
        ),
        "metrics/revenue.yaml": None,
        "metrics/visits.yaml": None,
        "metrics/atp.yaml": None,
        "metrics/ok_rate.yaml": (
            "id: ok_rate\nname: 完工率\nlevel: L1\naggregation: none\n"
            "dimensions: [time, store]\nfields: [wh.orders.day, wh.orders.store, wh.orders.ok]\n"
            f"sql: {SQL}\n"
        ),
        **(
            {}
            if connection
            else {
                "data/orders.csv": "day,store,ok\n"
                + "".join(f"{d},{s},{ok}\n" for d, s, ok in ORDERS)
            }
        ),
    }


@pytest.fixture
def embedded(tmp_path: Path) -> ValuesEngine:
    root = write_catalog(tmp_path / "catalog", _files(connection=False))
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


def _postgres(
    tmp_path: Path, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch, refresh: bool
) -> ValuesEngine:
    with pg_server.admin() as con:
        con.execute("DROP TABLE IF EXISTS orders")
        con.execute("CREATE TABLE orders (day date, store text, ok integer)")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s)", ORDERS)
        con.execute("GRANT SELECT ON orders TO reader")
    monkeypatch.setenv("KPIGRAPH_CONN_WH", pg_server.url())
    root = write_catalog(tmp_path / "catalog", _files(connection=True))
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    if refresh:  # from the values cache; else each question asked of the server
        report = refresh_engine(engine)
        assert report.refreshed == {"ok_rate": 4} and not report.failed, report
    return engine


@pytest.fixture
def postgres(tmp_path: Path, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> ValuesEngine:
    return _postgres(tmp_path, pg_server, monkeypatch, refresh=True)


@pytest.fixture
def postgres_live(
    tmp_path: Path, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> ValuesEngine:
    return _postgres(tmp_path, pg_server, monkeypatch, refresh=False)


@pytest.mark.parametrize("kind", ["embedded", "postgres", "postgres_live"])
def test_a_rate_by_store_is_evaluated_by_store(kind: str, request: pytest.FixtureRequest) -> None:
    engine: ValuesEngine = request.getfixturevalue(kind)
    try:
        with i18n.use("en"):
            report = eval_report(engine, "ok_rate", "2026-06", "store")
        assert report["value"] is None and report["mom"] is None  # no total: none made up
        members = {m["member"]: m for m in report["members"]}
        assert members["A"]["value"] == pytest.approx(2 / 3)
        assert members["A"]["previous"] == pytest.approx(1 / 2)
        assert members["B"]["value"] == pytest.approx(1 / 2)
        assert members["B"]["mom"] == pytest.approx(-1 / 2)
        assert [members[s]["rank"] for s in "AB"] == [1, 2]
        assert "values of 'ok_rate' are given by store only" in report["notes"][0]
        assert "GROUPING SETS ((period, store), (period))" in report["notes"][0]

        # the total: a clear error saying what to ask, in the language asked for
        for lang, words in (("en", "Ask by store (--by store)"), ("zh", "--by store")):
            with i18n.use(lang), pytest.raises(NoTotalError) as caught:
                eval_report(engine, "ok_rate", "2026-06")
            assert words in caught.value.message, caught.value.message
            assert "not rolled up" not in caught.value.message
        with i18n.use("zh"), pytest.raises(NoTotalError) as caught:
            values_report(engine, "ok_rate")
        assert "按 store" in caught.value.message, caught.value.message
        with i18n.use("en"), pytest.raises(NoTotalError) as caught:
            explain(engine, "ok_rate", "2026-06", by=["store"])
        said = caught.value.message
        assert "kpigraph eval ok_rate --period 2026-06 --by store" in said, said
        assert "no values for 2026-06 and 2026-05" not in said
    finally:
        engine.close()
