"""A per-file cache of what reading a catalog file produced, keyed by the file's content.

``kpigraph load`` reads a catalog of many files, most of them unchanged since the last load.
For each file that read without a problem, the validated nodes it declared (with their YAML
mappings, for file:line in later errors and lint) and the edges it produced (tables → fields)
are kept under a key made of the file's path in the catalog, a SHA-256 of its bytes and a
fingerprint of the loader and model code. The next read of an unchanged file takes them from
the cache: it is not parsed or validated again. References between files (formulas, fields,
owners...) are resolved again on every read, so an edit in one file is checked against all
the others.

A file that had a problem is never cached (its errors are found again, with their lines).
Entries are written only when the whole catalog read succeeded (a read that fails leaves the
cache as it was), each atomically (temporary file + rename: a killed read leaves whole entries
or none), and the entries the successful read did not use are removed.

Where: ``$KPIGRAPH_CACHE_DIR`` (``off`` disables it), else ``$XDG_CACHE_HOME/kpigraph``, else
``~/.cache/kpigraph``; one directory per catalog (by its absolute path), mode 0700 — entries are
pickles, read only from there, and only when that directory and the entry are this user's own
and no one else's to write (:func:`core.cache_root.read_private`): a folder that another user
made in a shared cache directory is neither read nor written.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from core.cache_root import CATALOG_CACHE_DIR, is_private, read_private, write_private
from core.cache_root import default_cache_root as default_cache_root
from loaders.prefetch import workers

#: modules whose code decides what a file reads as: a change to any of them is a new cache
_CODE = (
    "loaders/catalog.py",
    "loaders/catalog_read.py",
    "loaders/file_entries.py",
    "loaders/validate.py",
    "loaders/yaml_lines.py",
    "loaders/catalog_cache.py",
    "graph_schema/models.py",
    "graph_schema/model_values.py",
    "graph_schema/ids.py",
    "graph_schema/relations.py",
    "graph_schema/benchmarks.py",
    "graph_schema/semver.py",
)
_ROOT = Path(__file__).resolve().parent.parent
FORMAT = "1"
#: load records kept per catalog (one per store loaded from it, the newest first)
RECORDS = 4


@functools.cache
def _fingerprint() -> str:
    """The loader's code as this process runs it (read once per process)."""
    h = hashlib.sha256(f"{FORMAT}\0{pydantic.VERSION}".encode())
    for rel in _CODE:
        with contextlib.suppress(OSError):
            h.update((_ROOT / rel).read_bytes())
    return h.hexdigest()[:16]


def files_digest(catalog: str | Path) -> str:
    """A SHA-256 of every file under ``catalog`` (paths and bytes; ``.git`` aside) and of the
    loader's code: equal digests, the same graph read. ``kpigraph load`` compares it with the
    one recorded by the load that produced the stored graph, and skips reading a catalog that
    did not change at all.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "kpigraph.yaml").write_text("name: demo\\n")
    >>> before = files_digest(d)
    >>> before == files_digest(d)
    True
    >>> _ = (d / "metrics").mkdir(), (d / "metrics" / "a.yaml").write_text("id: a\\n")
    >>> before == files_digest(d)
    False
    """
    return catalog_files(catalog).digest


@dataclass(frozen=True)
class CatalogFiles:
    """Every file of a catalog directory with the SHA-256 of its bytes, and their digest."""

    digest: str
    #: path relative to the catalog (POSIX) → SHA-256 of its bytes (hex)
    files: dict[str, str]
    #: a linked folder was met: its files may change unseen (never compared file by file)
    linked: bool = False


def catalog_files(catalog: str | Path) -> CatalogFiles:
    """:func:`files_digest` with each file's own SHA-256 (what a reload compares with the
    files of the last load, to read only what changed: :mod:`core.reload`)."""
    root = Path(catalog)
    h = hashlib.sha256(f"files\0{_fingerprint()}".encode())
    paths = []
    linked = False
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            # git's own files, and the values kept by `values refresh`: not the catalog
            dirnames[:] = [d for d in dirnames if d not in (".git", CATALOG_CACHE_DIR)]
        if any(os.path.islink(os.path.join(dirpath, d)) for d in dirnames):
            # a linked folder may change without this walk seeing it: never "unchanged"
            h.update(os.urandom(16))
            linked = True
        paths += [Path(dirpath, name) for name in filenames]
    files: dict[str, str] = {}
    for path in sorted(paths):
        with contextlib.suppress(OSError):  # vanished or unreadable: the read reports it
            with path.open("rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").digest()
            rel = path.relative_to(root).as_posix()
            h.update(rel.encode("utf-8", "surrogateescape") + b"\0" + digest)
            files[rel] = digest.hex()
    return CatalogFiles(h.hexdigest(), files, linked)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


