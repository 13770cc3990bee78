"""Metric SQL past DuckDB's ``memory_limit`` spilled to ``.tmp`` in the *current directory* (an
in-memory database's default), up to 90% of the free disk: a metric whose SQL sorts a cross
join of the catalog's own tables made ``kpigraph serve`` (started in the catalog's checkout)
write gigabytes of DuckDB pages into that directory until the time limit stopped it. Now both
DuckDB engines spill to a folder of the process's private temporary directory, at most
``KPIGRAPH_VALUES_SQL_SPILL``, and the folder is gone when the connection closes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from values.engines.connections import SecretUrl
from values.engines.duckdb_engine import DuckDBEngine
from values.errors import EngineQueryError
from values.sandbox import SandboxLimits, connect, lock_down

SORT_A_CROSS_JOIN = "SELECT a.s || b.s AS x FROM t a, t b ORDER BY x"


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    rows = "\n".join(f"{i},{i * 7919 % 100003:08d}{'x' * 24}" for i in range(60_000))
    (data / "t.csv").write_text("i,s\n" + rows + "\n", encoding="utf-8")
    return data


def test_a_spilling_query_writes_nothing_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("KPIGRAPH_VALUES_SQL_MEMORY", "64MB")
    monkeypatch.setenv("KPIGRAPH_VALUES_SQL_SPILL", "32MB")
    engine = DuckDBEngine(SecretUrl("duckdb://"), data_dir=_data(tmp_path), timeout_s=30)
    try:
        with pytest.raises(EngineQueryError) as caught:
            engine.run(SORT_A_CROSS_JOIN)
        assert "max_temp_directory_size" in caught.value.message  # stopped by the bound
        assert list(work.iterdir()) == []  # no .tmp here
        assert engine.run("SELECT count(*) AS value FROM t").rows == [(60_000,)]
    finally:
        engine.close()


def test_the_values_engine_spills_to_a_private_bounded_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    con = connect(SandboxLimits(sql_spill="3GB"))
    lock_down(con, [])
    try:
        row = con.execute(
            "SELECT current_setting('temp_directory'), current_setting('max_temp_directory_size')"
        ).fetchone()
        assert row is not None
        folder, most = Path(row[0]), str(row[1])
        assert folder.is_absolute() and not folder.is_relative_to(tmp_path)
        assert most.replace(" ", "").upper().startswith(("3.0GB", "2.7GIB", "3GB"))
        parent = folder.parent
        assert stat.S_IMODE(parent.stat().st_mode) == 0o700 and parent.stat().st_uid == os.getuid()
    finally:
        con.close()
