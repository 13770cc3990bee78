"""The embedded store's file as a thing that can be damaged under a running process.

SQLite cannot see a file truncated, emptied or replaced behind its back: an open connection
keeps reading its cache (or the removed inode) and reports nothing, or fails with a raw
``DatabaseError``. These helpers let the store notice — a cheap :func:`signature` of the file
compared on each read, a :func:`probe` through a fresh connection when it changed — and say
in words what is wrong and what to do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from graph_schema.errors import BackendUnavailableError

#: Sidecar files of a WAL-mode database.
SIDECARS = ("-wal", "-shm")

_OPENING: dict[str, threading.Lock] = {}
_OPENING_GUARD = threading.Lock()


def opening(path: Path) -> threading.Lock:
    """The lock every handle in this process holds while it opens ``path`` (the store's
    handle may remove an empty file and its sidecars; the ledger's, sharing the file, must not
    be opening it at that moment — a sidecar mapped by one and reset by the other is a SIGBUS).
    """
    key = os.path.abspath(path)
    with _OPENING_GUARD:
        return _OPENING.setdefault(key, threading.Lock())


@dataclass(frozen=True)
class Signature:
    """What a stat says about the file: which file (device, inode) and its size and mtime."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @property
    def file_id(self) -> tuple[int, int]:
        return (self.device, self.inode)


def signature(path: Path) -> Signature:
    """Raises ``OSError`` (``FileNotFoundError``) when the file is gone."""
    st = os.stat(path)
    return Signature(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def probe(path: Path, timeout: float = 2.0) -> str | None:
    """Read the file through a fresh connection (none of this process's caches): its header,
    the ``meta`` table and the last rows of ``nodes`` and ``edges`` (pages near the end of the
    file, where a truncation shows). Returns the stored generation, ``None`` when the file
    holds no graph; raises :class:`sqlite3.Error` or ``OSError`` when it cannot be read."""
    if not path.exists():
        raise FileNotFoundError(str(path))
    if path.stat().st_size == 0:
        raise sqlite3.DatabaseError("the file is empty (0 bytes)")
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        conn.execute("SELECT kind, id FROM nodes ORDER BY rowid DESC LIMIT 1").fetchall()
        conn.execute("SELECT source FROM edges ORDER BY rowid DESC LIMIT 1").fetchall()
    finally:
        conn.close()
    generation = meta.get("generation")
    return str(generation) if generation else None


def set_aside_orphans(path: Path) -> list[Path]:
    """When the database file is missing, its ``-wal``/``-shm`` left behind would be replayed
    onto (or break) a new file: rename them to ``*.orphaned-<time>``. Returns what moved."""
    if path.exists():
        return []
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    moved = []
    for suffix in SIDECARS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            target = side.with_name(f"{side.name}.orphaned-{stamp}")
            with contextlib.suppress(OSError):
                side.rename(target)
                moved.append(target)
    return moved


def is_empty(path: Path) -> bool:
    """A 0-byte database file whose WAL (if any) is empty too: it holds nothing."""
    try:
        if path.stat().st_size:
            return False
    except FileNotFoundError:
        return False
    wal = path.with_name(path.name + "-wal")
    return not (wal.exists() and wal.stat().st_size)


def replace_empty(path: Path) -> bool:
    """Remove an empty database file (and its sidecars) so that a new one is created with a
    new inode: a process still holding the old one (a server whose file was emptied) cannot
    lock the new one. Returns whether it did."""
    if not is_empty(path):
        return False
    for suffix in SIDECARS:
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return True


def why(exc: BaseException) -> str:
    """What went wrong with the file, in words (``database disk image is malformed``...)."""
    if isinstance(exc, FileNotFoundError):
        return "the file is missing"
    text = str(exc) or type(exc).__name__
    if text == "file is not a database":
        return "the file is not a SQLite database (overwritten or emptied?)"
    return text


def what_to_do(path: Path, exc: BaseException | None = None) -> str:
    """The one thing to do about ``exc`` on ``path``."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return (
            "another process holds the file (a kpigraph serve, a load still running?); "
            "wait for it or stop it, then run this again"
        )
    if isinstance(exc, FileNotFoundError):
        return f"load a catalog to create it again: kpigraph load CATALOG_DIR --db {path}"
    return (
        f"if the file is damaged, move it away (with {path.name}-wal and {path.name}-shm "
        f"beside it) and load the catalog again: kpigraph load CATALOG_DIR --db {path}"
    )


def unavailable(path: Path, exc: BaseException) -> BackendUnavailableError:
    """The error a read or load of a file that cannot be used raises."""
    return BackendUnavailableError(
        f"the embedded store {path} cannot be read ({why(exc)}); {what_to_do(path, exc)}",
        {"path": str(path), "cause": why(exc)},
    )