#: nodes per pickled chunk of an entry: a delta's lint reads a few nodes of a file of 1,000
#: (:meth:`FileEntry.find`) and unpickles the chunks holding them, not the whole file; a whole
#: read unpickles every chunk, at the cost of one pickle of the whole list (measured at M)
CHUNK = 32


class FileEntry:
    """What one file produced: nodes as ``(node, line, raw mapping)``, and edges.

    Pickled with its nodes in chunks of :data:`CHUNK` (each a pickle of its own) and the
    nodes' refs: an entry read with :meth:`FileCache.get` ``(lazy=True)`` unpickles a chunk
    only when one of its nodes is asked for (:meth:`find`)."""

    __slots__ = ("_chunks", "_nodes", "_older", "_refs", "_unpickled", "edges", "text")

    def __init__(
        self, nodes: list[tuple[Any, int | None, Any]], edges: list[Any], text: str | None = None
    ) -> None:
        self._nodes: list[tuple[Any, int | None, Any]] | None = nodes
        self._chunks: list[bytes] = []
        self._refs: list[str] | None = None
        self._unpickled: dict[int, list[tuple[Any, int | None, Any]]] = {}
        self._older: FileEntry | None = None
        self.edges = edges
        #: the text of a metric file (a delta reads only its changed items: loaders/metric_items)
        self.text = text

    @property
    def nodes(self) -> list[tuple[Any, int | None, Any]]:
        """Every node of the file, in the file's order (the chunks not yet unpickled are)."""
        if self._nodes is None:
            self._nodes = [n for i in range(len(self._chunks)) for n in self._chunk(i)]
            self._unpickled.clear()
        return self._nodes

    def find(self, ref: str) -> tuple[Any, int | None, Any] | None:
        """The node whose ref (``Kind:id``) is ``ref``, unpickling only its chunk.

        Raises whatever unpickling a damaged chunk raises (the caller reads whole)."""
        if self._nodes is not None:
            return next((n for n in self._nodes if str(n[0].ref) == ref), None)
        try:
            at = (self._refs or []).index(ref)
        except ValueError:
            return None
        node = self._chunk(at // CHUNK)[at % CHUNK]
        if str(node[0].ref) != ref:
            raise ValueError(f"cache entry: {ref} is not where its refs say")
        return node

    def _chunk(self, i: int) -> list[tuple[Any, int | None, Any]]:
        got = self._unpickled.get(i)
        if got is None:
            got = pickle.loads(self._chunks[i])
            if not isinstance(got, list):
                raise TypeError("cache entry: a chunk is not a list of nodes")
            self._unpickled[i] = got
        return got

    def reuse_chunks(self, older: FileEntry) -> None:
        """Pickle each chunk that holds the very nodes ``older`` read from its chunk (the same
        objects at the same lines) as ``older``'s bytes of it: the entry of a file a delta read
        item by item (:mod:`loaders.metric_items`) pickles its changed chunks only."""
        self._older = older

    def _same_chunk(self, n: int, part: list[tuple[Any, int | None, Any]]) -> bytes | None:
        """This entry's bytes of chunk ``n`` when they hold the objects of ``part``."""
        if n >= len(self._chunks) or self._refs is None:
            return None
        mine = self._nodes[n * CHUNK : (n + 1) * CHUNK] if self._nodes is not None else None
        if mine is None:
            mine = self._unpickled.get(n)
        if mine is None or len(mine) != len(part):
            return None
        for (node, line, raw), (was, was_line, was_raw) in zip(part, mine, strict=True):
            if node is not was or raw is not was_raw or line != was_line:
                return None
        return self._chunks[n]

    def __getstate__(self) -> dict[str, Any]:
        nodes = self.nodes
        older = self._older
        chunks: list[bytes] = []
        refs: list[str] = []
        for n, at in enumerate(range(0, len(nodes), CHUNK)):
            part = nodes[at : at + CHUNK]
            same = older._same_chunk(n, part) if older is not None else None
            if same is not None and older is not None and older._refs is not None:
                chunks.append(same)
                refs += older._refs[at : at + CHUNK]
            else:
                chunks.append(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
                refs += [str(x[0].ref) for x in part]
        return {"chunks": chunks, "refs": refs, "edges": self.edges, "text": self.text}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._chunks = list(state["chunks"])
        self._refs = list(state["refs"])
        if len(self._refs) > len(self._chunks) * CHUNK:
            raise ValueError("cache entry: more refs than chunks hold")
        self._nodes = None
        self._unpickled = {}
        self._older = None
        self.edges = state["edges"]
        self.text = state["text"]


@dataclass
class FileCache:
    """The cache of one catalog directory (see the module docstring)."""

    directory: Path
    fingerprint: str = field(default_factory=_fingerprint)
    #: entries read or to be written by the current read: key -> entry
    used: set[str] = field(default_factory=set)
    #: (a :class:`FileEntry`, or its pickle)
    pending: dict[str, FileEntry | bytes] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    #: write new entries from a forked child while this process goes on (``kpigraph load``:
    #: at L the entries of a first read take seconds to write); see :meth:`commit`
    background: bool = False
    #: file (as the read names it) -> its key, for each file this read looked up
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_catalog(cls, catalog: str | Path, root: Path | None = None) -> FileCache | None:
        """The cache of ``catalog`` under ``root`` (default :func:`default_cache_root`), or
        ``None`` when caching is off."""
        root = root or default_cache_root()
        if root is None:
            return None
        where = str(Path(catalog).resolve())
        return cls(root / hashlib.sha256(where.encode()).hexdigest()[:24])

    def key(self, rel: str, data: bytes) -> str:
        h = hashlib.sha256(self.fingerprint.encode())
        h.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        h.update(data)
        key = h.hexdigest()
        self.keys[rel] = key
        return key

    def keep(self, keys: Iterable[str]) -> None:
        """Entries the current read did not look up but still holds (a delta: the files it
        did not read): :meth:`commit` leaves them."""
        self.used.update(keys)

    def holds(self, key: str) -> bool:
        """Whether an entry for ``key`` is there (it may still turn out unreadable)."""
        return (self.directory / f"{key}.pickle").is_file()

    def get(self, key: str, *, lazy: bool = False) -> FileEntry | None:
        """The entry kept under ``key`` (``None``: none, damaged or another user's — a miss,
        never an error). ``lazy``: its nodes are unpickled when asked for
        (:meth:`FileEntry.find`; a damaged chunk then raises there), else all of them here."""
        data = read_private(self.directory / f"{key}.pickle")  # another user's: a miss
        try:
            entry = None if data is None else pickle.loads(data)
            if isinstance(entry, FileEntry) and not lazy:
                entry.nodes  # noqa: B018 - every chunk unpickled (a damaged one: a miss)
        except Exception:  # a missing or damaged entry is a miss, never an error
            entry = None
        if not isinstance(entry, FileEntry):
            self.misses += 1
            return None
        self.used.add(key)
        self.hits += 1
        return entry

    def put(self, key: str, entry: FileEntry, *, pickled: bytes | None = None) -> None:
        """Remember ``entry``; written by :meth:`commit` (``pickled``: its pickle, when a
        worker made it already — written as it is)."""
        self.used.add(key)
        self.pending[key] = entry if pickled is None else pickled

    def discard(self) -> None:
        """The read failed: write nothing, remove nothing."""
        self.pending.clear()
        self.used.clear()

    def commit(self) -> None:
        """The read succeeded: write the new entries, drop the ones this read did not use.
        A cache that cannot be written is only slower, never an error.

        With :attr:`background` (and where forking is safe, see :mod:`loaders.prefetch`) a
        forked child writes them while this process goes on, and this process waits for it
        only when it exits (so the next load finds every entry). Every entry appears whole
        (temporary file + rename) or not at all: a read meanwhile only misses some."""
        if self.background and self.pending and workers() > 0:
            pid = os.fork()
            if pid == 0:  # the child: write, then leave without running the parent's exit code
                try:
                    devnull = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):  # a caller waiting for the parent's output won't wait
                        os.dup2(devnull, fd)
                    self._write()
                finally:
                    os._exit(0)
            atexit.register(_reap, pid)
            self.pending.clear()
            self.used.clear()
            return
        self._write()

    def save_record(self, name: str, record: object) -> None:
        """Keep ``record`` (what a load read, :mod:`core.reload`) under ``name``; the
        :data:`RECORDS` newest are kept. Written whole or not at all; never an error."""
        try:
            if not write_private(
                self.directory / f"{name}.record",
                lambda fh: pickle.dump(record, fh, protocol=pickle.HIGHEST_PROTOCOL),
                ".rectmp",
            ):
                return
            kept = sorted(
                self.directory.glob("*.record"), key=lambda p: p.stat().st_mtime, reverse=True
            )
            for old in kept[RECORDS:]:
                old.unlink()
        except OSError:
            pass

    def record(self, name: str) -> object | None:
        """The record kept under ``name`` (``None``: none, or unreadable)."""
        data = read_private(self.directory / f"{name}.record")  # as the entries
        try:
            record: object = None if data is None else pickle.loads(data)
            return record
        except Exception:
            return None

    def _write(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not is_private(self.directory):
                return  # another user's folder (or one others may write): nothing kept there
            for key, entry in self.pending.items():
                fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
                try:
                    with os.fdopen(fd, "wb") as fh:
                        if isinstance(entry, bytes):
                            fh.write(entry)
                        else:
                            pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
                    os.replace(tmp, self.directory / f"{key}.pickle")
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
            for path in self.directory.iterdir():
                if path.suffix == ".tmp" or (
                    path.suffix == ".pickle" and path.stem not in self.used
                ):
                    with contextlib.suppress(OSError):
                        path.unlink()
        except OSError:
            pass
        finally:
            self.pending.clear()
            self.used.clear()
