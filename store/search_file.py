"""The search index of one generation, kept in a file so that a server starts with it ready.

Building a :class:`~store.search_index.SearchIndex` reads every node of a generation (seconds
at 100k metrics). Whichever process has it first — ``kpigraph load`` right after publishing a
generation, or a server after building it — writes it to the cache directory
(``$KPIGRAPH_CACHE_DIR/search``, see :func:`loaders.catalog_cache.default_cache_root`; mode
0700), one file per store and generation, atomically (temporary file + rename). A server that
starts, or meets a newly published generation, takes it from there in milliseconds instead of
building it.

The file is plain arrays (no pickle) behind a JSON header naming the store, the generation,
its ``loaded_at`` and counts (a generation id reused by another load is still a miss) and a
fingerprint of the ranking code; the payload has a CRC-32. It is read into memory, not
memory-mapped (a file truncated in place under a mapping kills the process with SIGBUS), and
checked before use: a file that is missing, truncated, damaged, of another generation or
of other code, or shaped so that a search could index outside an array, is ignored — the index
is built as before. Writing is best effort: a cache that cannot be written is only slower.

Examples
--------
>>> import tempfile
>>> from graph_schema.ids import NodeKind
>>> from store.base import SearchQuery
>>> from store.search_index import SearchIndexBuilder
>>> builder = SearchIndexBuilder()
>>> builder.add(NodeKind.METRIC, "Metric:atp", {"id": "atp", "name": "客单价", "level": "L1"})
>>> file = IndexFile("embedded /tmp/g.sqlite", "g1", "2026-01-01", {"Metric": 1},
...                  Path(tempfile.mkdtemp()))
>>> file.save(builder.build())
True
>>> index = file.load()
>>> index.source, index.page(SearchQuery(text="客单"))
('file', (1, ['Metric:atp']))
>>> IndexFile("embedded /tmp/g.sqlite", "g2", "2026-01-01", {"Metric": 1},
...           file.directory).load() is None  # another generation: no file
True
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import stat
import struct
import time
import zlib
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.bulk import run_detached
from graph_schema.ids import NodeKind
from store.search_index import FIELD_SEP, SearchIndex, _Blob, _Filters, _KindSearch

log = logging.getLogger(__name__)

MAGIC = b"KPGSIDX\x01"
FORMAT = 1
SUFFIX = ".kpsi"
#: files of other generations of the same store kept when one is written
KEEP_OTHERS = 2
#: the modules whose code decides what an index holds: a change to any of them is a new file
_CODE = ("store/search_index.py", "store/ranking.py", "store/search_file.py")
_ROOT = Path(__file__).resolve().parent.parent
_DTYPES = frozenset({"|u1", "|i1", "<u2", "<u4", "<i4", "<i8"})
_ALIGN = 8
_MAX_HEADER = 1 << 26
_MAX_FILE = 1 << 36
_SEP = ord(FIELD_SEP)
_MAX_CODE = 0x110000


@functools.cache
def _fingerprint() -> str:
    h = hashlib.sha256(f"{FORMAT}\0{np.__version__}".encode())
    for rel in _CODE:
        with contextlib.suppress(OSError):
            h.update((_ROOT / rel).read_bytes())
    return h.hexdigest()[:16]


def cache_directory() -> Path | None:
    """``<cache root>/search``, or ``None`` when the cache is off (``KPIGRAPH_CACHE_DIR=off``)."""
    from loaders.catalog_cache import default_cache_root

    root = default_cache_root()
    return None if root is None else root / "search"


class BadIndexFile(ValueError):
    """The file is not a usable index of the generation asked for (why: the message)."""


@dataclass(frozen=True)
class IndexFile:
    """Where the search index of one generation of one store is kept.

    ``store`` names the store: ``neo4j`` (its generation ids are unique strings whatever the
    server or the URI it is reached by, so a server restarted on another port still finds
    them), ``embedded /abs/g.sqlite``; ``loaded_at`` and ``counts`` (the store's record of the
    generation) guard against a generation id that another load reuses.
    """

    store: str
    generation: str
    loaded_at: str
    counts: Mapping[str, int]
    directory: Path

    @classmethod
    def of(
        cls, store: str, generation: str, loaded_at: str | None, counts: Mapping[str, int]
    ) -> IndexFile | None:
        """The file in the cache directory; ``None`` when the cache is off or nothing is
        loaded."""
        directory = cache_directory()
        if directory is None or not generation:
            return None
        return cls(store, generation, loaded_at or "", dict(counts), directory)

    @property
    def stamp(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "code": _fingerprint(),
            "store": self.store,
            "generation": self.generation,
            "loaded_at": self.loaded_at,
            "counts": dict(sorted(self.counts.items())),
        }

    @property
    def path(self) -> Path:
        key = hashlib.sha256(json.dumps(self.stamp, sort_keys=True).encode()).hexdigest()
        return self.directory / f"{_digest(self.store)}-{key[:24]}{SUFFIX}"

    def load(self) -> SearchIndex | None:
        """The index kept in the file, or ``None`` (no file, or one not to be trusted)."""
        path = self.path
        try:
            return decode(_read_regular(path), self.stamp)
        except FileNotFoundError:
            return None
        except Exception as exc:  # any damage is a miss: the index is built instead
            log.warning("ignoring the search index file %s: %s", path, exc)
            return None

    def save(self, index: SearchIndex) -> bool:
        """Write ``index`` (atomically) and remove this store's older files; False when the
        cache cannot be written (never an error)."""
        try:
            chunks = encode(index, self.stamp)
        except BadIndexFile as exc:
            log.warning("search index not written: %s", exc)
            return False
        try:
            from core.cache_root import write_private

            if not write_private(self.path, lambda fh: fh.writelines(chunks)):
                log.warning("search index not written: %s is not this user's own", self.directory)
                return False
            self._prune()
            return True
        except OSError as exc:
            log.warning("search index not written to %s: %s", self.directory, exc)
            return False

    def _prune(self) -> None:
        """Keep this file and this store's ``KEEP_OTHERS`` newest others (a server may still be
        on a previous generation, or another database be served next); drop the rest, and
        temporary files older than an hour."""
        mine = self.path
        others = []
        for path in self.directory.iterdir():
            with contextlib.suppress(OSError):
                if path.name.startswith(_digest(self.store) + "-") and path != mine:
                    others.append((path.stat().st_mtime, path))
                elif path.suffix == ".tmp" and path.stat().st_mtime < time.time() - 3600:
                    path.unlink()
        for _, path in sorted(others, reverse=True)[KEEP_OTHERS:]:
            with contextlib.suppress(OSError):
                path.unlink()


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file, not through a symlink; a FIFO, a device or a directory put
    in its place is refused without blocking (reading /dev/zero would never end)."""
    from core.cache_root import own_private, private_directory

    dfd = private_directory(path.parent)
    if dfd is None:  # another user's folder, or one others may write: never trusted
        if not os.path.lexists(path.parent):
            raise FileNotFoundError(path)
        raise BadIndexFile("its folder is not this user's own")
    try:
        fd = os.open(
            path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd
        )
    finally:
        os.close(dfd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadIndexFile("not a regular file")
        if not own_private(st):
            raise BadIndexFile("not this user's own file")
        if st.st_size > _MAX_FILE:
            raise BadIndexFile("too large")
        data = bytearray(st.st_size)
        view, done = memoryview(data), 0
        while done < st.st_size:
            n = os.readv(fd, [view[done:]])
            if n == 0:
                raise BadIndexFile("truncated while read")
            done += n
        return bytes(data)
    finally:
        os.close(fd)


def write_detached(file: IndexFile, build: Callable[[], SearchIndex]) -> bool:
    """Build the index and write ``file`` in a detached process, so that a load returns at
    once (building from the loaded nodes costs ~1 s at 10,000 metrics, more than a reload's
    whole budget at 100,000). False where forking is not safe — not Linux, or another thread
    running in this process (a lock it holds would be copied held) — or failed: the caller
    then builds in-process. A server that starts before the file is written builds the index
    itself; the two writes are atomic renames of the same bytes."""
    return run_detached(lambda: file.save(build()))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


# -- the format ------------------------------------------------------------------------------
# MAGIC | header length (u64 LE) | header (JSON) | padding to 8 | payload (arrays, each at a
# multiple of 8). The header lists every array as [name, dtype, offset, count] in the payload.


def encode(index: SearchIndex, stamp: Mapping[str, Any]) -> list[bytes | memoryview]:
    """The file's bytes, in chunks."""
    arrays: list[tuple[str, NDArray[Any]]] = []
    kinds: dict[str, Any] = {}
    for kind, data in index.kinds.items():
        if any("\0" in ref for ref in data.refs):
            raise BadIndexFile(f"a {kind} ref holds a NUL character")
        refs = "\0".join(data.refs).encode("utf-8", "surrogatepass")
        arrays += [
            (f"{kind}.refs", np.frombuffer(refs, dtype=np.uint8)),
            (f"{kind}.levels", np.frombuffer(data.levels.tobytes(), dtype=np.int8)),
            (f"{kind}.order", data.order),
            (f"{kind}.by_order", data.by_order),
        ]
        for column, values in data.filters.columns.items():
            arrays.append((f"{kind}.filter.{column}", values))
        freq_len = {}
        for part, blob in (("titles", data.titles), ("bodies", data.bodies)):
            used = np.flatnonzero(blob.freq)
            arrays += [
                (f"{kind}.{part}.codes", blob.codes),
                (f"{kind}.{part}.starts", blob.starts),
                (f"{kind}.{part}.freq_at", used),
                (f"{kind}.{part}.freq", blob.freq[used]),
            ]
            freq_len[part] = len(blob.freq)
        kinds[kind] = {
            "n": len(data.refs),
            "freq_len": freq_len,
            "filters": {
                column: sorted(codes, key=codes.__getitem__)
                for column, codes in data.filters.codes.items()
            },
        }
    table: list[list[Any]] = []
    payload: list[bytes | memoryview] = []
    offset = 0
    for name, values in arrays:
        little = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
        table.append([name, little.dtype.str, offset, len(little)])
        payload.append(little.data.cast("B"))
        pad = -little.nbytes % _ALIGN
        if pad:
            payload.append(bytes(pad))
        offset += little.nbytes + pad
    crc = 0
    for chunk in payload:
        crc = zlib.crc32(chunk, crc)
    header = json.dumps(
        {**stamp, "payload": offset, "crc": crc, "kinds": kinds, "arrays": table},
        ensure_ascii=False,
    ).encode()
    head = MAGIC + struct.pack("<Q", len(header)) + header
    return [head, bytes(-len(head) % _ALIGN), *payload]


def decode(data: bytes, stamp: Mapping[str, Any]) -> SearchIndex:
    """The index in ``data``, checked against ``stamp``; :class:`BadIndexFile` otherwise."""
    if data[: len(MAGIC)] != MAGIC:
        raise BadIndexFile("not a kpigraph search index file")
    (size,) = struct.unpack_from("<Q", data, len(MAGIC))
    end = len(MAGIC) + 8 + size
    if size > _MAX_HEADER or end > len(data):
        raise BadIndexFile("truncated header")
    header = json.loads(data[len(MAGIC) + 8 : end])
    if not isinstance(header, dict):
        raise BadIndexFile("bad header")
    for key, want in stamp.items():
        if header.get(key) != want:
            raise BadIndexFile(f"of another {key}")
    payload = memoryview(data)[end + (-end % _ALIGN) :]
    if len(payload) != header["payload"]:
        raise BadIndexFile(f"truncated: {len(payload)} of {header['payload']} bytes")
    if zlib.crc32(payload) != header["crc"]:
        raise BadIndexFile("damaged (checksum)")
    arrays: dict[str, NDArray[Any]] = {}
    for name, dtype, offset, count in header["arrays"]:
        if dtype not in _DTYPES or not isinstance(offset, int) or not isinstance(count, int):
            raise BadIndexFile(f"bad array {name!r}")
        width = np.dtype(dtype).itemsize
        if offset < 0 or count < 0 or offset % _ALIGN or offset + count * width > len(payload):
            raise BadIndexFile(f"array {name!r} outside the file")
        arrays[str(name)] = np.frombuffer(payload, dtype=dtype, count=count, offset=offset)
    kinds = {
        NodeKind(kind).value: _kind(str(kind), spec, arrays)
        for kind, spec in header["kinds"].items()
    }
    index = SearchIndex(kinds)
    index.source = "file"
    return index


def _kind(kind: str, spec: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> _KindSearch:
    """One kind's search data, checked so that no search can index outside an array."""
    n = spec["n"]

    def get(name: str, length: int | None = n) -> NDArray[Any]:
        values = arrays[f"{kind}.{name}"]
        if length is not None and len(values) != length:
            raise BadIndexFile(f"{kind}.{name}: {len(values)} values, not {length}")
        return values

    text = get("refs", None).tobytes().decode("utf-8", "surrogatepass")
    refs = text.split("\0") if n else []
    if len(refs) != n:
        raise BadIndexFile(f"{kind}: {len(refs)} refs, not {n}")
    order, by_order = get("order"), get("by_order")
    if n and not (
        order.dtype == by_order.dtype == np.int64
        and int(by_order.min()) >= 0
        and int(by_order.max()) < n
        and np.array_equal(order[by_order], np.arange(n))  # both are permutations
    ):
        raise BadIndexFile(f"{kind}: order is not a permutation")
    codes: dict[str, dict[Any, int]] = {}
    columns: dict[str, NDArray[np.int32]] = {}
    for column, values in spec["filters"].items():
        codes[str(column)] = {value: code for code, value in enumerate(values)}
        name = f"filter.{column}"
        if f"{kind}.{name}" in arrays:
            columns[str(column)] = get(name).astype(np.int32, copy=False)
    levels = array("b", get("levels").tobytes())
    return _KindSearch(
        refs,
        levels,
        order,
        by_order,
        _Filters(codes, columns),
        _blob(kind, "titles", n, spec, get, titles=True),
        _blob(kind, "bodies", n, spec, get, titles=False),
    )


def _blob(
    kind: str,
    part: str,
    n: int,
    spec: Mapping[str, Any],
    get: Callable[[str, int | None], NDArray[Any]],
    titles: bool,
) -> _Blob:
    codes, starts = get(f"{part}.codes", None), get(f"{part}.starts", n)
    if codes.dtype.str not in ("<u2", "<u4") or starts.dtype != np.int64:
        raise BadIndexFile(f"{kind}.{part}: bad types")
    if n and not (
        int(starts[0]) == 0
        and bool(np.all(starts[1:] > starts[:-1]))
        and int(starts[-1]) <= len(codes)
    ):
        raise BadIndexFile(f"{kind}.{part}: bad record offsets")
    # every title is framed by separators: an occurrence of a text (never a separator) has a
    # character before and after it (see _KindSearch.ranked)
    if titles and n and not (int(starts[-1]) < len(codes) and bool(np.all(codes[starts] == _SEP))):
        raise BadIndexFile(f"{kind}.{part}: a title not framed by separators")
    if titles and len(codes) and int(codes[-1]) != _SEP:
        raise BadIndexFile(f"{kind}.{part}: a title not framed by separators")
    freq_len = spec["freq_len"][part]
    at, counts = get(f"{part}.freq_at", None), get(f"{part}.freq", None)
    if not (isinstance(freq_len, int) and 1 << 16 <= freq_len <= _MAX_CODE + 1):
        raise BadIndexFile(f"{kind}.{part}: bad character counts")
    if len(at) != len(counts) or (len(at) and not 0 <= int(at.min()) <= int(at.max()) < freq_len):
        raise BadIndexFile(f"{kind}.{part}: bad character counts")
    freq = np.zeros(freq_len, dtype=np.int64)
    freq[at] = counts
    return _Blob(codes, starts, freq)
