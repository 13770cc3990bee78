"""Replacing the database of a local server (``kpigraph neo4j start``) with an offline import:
``neo4j-admin database import full`` (the import tool is in the jars the launcher already has),
for a first load into an empty store (:mod:`store.neo4j_bulk` writes the CSV files).

The import writes a database of its own in a scratch home under the data directory while the
server keeps running; only then is the server stopped, the two database directories
(``databases/neo4j`` and ``transactions/neo4j``) swapped for the imported ones, and the server
started again. A swap is journalled (``import-swap.json``): a kill in the middle of it is rolled
back to the database before it (:func:`recover`, run by every start), a kill after it keeps the
imported one (an unpublished generation, which readers do not see and the next load replaces).
A kill before the swap leaves the server and its database as they were.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.i18n import _
from neo4j_local import launcher

#: Scratch space of an import (CSV files, the import's own home) under the data directory.
WORK = "import"
#: The journal of a swap of database directories: ``{"state": "moving" | "moved"}``.
JOURNAL = "import-swap.json"
IMPORT_CLASS = "org.neo4j.cli.AdminTool"
SUBDIRS = ("databases", "transactions")


def _live(data: Path, sub: str) -> Path:
    return data / "db" / "data" / sub / "neo4j"


def _old(data: Path, sub: str) -> Path:
    return data / WORK / "old" / sub


def recover(data: Path) -> None:
    """Finish or undo a swap a kill interrupted (the server of ``data`` is not running): a swap
    caught while moving directories is rolled back; one that moved them all is kept."""
    journal = data / JOURNAL
    if not journal.is_file():
        return
    try:
        state = json.loads(journal.read_text()).get("state")
    except (OSError, ValueError):
        state = "moving"
    if state != "moved":
        for sub in SUBDIRS:
            old = _old(data, sub)
            if old.exists():
                shutil.rmtree(_live(data, sub), ignore_errors=True)
                _live(data, sub).parent.mkdir(parents=True, exist_ok=True)
                old.rename(_live(data, sub))
    shutil.rmtree(data / WORK / "old", ignore_errors=True)
    journal.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(data: Path) -> Iterator[int]:
    """One import per data directory at a time; the import tool inherits the lock, so an
    import tool left running by a killed load holds it until it ends."""
    fd = os.open(data / "import.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


@dataclass(frozen=True)
class LocalImport:
    """The local server of ``data`` (running on ``port``) as a target of offline imports."""

    data: Path
    port: int
    heap: str = "1g"

    def scratch(self) -> Path:
        """A fresh directory for the CSV files of one import."""
        path = self.data / WORK / "csv"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def replace_database(
        self,
        nodes: Sequence[tuple[str, Path]],
        relationships: Sequence[tuple[str, Path]],
        *,
        multiline: bool,
        still_empty: Callable[[], bool],
    ) -> bool:
        """Import ``nodes`` (labels ``A:B``, file) and ``relationships`` (type, file) into a
        new database and make it the server's: stopped, swapped, started again. ``False``
        (nothing changed) when ``still_empty()`` says the server's database is not empty any
        more once the import is ready."""
        with _locked(self.data) as lock:
            recover(self.data)  # a swap is never left half-done while the server runs
            home = self.data / WORK / "home"
            shutil.rmtree(home, ignore_errors=True)
            (home / "conf").mkdir(parents=True)
            (home / "conf" / "neo4j.conf").write_text("")
            try:
                self._run_import(home, nodes, relationships, multiline, lock)
                if not still_empty():
                    return False
                launcher.stop(self.data)
                self._swap(home)
                try:
                    launcher.restart(self.data, self.port)
                except launcher.LauncherError:
                    self._undo()
                    launcher.restart(self.data, self.port)
                    raise
                shutil.rmtree(self.data / WORK / "old", ignore_errors=True)
                (self.data / JOURNAL).unlink(missing_ok=True)
                return True
            finally:
                shutil.rmtree(home, ignore_errors=True)
                shutil.rmtree(self.data / WORK / "csv", ignore_errors=True)

    def _run_import(
        self,
        home: Path,
        nodes: Sequence[tuple[str, Path]],
        relationships: Sequence[tuple[str, Path]],
        multiline: bool,
        lock: int,
    ) -> None:
        classpath = launcher.build()
        java = shutil.which("java") or "java"
        cmd = [
            java,
            f"-Xmx{self.heap}",
            *launcher.JVM_FLAGS,
            "-cp",
            classpath,
            IMPORT_CLASS,
            "database",
            "import",
            "full",
            *(f"--nodes={labels}={path}" for labels, path in nodes),
            *(f"--relationships={rel}={path}" for rel, path in relationships),
            f"--multiline-fields={'true' if multiline else 'false'}",
            "--array-delimiter=U+001F",  # store.neo4j_bulk.ARRAY_DELIMITER
            f"--report-file={home / 'import.report'}",
            "--overwrite-destination=true",
            "neo4j",
        ]
        env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
        proc = subprocess.run(
            cmd, env=env, cwd=home, capture_output=True, text=True, pass_fds=(lock,)
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise launcher.LauncherError(
                _("the offline import (neo4j-admin database import) failed:") + "\n" + tail
            )

    def _swap(self, home: Path) -> None:
        journal = self.data / JOURNAL
        journal.write_text(json.dumps({"state": "moving"}))
        (self.data / WORK / "old").mkdir(parents=True, exist_ok=True)
        for sub in SUBDIRS:
            if _live(self.data, sub).exists():
                _live(self.data, sub).rename(_old(self.data, sub))
        for sub in SUBDIRS:
            _live(self.data, sub).parent.mkdir(parents=True, exist_ok=True)
            (home / "data" / sub / "neo4j").rename(_live(self.data, sub))
        journal.write_text(json.dumps({"state": "moved"}))

    def _undo(self) -> None:
        """The imported database did not start: the one before it back in place."""
        (self.data / JOURNAL).write_text(json.dumps({"state": "moving"}))
        recover(self.data)


def local_server(uri: str, data_dir: Path | None) -> LocalImport | None:
    """The local server of ``data_dir`` (default: the launcher's) when it is the one ``uri``
    names (``bolt://127.0.0.1:PORT`` or ``localhost``) and it runs; else ``None``."""
    scheme, _sep, rest = uri.partition("://")
    host, _sep, port_text = rest.partition(":")
    if scheme not in ("bolt", "neo4j") or host not in ("127.0.0.1", "localhost"):
        return None
    server = launcher.status(data_dir)
    if server is None or str(server.port) != port_text.strip("/"):
        return None
    return LocalImport(server.data_dir, server.port)
