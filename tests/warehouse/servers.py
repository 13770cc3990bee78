"""Real database servers for the warehouse tests: Debian's PostgreSQL (initdb + pg_ctl in a
temporary directory, on a free port, as the ``postgres`` user when the tests run as root) and
PySpark in local mode. Under ``CI=true`` a server that cannot be had fails the test; elsewhere
the test is skipped with the reason."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: the reader's password: the masking tests look for it in every message and log line
READER_PASSWORD = "s3cret-Pw_Must-Not-Leak"


def unavailable(what: str, reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but could not be had: {reason}")
    pytest.skip(f"no {what}: {reason}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path | None:
    found = os.environ.get("KPIGRAPH_PG_BINDIR")
    if found:
        return Path(found)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass(frozen=True)
class PgServer:
    port: int
    socket_dir: Path
    bindir: Path

    def url(self, user: str = "reader", password: str = READER_PASSWORD) -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/kpigraph"

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname="kpigraph",
            autocommit=True,
        )  # fmt: skip


@contextlib.contextmanager
def postgres_server() -> Iterator[PgServer]:
    bindir = pg_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        unavailable("PostgreSQL", "initdb not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="kpigraph-pg-"))
    run_as: dict[str, Any] = {}
    if os.geteuid() == 0:  # initdb refuses root: run the server as 'postgres'
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("PostgreSQL", "running as root and there is no 'postgres' user")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    data, sock, log = base / "data", base / "sock", base / "server.log"
    port = free_port()

    def call(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=120, cwd=base, **run_as)

    try:
        call("mkdir", str(sock))
        call(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
             "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        call(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
             f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
             "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB",
             "start")  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(base, ignore_errors=True)
        unavailable("PostgreSQL", f"{exc} {detail.decode(errors='replace')[-500:]}")
    server = PgServer(port, sock, bindir)
    try:
        import psycopg

        with psycopg.connect(
            host=str(sock), port=port, user="postgres", dbname="postgres", autocommit=True
        ) as con:
            con.execute("CREATE DATABASE kpigraph")
        with server.admin() as con:
            con.execute(f"CREATE ROLE reader LOGIN PASSWORD '{READER_PASSWORD}'")
            con.execute("ALTER ROLE reader SET default_transaction_read_only = on")
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            call(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def spark_session() -> Iterator[Any]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("Spark", "no Java (apt-get install openjdk-17-jre-headless)")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        unavailable("Spark", f"pyspark is not installed: {exc}")
    try:
        spark = (
            SparkSession.builder.master("local[1]")
            .appName("kpigraph-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.default.parallelism", "1")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "512m")
            .getOrCreate()
        )
    except Exception as exc:
        unavailable("Spark", f"local mode did not start: {exc}")
    try:
        yield spark
    finally:
        spark.stop()
